// The gate's decisions (api/gate.h) from the controller's answers, as
// `swarm-prepull wait` gets them: when it is ready, when it fails at once and
// with what message, what a timeout names. The answers are written as the
// controller sends them and go through the agent API's decoders.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "api/gate.h"
#include "cli/commands.h"

namespace swarm_prepull::api {
namespace {

using nlohmann::json;

// The answer to POST /v1/warm, decoded, as the gate tracks it.
Decoded<std::vector<Tracked>> tracked_from(const json& answer) {
  auto decoded = decode_warm_answer(answer.dump());
  if (!decoded) return decoded.error();
  return track(*decoded);
}

// GET /v1/images, decoded, then evaluated.
Progress evaluate_listing(const std::vector<Tracked>& tracked, const json& listing) {
  auto decoded = decode_images_listing(listing.dump());
  EXPECT_TRUE(decoded) << decoded.error().to_string() << "\n" << listing.dump();
  return decoded ? evaluate(tracked, *decoded) : Progress{};
}

const std::string digest = "sha256:" + std::string(64, 'b');
const std::string tag = "10.0.0.1:5000/app:2";
const std::string pinned = "10.0.0.1:5000/app@" + digest;

std::vector<Tracked> accepted(std::uint64_t nodes = 3) {
  auto tracked = tracked_from(
      json{{"id", "warm:1"},
           {"images",
            {{{"ref", tag}, {"warm", pinned}, {"resolved", true}, {"nodes_desired", nodes}}}}});
  EXPECT_TRUE(tracked) << tracked.error().to_string();
  return tracked ? *tracked : std::vector<Tracked>{};
}

json listing(std::uint64_t present, json nodes, json failures = json::array()) {
  return {{"generation", 5},
          {"images",
           {{{"ref", "docker.io/library/other:1"}, {"nodes_desired", 3}, {"nodes_present", 0}},
            {{"ref", pinned},
             {"nodes_desired", 3},
             {"nodes_present", present},
             {"nodes", std::move(nodes)},
             {"failures", std::move(failures)}}}}};
}

TEST(WaitProgress, PendingUntilEveryNodeHasIt) {
  const auto tracked = accepted();
  EXPECT_EQ(evaluate_answer(tracked).verdict, Verdict::pending);
  auto progress = evaluate_listing(
      tracked, listing(1, {{{"id", "i2"}, {"hostname", "node-2"}, {"state", "pulling"}},
                           {{"id", "i3"}, {"hostname", ""}, {"state", "unknown"}}}));
  EXPECT_EQ(progress.verdict, Verdict::pending);
  EXPECT_FALSE(progress.needs_repost);
  EXPECT_EQ(progress_line(progress.images[0]),
            tag + "  1/3 nodes  waiting: i3 unknown, node-2 pulling");
  EXPECT_EQ(timeout_message(progress, std::chrono::seconds(1)),
            "wait: timed out after 1s: " + tag +
                " 1/3 nodes, missing on i3 (unknown), node-2 (pulling)\n");

  progress = evaluate_listing(tracked, listing(3, json::array()));
  EXPECT_EQ(progress.verdict, Verdict::ready);
  EXPECT_EQ(progress_line(progress.images[0]), tag + "  3/3 nodes  ready");
}

TEST(WaitProgress, OnlyTheNodesTheRequestSelectedCount) {
  // A service wants the same image on node-1 too; the request said workers.
  auto tracked = tracked_from(json{
      {"images",
       {{{"ref", tag},
         {"warm", pinned},
         {"nodes_desired", 2},
         {"nodes",
          {{{"id", "i3"}, {"hostname", "node-3"}}, {{"id", "i2"}, {"hostname", "node-2"}}}}}}}});
  ASSERT_TRUE(tracked);
  const json failure = {{{"node", "i1"},
                         {"hostname", "node-1"},
                         {"reason", "not_found"},
                         {"message", "manifest unknown"},
                         {"stage", "pull"}}};
  auto progress = evaluate_listing(
      *tracked, listing(1,
                        {{{"id", "i1"}, {"hostname", "node-1"}, {"state", "failed"}},
                         {{"id", "i2"}, {"hostname", "node-2"}, {"state", "pulling"}}},
                        failure));
  EXPECT_EQ(progress.verdict, Verdict::pending);
  EXPECT_EQ(progress_line(progress.images[0]), tag + "  1/2 nodes  waiting: node-2 pulling");
  progress = evaluate_listing(
      *tracked, listing(2, {{{"id", "i1"}, {"hostname", "node-1"}, {"state", "failed"}}}, failure));
  EXPECT_EQ(progress.verdict, Verdict::ready);
  EXPECT_EQ(progress_line(progress.images[0]), tag + "  2/2 nodes  ready");
}

TEST(WaitProgress, AFinalPullFailureFailsAtOnceNamingNodesAndReason) {
  const json failures = {{{"node", "i3"},
                          {"hostname", "node-3"},
                          {"reason", "not_found"},
                          {"message", "manifest unknown"},
                          {"stage", "pull"}},
                         {{"node", "i2"},
                          {"hostname", "node-2"},
                          {"reason", "not_found"},
                          {"message", "manifest unknown"},
                          {"stage", "pull"}}};
  const auto progress = evaluate_listing(accepted(), listing(1, json::array(), failures));
  EXPECT_EQ(progress.verdict, Verdict::failed);
  EXPECT_EQ(failure_message(progress),
            "wait: " + tag + ": not_found: manifest unknown on node-2, node-3\n");
}

TEST(WaitProgress, ARetriedFailureKeepsWaitingAndShowsInTheTimeout) {
  const json failures = {{{"node", "i2"},
                          {"hostname", "node-2"},
                          {"reason", "network"},
                          {"message", "connection refused"},
                          {"stage", "pull"}}};
  const json nodes = {{{"id", "i2"}, {"hostname", "node-2"}, {"state", "failed"}}};
  const auto progress = evaluate_listing(accepted(), listing(2, nodes, failures));
  EXPECT_EQ(progress.verdict, Verdict::pending);
  // What it waits out, while it waits and when it gives up.
  EXPECT_EQ(progress_line(progress.images[0]),
            tag + "  2/3 nodes  waiting: node-2 failed: network");
  EXPECT_EQ(timeout_message(progress, std::chrono::minutes(10)),
            "wait: timed out after 10m: " + tag +
                " 2/3 nodes, missing on node-2 (failed: network: connection refused)\n");
}

TEST(WaitProgress, NamesWhyANodesAgentIsNotHeardFrom) {
  const json nodes = {{{"id", "i2"},
                       {"hostname", "node-2"},
                       {"state", "unknown"},
                       {"agent",
                        "its agent's requests are refused: 401 (missing or invalid bearer token) "
                        "from 10.0.1.5"}},
                      {{"id", "i3"}, {"hostname", "node-3"}, {"state", "pulling"}}};
  const auto progress = evaluate_listing(accepted(), listing(1, nodes));
  EXPECT_EQ(progress.verdict, Verdict::pending);
  EXPECT_EQ(progress_line(progress.images[0]),
            tag +
                "  1/3 nodes  waiting: node-2 unknown: its agent's requests are refused: 401 "
                "(missing or invalid bearer token) from 10.0.1.5, node-3 pulling");
  EXPECT_EQ(timeout_message(progress, std::chrono::seconds(30)),
            "wait: timed out after 30s: " + tag +
                " 1/3 nodes, missing on node-2 (unknown; its agent's requests are refused: 401 "
                "(missing or invalid bearer token) from 10.0.1.5), node-3 (pulling)\n");
}

TEST(WaitProgress, AResolutionFailureNamesTheNodesItWasMeantFor) {
  auto tracked = tracked_from(json::parse(R"({"images": [
      {"ref": "10.0.0.1:5000/app:nope",
       "failure": {"reason": "not_found", "message": "manifest unknown"},
       "nodes": [{"id": "i3", "hostname": "node-3"}, {"id": "i1", "hostname": ""}]}]})"));
  ASSERT_TRUE(tracked);
  const auto progress = evaluate_answer(*tracked);
  EXPECT_EQ(failure_message(progress),
            "wait: 10.0.0.1:5000/app:nope: not_found: manifest unknown at the registry "
            "(resolved by the manager); not pulled on i1, node-3\n");
  ASSERT_EQ(progress.images.size(), 1u);
  EXPECT_EQ(progress_line(progress.images[0]),
            "10.0.0.1:5000/app:nope  0/2 nodes  refused at the registry: not_found");
}

TEST(WaitProgress, AResolutionFailureFailsFromThePostAnswer) {
  auto tracked = tracked_from(json::parse(R"({"images": [
      {"ref": "10.0.0.1:5000/app:nope",
       "failure": {"reason": "not_found", "message": "manifest unknown"}}]})"));
  ASSERT_TRUE(tracked);
  const auto progress = evaluate_answer(*tracked);
  EXPECT_EQ(progress.verdict, Verdict::failed);
  EXPECT_EQ(failure_message(progress),
            "wait: 10.0.0.1:5000/app:nope: not_found: manifest unknown at the registry "
            "(resolved by the manager)\n");
}

