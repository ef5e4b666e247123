// reconcile::hold_step: when a node that joined is paused, released, or let
// be (--hold-new-nodes), and a held node planned as if active.
#include "reconcile/node_hold.h"

#include <gtest/gtest.h>

#include "reconcile/plan.h"
#include "tests/unit/swarm_builders.h"

namespace swarm_prepull::reconcile {
namespace {

using swarm_prepull::testing::make_node;
using swarm_prepull::testing::make_service;

constexpr std::int64_t joined_at = 1'000'000;
constexpr std::int64_t hold = 600;

HoldFacts joined_facts(std::int64_t now) {
  return {.joined = true,
          .joined_at = joined_at,
          .agent_reported = true,
          .warm = false,
          .now = now,
          .hold_seconds = hold};
}

Node held_node(std::string label = std::to_string(joined_at)) {
  Node node = make_node("n4", "node-4", {{std::string(kHoldLabel), std::move(label)}});
  node.availability = "pause";
  return node;
}

TEST(HoldStepTest, AJoinedNodeIsPausedOnceItsAgentReportsAndNotBefore) {
  const Node node = make_node("n4", "node-4");
  auto facts = joined_facts(joined_at + 1);
  facts.agent_reported = false;
  // Paused now, it would never get the agent's own (global) task.
  EXPECT_EQ(hold_step(node, facts), HoldStep::none);
  facts.agent_reported = true;
  EXPECT_EQ(hold_step(node, facts), HoldStep::pause);
}

TEST(HoldStepTest, ANodeThatWasThereOrArrivesWarmOrWasSetByAnOperatorIsNeverPaused) {
  Node node = make_node("n1", "node-1");
  auto facts = joined_facts(joined_at + 1);
  facts.joined = false;
  EXPECT_EQ(hold_step(node, facts), HoldStep::none);
  facts.joined = true;
  facts.warm = true;
  EXPECT_EQ(hold_step(node, facts), HoldStep::stop_watching);
  facts.warm = false;
  for (const char* availability : {"pause", "drain"}) {
    node.availability = availability;
    EXPECT_EQ(hold_step(node, facts), HoldStep::stop_watching) << availability;
  }
  node.availability = "active";
  EXPECT_EQ(hold_step(node, joined_facts(joined_at + hold)), HoldStep::stop_watching)
      << "a hold would already have run out";
}

TEST(HoldStepTest, AHeldNodeIsReleasedWhenWarmOrWhenTheHoldRunsOut) {
  const Node node = held_node();
  auto facts = joined_facts(joined_at + hold - 1);
  facts.joined = false;  // a restarted controller knows it from its label alone
  EXPECT_EQ(hold_step(node, facts), HoldStep::none);
  facts.warm = true;
  EXPECT_EQ(hold_step(node, facts), HoldStep::release_warm);
  facts.warm = false;
  facts.now = joined_at + hold;
  EXPECT_EQ(hold_step(node, facts), HoldStep::release_timeout);
  // The hold runs from the label's join time, not from what this controller saw.
  facts.joined_at = joined_at + hold;
  EXPECT_EQ(hold_step(node, facts), HoldStep::release_timeout);
}

TEST(HoldStepTest, AnOperatorsAvailabilityOnAHeldNodeWinsAndOnlyTheLabelGoes) {
  for (const char* availability : {"active", "drain"}) {
    Node node = held_node();
    node.availability = availability;
    EXPECT_EQ(hold_step(node, joined_facts(joined_at + 1)), HoldStep::forget) << availability;
    EXPECT_FALSE(held_until_warm(node));
  }
}

TEST(HoldStepTest, ALabelThatSaysNoTimeReleasesTheNode) {
  for (const char* label : {"", "soon", "12x", "-5"}) {
    const Node node = held_node(label);
    EXPECT_EQ(hold_joined_at(node), std::nullopt) << label;
    EXPECT_EQ(hold_step(node, joined_facts(joined_at + 1)), HoldStep::release_timeout) << label;
  }
  EXPECT_EQ(hold_joined_at(held_node()), joined_at);
}

TEST(HoldStepTest, AHeldNodeIsPlannedAsActiveAndAnOperatorsPauseIsNot) {
  Node paused = make_node("n3", "node-3");
  paused.availability = "pause";
  const std::vector<Node> nodes = {make_node("n1", "node-1"), paused, held_node()};
  const auto plan = desired_images(nodes, {make_service("web", "registry.test/web:1")});
  std::map<std::string, std::size_t> images;
  for (const auto& node : plan.nodes) images[node.node_id] = node.images.size();
  EXPECT_EQ(images["n1"], 1u);
  EXPECT_EQ(images["n3"], 0u) << "an operator's pause";
  EXPECT_EQ(images["n4"], 1u) << "held until warm: given what it waits for";
}

}  // namespace
}  // namespace swarm_prepull::reconcile
