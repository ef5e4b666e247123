// The gate's loop (api::run_gate) against a scripted controller on loopback:
// each test scripts the answers to POST /v1/warm and GET /v1/images and looks
// at the outcome, the requests made and the lines shown. The gate runs on the
// test's io_context with the fake server, to its end; timeouts are the gate's
// own deadlines, never a sleep of the test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <nlohmann/json.hpp>

#include "api/gate.h"
#include "http/server.h"

namespace swarm_prepull::api {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::HasSubstr;

const std::string tag = "10.0.0.1:5000/app:2";
const std::string pinned = "10.0.0.1:5000/app@sha256:" + std::string(64, 'b');

struct Scripted {
  http::status status;
  std::string body;
};

const Scripted accepted{
    http::status::accepted,
    json{{"id", "warm:1"},
         {"expires_in", 3600},
         {"images",
          {{{"ref", tag},
            {"warm", pinned},
            {"resolved", true},
            {"nodes_desired", 2},
            {"nodes",
             {{{"id", "i1"}, {"hostname", "node-1"}}, {{"id", "i2"}, {"hostname", "node-2"}}}}}}}}
        .dump()};

Scripted listing(std::uint64_t present, json nodes = json::array(), json failures = json::array()) {
  return {http::status::ok, json{{"generation", 5},
                                 {"images",
                                  {{{"ref", pinned},
                                    {"nodes_desired", 2},
                                    {"nodes_present", present},
                                    {"nodes", std::move(nodes)},
                                    {"failures", std::move(failures)}}}}}
                                .dump()};
}

const Scripted forgotten{http::status::ok, R"({"generation": 9, "images": []})"};
const Scripted not_ready{http::status::service_unavailable,
                         R"({"error": "no reconcile has completed yet"})"};
const json pulling_on_2 = {{{"id", "i2"}, {"hostname", "node-2"}, {"state", "pulling"}}};

// A controller that answers from scripts: the n-th request to a route gets
// the n-th answer, the last one repeating.
class GateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http::Router router;
    router.add(http::verb::post, "/v1/warm",
               [this](const http::RequestContext& context) -> net::awaitable<http::Response> {
                 posted_.push_back(context.request.body());
                 co_return answer(warm_, posted_.size(), context.request);
               });
    router.add(http::verb::get, "/v1/images",
               [this](const http::RequestContext& context) -> net::awaitable<http::Response> {
                 asked_refs_.push_back(context.query_value("refs").value_or("(all)"));
                 co_return answer(images_, ++listed_, context.request);
               });
    http::ServerOptions options;
    options.bearer_token = "t0ken";
    server_ = std::make_unique<http::Server>(
        context_.get_executor(), std::move(router), options,
        std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>()));
    port_ = server_->listen({net::ip::make_address("127.0.0.1"), 0}).port();
  }

  static http::Response answer(const std::vector<Scripted>& script, std::size_t n,
                               const http::Request& request) {
    const auto& scripted = script.at(std::min(n, script.size()) - 1);
    return http::make_response(request, scripted.status, scripted.body, "application/json");
  }

  GateOptions options(std::chrono::milliseconds timeout = 10s) {
    return {
        .request = {.images = {tag}}, .timeout = timeout, .interval = 20ms, .first_interval = 5ms};
  }

  // Runs the gate to its end, then stops the server.
  GateResult run(GateOptions options, std::string token = "t0ken",
                 std::optional<unsigned short> port = std::nullopt) {
    auto url = parse_controller_url("http://127.0.0.1:" + std::to_string(port.value_or(port_)));
    EXPECT_TRUE(url);
    ControllerClient client({.url = *url, .token = std::move(token)});
    std::optional<GateResult> result;
    net::co_spawn(
        context_,
        [&]() -> net::awaitable<void> {
          result = co_await run_gate(client, options, [&](const Progress& progress) {
            for (auto& line : progress_lines(progress)) lines_.push_back(std::move(line));
          });
          co_await server_->stop();
        },
        net::detached);
    context_.run();
    EXPECT_TRUE(result);
    return result ? *result : GateResult{};
  }

  net::io_context context_;
  std::unique_ptr<http::Server> server_;
  unsigned short port_ = 0;
  std::vector<Scripted> warm_ = {accepted};
  std::vector<Scripted> images_;
  std::vector<std::string> posted_;
  std::size_t listed_ = 0;
  std::vector<std::string> asked_refs_;  // each GET /v1/images's ?refs=
  std::vector<std::string> lines_;
};

TEST_F(GateTest, ReadyOnceEveryNodeHasIt) {
  images_ = {listing(1, pulling_on_2), listing(2)};
  const auto result = run(options());
  EXPECT_EQ(result.outcome, GateOutcome::ready);
  ASSERT_EQ(posted_.size(), 1u);
  // What the gate posts is a warm request the controller's decoder takes.
  const auto request = decode_warm_request(posted_[0]);
  ASSERT_TRUE(request) << request.error().to_string();
  EXPECT_EQ(request->images, std::vector<std::string>{tag});
  // It follows the image the nodes get, not the cluster's every image.
  EXPECT_THAT(asked_refs_, ::testing::Each(pinned));
  EXPECT_THAT(lines_, ::testing::ElementsAre(tag + "  1/2 nodes  waiting: node-2 pulling",
                                             tag + "  2/2 nodes  ready"));
  EXPECT_THAT(outcome_message(result, options(), "http://c"),
              ::testing::StartsWith("wait: ready: 1 image(s) present on every node, after "));
}