TEST(WaitProgress, NoNodeMatchingFailsFromThePostAnswer) {
  const auto progress = evaluate_answer(accepted(0));
  EXPECT_EQ(progress.verdict, Verdict::failed);
  EXPECT_EQ(failure_message(progress),
            "wait: " + tag + ": no ready, active node matches the placement\n");
}

TEST(WaitProgress, AnImageTheControllerForgotIsPostedAgain) {
  const auto progress =
      evaluate_listing(accepted(), json{{"generation", 9}, {"images", json::array()}});
  EXPECT_EQ(progress.verdict, Verdict::pending);
  EXPECT_TRUE(progress.needs_repost);
  // Malformed listings never reach the gate: they are the client's bad_response.
  for (const auto& body : {json(nullptr), json::parse(R"({"images": 3})"),
                           json::parse(R"({"generation": 1, "images": [{"ref": 1}]})")}) {
    EXPECT_FALSE(decode_images_listing(body.dump())) << body.dump();
  }
}

TEST(WaitProgress, MalformedAnswersAreErrors) {
  EXPECT_FALSE(tracked_from(json::parse(R"({"id": "x"})")));
  EXPECT_FALSE(tracked_from(json::parse(R"({"images": [{"ref": "a"}]})")));
  EXPECT_FALSE(tracked_from(json::parse(R"({"images": [{"warm": "a"}]})")));
}

