// The agent API as both sides run it: what AgentState reports goes through
// the controller's decoder and into its readiness listing; what the
// controller publishes goes through the agent's decoder; the reasons are the
// labels of the pull-failure metric.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "agent/state.h"
#include "api/messages.h"
#include "controller/state.h"
#include "metrics/metrics.h"
#include "tests/unit/controller_test_support.h"

namespace swarm_prepull::api {
namespace {

using nlohmann::json;

bool valid_utf8(const std::string& text) {
  try {
    (void)json(text).dump();
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

TEST(ApiBothSides, TheReasonsAreThePullFailureLabels) {
  ASSERT_EQ(all_failure_reasons.size(), metrics::pull_failure_reasons.size());
  for (std::size_t i = 0; i < all_failure_reasons.size(); ++i) {
    EXPECT_EQ(to_string(all_failure_reasons[i]), metrics::pull_failure_reasons[i]);
  }
}

class FixedRandom final : public agent::RandomSource {
 public:
  double uniform01() override { return 0.0; }
};

// What AgentState reports, for every state and every failure reason, is what
// the controller's decoder reads and what its readiness listing then shows.
TEST(ApiBothSides, TheAgentsReportIsWhatTheControllerDecodes) {
  // The controller publishes a set; the agent decodes it.
  controller::State state(
      {.max_parallel_node_pulls = 0, .wall_ms = [] { return std::uint64_t{100}; }});
  const std::string present = "10.0.0.1:5000/present:1", pulling = "10.0.0.1:5000/pulling:1",
                    waiting = "10.0.0.1:5000/waiting:1";
  std::vector<std::string> failing;
  for (const auto reason : all_failure_reasons) {
    failing.push_back("10.0.0.1:5000/failed:" + std::string(to_string(reason)));
  }
  std::vector<reconcile::Service> services;
  for (const auto& ref : std::vector<std::string>{present, pulling, waiting}) {
    services.push_back(testing::test_service("s" + std::to_string(services.size()), ref));
  }
  for (const auto& ref : failing) {
    services.push_back(testing::test_service("s" + std::to_string(services.size()), ref));
  }
  state.set_plan(reconcile::desired_images({testing::test_node("id1", "node-1")}, services));
  const auto* published = state.desired("id1");
  ASSERT_NE(published, nullptr);
  ASSERT_EQ(published->images.size(), services.size());
  auto set = decode_desired_set(encode(*published));
  ASSERT_TRUE(set) << set.error().to_string();
  EXPECT_EQ(*set, *published);

  FixedRandom random;
  agent::AgentState agent({.max_concurrent_pulls = 100}, random);
  for (auto& image : set->images) image.pull = image.ref != waiting;  // as a pull cap would
  agent.set_desired(*set);
  agent.observe_present({present});
  const auto now = agent::Clock::now();
  const auto started = agent.start_pulls(now, 1732451234.5);
  ASSERT_EQ(started.size(), services.size() - 2);
  for (std::size_t i = 0; i < all_failure_reasons.size(); ++i) {
    agent.finish_pull(failing[i],
                      agent::PullFailure{all_failure_reasons[i], "no: \xff bytes from the engine"},
                      {}, now);
  }

  const auto report = agent.status_report("0.1.0", "20.10.24");
  const std::string body = encode(report);
  EXPECT_TRUE(valid_utf8(body));
  auto decoded = decode_status_report(body);
  ASSERT_TRUE(decoded) << decoded.error().to_string() << "\n" << body;
  ASSERT_EQ(decoded->images.size(), services.size());
  std::set<ImageState> states;
  std::set<FailureReason> reasons;
  for (std::size_t i = 0; i < services.size(); ++i) {
    const auto& sent = report.images[i];
    const auto& got = decoded->images[i];
    EXPECT_EQ(got.ref, sent.ref);
    EXPECT_EQ(got.state, sent.state);
    EXPECT_EQ(got.reason, sent.reason);
    EXPECT_EQ(got.attempts, sent.attempts);
    EXPECT_EQ(got.since, sent.since);
    states.insert(got.state);
    if (got.state == ImageState::failed) reasons.insert(got.reason);
  }
  // held: the same set on an agent below --min-free-disk, which pulls none of it.
  {
    agent::AgentState low({}, random);
    low.set_desired(*set);
    low.observe_present({present});
    low.set_disk(agent::admit_pulls(agent::DiskSpace{.free_bytes = 1, .size_bytes = 100},
                                    agent::parse_min_free_disk("10%").value()),
                 "disk_low: 1B free of 100B");
    auto held = decode_status_report(encode(low.status_report("0.1.0", "20.10.24")));
    ASSERT_TRUE(held) << held.error().to_string();
    for (const auto& image : held->images) {
      if (image.state != ImageState::held) continue;
      states.insert(image.state);
      EXPECT_EQ(image.message, "disk_low: 1B free of 100B");
    }
    EXPECT_EQ(held->disk_free_bytes, 1u);
    EXPECT_EQ(held->disk_size_bytes, 100u);
  }
  EXPECT_EQ(states.size(), all_image_states.size());
  EXPECT_EQ(reasons.size(), all_failure_reasons.size());

  ASSERT_TRUE(state.report("id1", std::move(*decoded), controller::Clock::now()));
  // The readiness listing the controller serves, decoded as `wait` does.
  auto listing = decode_images_listing(encode(state.images()));
  ASSERT_TRUE(listing) << listing.error().to_string();
  std::set<FailureReason> listed;
  for (const auto& image : listing->images) {
    for (const auto& failure : image.failures) listed.insert(failure.reason);
  }
  EXPECT_EQ(listed.size(), all_failure_reasons.size());
}

// Tags that move, across the wire: the digest the controller publishes with
// a tag decides the agent's presence from a real image list, and the agent's
// report of it decides the controller's readiness.
TEST(ApiBothSides, AMovedTagIsMissingOnBothSidesUntilItsNewContentIsListed) {
  const std::string tag = "10.0.0.1:5000/web:1";
  const std::string old_digest = "sha256:" + std::string(64, 'a');
  const std::string new_digest = "sha256:" + std::string(64, 'b');
  controller::State state(
      {.max_parallel_node_pulls = 0, .wall_ms = [] { return std::uint64_t{100}; }});
  state.set_plan(reconcile::desired_images({testing::test_node("id1", "node-1")},
                                           {testing::test_service("web", tag)}));
  FixedRandom random;
  agent::AgentState agent({.max_concurrent_pulls = 1}, random);
  // One round: the controller's set to the agent, the engine's list to the
  // agent, the agent's report to the controller; the nodes present after it.
  const auto round = [&](const std::vector<reconcile::Image>& listed) {
    auto set = decode_desired_set(encode(*state.desired("id1")));
    EXPECT_TRUE(set) << set.error().to_string();
    agent.set_desired(*set);
    agent.observe_present(reconcile::present_refs(listed));
    auto report = decode_status_report(encode(agent.status_report("v", "e")));
    EXPECT_TRUE(report) << report.error().to_string();
    state.report("id1", std::move(*report), controller::Clock::now());
    return state.readiness().pairs_present;
  };
  const std::vector<reconcile::Image> holds_old = {
      {.id = "sha256:1", .repo_tags = {tag}, .repo_digests = {"10.0.0.1:5000/web@" + old_digest}}};
  state.set_tag_digests({{tag, old_digest}});
  EXPECT_EQ(round(holds_old), 1u);
  state.set_tag_digests({{tag, new_digest}});
  EXPECT_EQ(round(holds_old), 0u);
  EXPECT_EQ(agent.start_pulls(agent::Clock::now(), 0), std::vector<std::string>{tag});
  agent.abandon_pulls();
  const std::vector<reconcile::Image> holds_new = {
      {.id = "sha256:1", .repo_digests = {"10.0.0.1:5000/web@" + old_digest}},
      {.id = "sha256:2", .repo_tags = {tag}, .repo_digests = {"10.0.0.1:5000/web@" + new_digest}}};
  EXPECT_EQ(round(holds_new), 1u);
}

TEST(ApiBothSides, AWaitingImageIsReportedAndDecoded) {
  FixedRandom random;
  agent::AgentState agent({.max_concurrent_pulls = 1}, random);
  agent.set_desired({.generation = 3, .images = {{"a:1", false}}});  // held by the pull cap
  agent.observe_present({});
  const auto decoded = decode_status_report(encode(agent.status_report("v", "e")));
  ASSERT_TRUE(decoded);
  ASSERT_EQ(decoded->images.size(), 1u);
  EXPECT_EQ(decoded->images[0].state, ImageState::waiting);
  EXPECT_EQ(decoded->generation, 3u);
}

}  // namespace
}  // namespace swarm_prepull::api
