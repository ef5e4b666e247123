// controller::NodeHolds: which nodes joined since the first pass, and the
// hold steps their agents' reports call for (--hold-new-nodes).
#include <gtest/gtest.h>

#include "controller/node_holds.h"
#include "tests/unit/controller_test_support.h"

namespace swarm_prepull::controller {
namespace {

using reconcile::HoldStep;
using swarm_prepull::testing::test_node;
using swarm_prepull::testing::test_service;

constexpr std::int64_t start = 1'000'000;
const std::string web = "registry.test/web:1";
const std::string old_web = "registry.test/web:0";

class NodeHoldsTest : public ::testing::Test {
 protected:
  NodeHoldsTest() : holds_(std::chrono::seconds(600)), state_(StateOptions{}) {
    nodes_ = {test_node("n1", "node-1"), test_node("n2", "node-2")};
    holds_.observe(nodes_, start);
  }

  // A pass after the node joined: the plan gives it web:1 now, web:0 as the
  // rollback target.
  void join(reconcile::Node node, std::int64_t now) {
    nodes_.push_back(std::move(node));
    holds_.observe(nodes_, now);
    auto service = test_service("web", web);
    service.previous_spec = service.spec;
    service.previous_spec->image = old_web;
    state_.set_plan(reconcile::desired_images(nodes_, {service}));
  }

  void report(const std::string& node, std::vector<std::string> present) {
    NodeReport report;
    report.generation = state_.desired(node)->generation;
    for (auto& ref : present) report.images.push_back({.ref = ref, .state = ImageState::present});
    ASSERT_TRUE(state_.report(node, std::move(report), std::chrono::steady_clock::now()));
  }

  std::map<std::string, HoldStep> steps(std::int64_t now) {
    std::map<std::string, HoldStep> result;
    for (const auto& step : holds_.steps(nodes_, state_, now)) result[step.node_id] = step.step;
    return result;
  }

  NodeHolds holds_;
  State state_;
  std::vector<reconcile::Node> nodes_;
};

TEST_F(NodeHoldsTest, OnlyANodeThatJoinedAfterTheFirstPassIsPausedOnceItsAgentReports) {
  join(test_node("n3", "node-3"), start + 5);
  EXPECT_TRUE(steps(start + 6).empty()) << "no report from node-3's agent yet";
  report("n1", {});
  report("n3", {});
  EXPECT_EQ(steps(start + 6), (std::map<std::string, HoldStep>{{"n3", HoldStep::pause}}));
}

TEST_F(NodeHoldsTest, AHeldNodeIsWarmWithItsCurrentImagesWithoutTheRollbackTarget) {
  join(test_node("n3", "node-3"), start + 5);
  report("n3", {});
  const auto pause = holds_.steps(nodes_, state_, start + 6);
  ASSERT_EQ(pause.size(), 1u);
  EXPECT_EQ(pause[0].joined_at, start + 5);
  holds_.done(pause[0]);
  // What the engine then says of node-3.
  nodes_[2].availability = "pause";
  nodes_[2].labels[std::string(reconcile::kHoldLabel)] = std::to_string(start + 5);
  EXPECT_TRUE(steps(start + 7).empty());
  report("n3", {web});
  const auto release = holds_.steps(nodes_, state_, start + 8);
  ASSERT_EQ(release.size(), 1u);
  EXPECT_EQ(release[0].step, HoldStep::release_warm);
  EXPECT_EQ(release[0].joined_at, start + 5);
  EXPECT_TRUE(release[0].warm);
  holds_.done(release[0]);
  nodes_[2].availability = "active";
  nodes_[2].labels.clear();
  EXPECT_TRUE(steps(start + 9).empty());
  EXPECT_FALSE(holds_.watching());
}

TEST_F(NodeHoldsTest, ARestartedControllerTakesTheHoldsUpFromTheLabels) {
  auto held = test_node("n3", "node-3");
  held.availability = "pause";
  held.labels[std::string(reconcile::kHoldLabel)] = std::to_string(start - 590);
  nodes_.push_back(held);
  NodeHolds restarted(std::chrono::seconds(600));
  restarted.observe(nodes_, start);  // its first pass: node-3 is there already
  state_.set_plan(reconcile::desired_images(nodes_, {test_service("web", web)}));
  EXPECT_TRUE(restarted.steps(nodes_, state_, start).empty());
  const auto steps = restarted.steps(nodes_, state_, start + 10);
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].step, HoldStep::release_timeout);
}

TEST_F(NodeHoldsTest, ANodeThatLeavesIsForgotten) {
  join(test_node("n3", "node-3"), start + 5);
  EXPECT_TRUE(holds_.watching());
  nodes_.pop_back();
  holds_.observe(nodes_, start + 6);
  EXPECT_FALSE(holds_.watching());
}

}  // namespace
}  // namespace swarm_prepull::controller