int run(const std::vector<std::string>& args, std::string* err = nullptr) {
  std::ostringstream out, error;
  const int status = cli::run_wait(args, cli::CommandIo{out, error, [](const std::string&) {
                                                          return std::optional<std::string>();
                                                        }});
  if (err != nullptr) *err = error.str();
  return status;
}

TEST(WaitCommand, BadCommandLinesExit2) {
  std::string err;
  EXPECT_EQ(run({}, &err), 2);
  EXPECT_NE(err.find("no image"), std::string::npos) << err;
  EXPECT_EQ(run({"Bad:1"}, &err), 2);
  EXPECT_NE(err.find("image 'Bad:1'"), std::string::npos) << err;
  EXPECT_EQ(run({"a:1", "--constraint", "node.role=worker"}, &err), 2);
  EXPECT_NE(err.find("--constraint 'node.role=worker'"), std::string::npos) << err;
  EXPECT_EQ(run({"a:1", "--timeout", "soon"}, &err), 2);
  EXPECT_EQ(run({"a:1", "--controller", "https://x"}, &err), 2);
}

TEST(WaitCommand, AnUnreachableControllerExits3) {
  std::string err;
  const auto started = std::chrono::steady_clock::now();
  // Port 1 on loopback: nothing listens there.
  EXPECT_EQ(run({"a:1", "--controller", "http://127.0.0.1:1", "--timeout", "500ms", "--interval",
                 "100ms"},
                &err),
            3);
  std::printf("[ figures  ] unreachable controller: exit 3 after %.1f ms\n",
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                  .count());
  EXPECT_NE(err.find("is unreachable"), std::string::npos) << err;
}

}  // namespace
}  // namespace swarm_prepull::api