// A proxy in front of the controller that refuses the filtered request (its
// limit on the request line, say): the gate asks for every image from then on.
TEST_F(GateTest, AFilterRefusedOnTheWayFallsBackToEveryImage) {
  images_ = {{http::status::uri_too_long, "<html>414 Request-URI Too Large</html>"}, listing(2)};
  const auto result = run(options());
  EXPECT_EQ(result.outcome, GateOutcome::ready) << outcome_message(result, options(), "http://c");
  EXPECT_THAT(asked_refs_, ::testing::ElementsAre(pinned, "(all)"));
}

TEST_F(GateTest, PostsAgainWhenTheControllerForgotOrRestarted) {
  // The request vanished (the controller restarted, or its ttl ran out), then
  // the controller is not ready yet: each time the gate posts again.
  images_ = {forgotten, not_ready, listing(2)};
  const auto result = run(options());
  EXPECT_EQ(result.outcome, GateOutcome::ready);
  EXPECT_EQ(posted_.size(), 3u);
  EXPECT_EQ(listed_, 3u);
}

TEST_F(GateTest, AFinalPullFailureFailsAtOnce) {
  images_ = {listing(1, {{{"id", "i2"}, {"hostname", "node-2"}, {"state", "failed"}}},
                     {{{"node", "i2"},
                       {"hostname", "node-2"},
                       {"reason", "not_found"},
                       {"message", "manifest unknown"},
                       {"stage", "pull"}}})};
  const auto result = run(options());
  EXPECT_EQ(result.outcome, GateOutcome::failed);
  EXPECT_EQ(outcome_message(result, options(), "http://c"),
            "wait: " + tag + ": not_found: manifest unknown on node-2\n");
}

// Nothing is pulled on a node held for disk until someone frees space: the
// gate says so at once instead of at its timeout.
TEST_F(GateTest, ANodeHeldForDiskFailsAtOnceNamingIt) {
  images_ = {listing(1, {{{"id", "i2"},
                          {"hostname", "node-2"},
                          {"state", "held"},
                          {"message", "disk_low: 12.5MiB free of 289MiB on /var/lib/docker"}}})};
  const auto result = run(options());
  EXPECT_EQ(result.outcome, GateOutcome::failed);
  EXPECT_EQ(listed_, 1u);
  EXPECT_EQ(outcome_message(result, options(), "http://c"),
            "wait: " + tag +
                ": held: disk_low on node-2 (12.5MiB free of 289MiB on /var/lib/docker): below its "
                "agent's --min-free-disk, not pulled until "
                "space is freed\n");
  EXPECT_THAT(lines_.back(), HasSubstr("node-2 held: disk_low"));
}

TEST_F(GateTest, ARefusedTokenIsSaidInTheControllersWords) {
  images_ = {listing(2)};
  const auto result = run(options(), "wrong");
  EXPECT_EQ(result.outcome, GateOutcome::token_refused);
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->code, api_errc::unauthorized);
  EXPECT_EQ(result.error->status, 401u);
  // The controller's message, decoded once by the client: not its JSON text.
  EXPECT_FALSE(result.error->message.empty());
  EXPECT_EQ(result.error->message.find('{'), std::string::npos) << result.error->message;
  EXPECT_THAT(outcome_message(result, options(), "http://c"),
              HasSubstr("the controller at http://c refused the token (HTTP 401): " +
                        result.error->message));
  EXPECT_EQ(listed_, 0u);
}

TEST_F(GateTest, ARefusedRequestEndsTheGate) {
  warm_ = {
      {http::status::bad_request,
       R"({"error": "constraints[0]: 'node.role=worker': constraint expected one operator"})"}};
  const auto result = run(options());
  EXPECT_EQ(result.outcome, GateOutcome::request_refused);
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->code, api_errc::rejected);
  EXPECT_EQ(result.error->message,
            "constraints[0]: 'node.role=worker': constraint expected one operator");
}

TEST_F(GateTest, AMalformedAnswerIsNotTheAgentApi) {
  warm_ = {{http::status::accepted, R"({"images": [{"ref": "a"}]})"}};
  const auto result = run(options());
  EXPECT_EQ(result.outcome, GateOutcome::bad_answer);
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->code, api_errc::bad_response);
  EXPECT_THAT(result.error->message, HasSubstr("images[0].warm"));
}

TEST_F(GateTest, AMalformedListingIsNeverReady) {
  images_ = {{http::status::ok, R"({"generation": 1, "images": [{"ref": 1}]})"}};
  const auto result = run(options(300ms));
  EXPECT_EQ(result.outcome, GateOutcome::timed_out);
  EXPECT_GE(listed_, 1u);
}

TEST_F(GateTest, ATimeoutNamesWhatIsMissingWhere) {
  images_ = {listing(1, pulling_on_2)};
  const auto result = run(options(300ms));
  EXPECT_EQ(result.outcome, GateOutcome::timed_out);
  EXPECT_EQ(outcome_message(result, options(300ms), "http://c"),
            "wait: timed out after 300ms: " + tag + " 1/2 nodes, missing on node-2 (pulling)\n");
}

TEST_F(GateTest, AControllerThatNeverAnswersIsUnreachable) {
  // Port 1 on loopback: nothing listens there.
  const auto result = run(options(300ms), "t0ken", 1);
  EXPECT_EQ(result.outcome, GateOutcome::unreachable);
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->code, api_errc::unreachable);
  EXPECT_THAT(outcome_message(result, options(300ms), "http://c"),
              HasSubstr("the controller at http://c is unreachable: "));
  EXPECT_TRUE(posted_.empty());
}

}  // namespace
}  // namespace swarm_prepull::api
