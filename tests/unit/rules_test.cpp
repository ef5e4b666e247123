// Swarm's placement rules (reconcile/rules.h), one TEST per case of swarm's
// behaviour, with the words `plan --explain` answers in. The behaviour is
// moby/swarmkit's manager/scheduler/filter.go and manager/constraint.
#include "reconcile/rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace swarm_prepull::reconcile {
namespace {

using ::testing::ElementsAre;

Node make_node(Labels labels = {}) {
  Node node;
  node.id = "n3";
  node.hostname = "node-3";
  node.role = "worker";
  node.availability = "active";
  node.state = "ready";
  node.addr = "10.0.0.3";
  node.platform = {"x86_64", "linux"};
  node.labels = std::move(labels);
  return node;
}

TaskPlacement task(std::vector<std::string> constraints, std::vector<Platform> platforms = {}) {
  auto placement = task_placement(Placement{std::move(constraints), std::move(platforms)});
  EXPECT_TRUE(placement) << placement.error().message;
  return placement ? *placement : TaskPlacement{};
}

// The reason swarm would give, or "placed".
std::string verdict(const TaskPlacement& placement, const Node& node) {
  auto refusal = first_refusal(placement, node);
  EXPECT_EQ(placeable(placement, node), !refusal.has_value());
  return refusal ? *refusal : "placed";
}

// --- the pipeline ---------------------------------------------------------------

TEST(PlacementRules, AreSwarmsFiltersInPipelineOrder) {
  std::vector<std::string_view> names;
  for (const PlacementRule& rule : placement_rules()) names.push_back(rule.name);
  EXPECT_THAT(names, ElementsAre("node-ready", "node-availability", "constraints", "platform"));
}

TEST(PlacementRules, AReadyActiveNodeWithoutPlacementTakesAnyTask) {
  EXPECT_EQ(verdict(task({}), make_node()), "placed");
}

TEST(PlacementRules, TheFirstFailingRuleIsTheReason) {
  Node node = make_node({{"zone", "b"}});
  node.state = "down";
  node.availability = "drain";
  const TaskPlacement placement = task({"node.labels.zone==a"}, {{"arm64", "linux"}});
  EXPECT_EQ(verdict(placement, node), "node is not ready (down)");
  node.state = "ready";
  EXPECT_EQ(verdict(placement, node), "node is drained");
  node.availability = "active";
  EXPECT_EQ(verdict(placement, node), "constraint node.labels.zone==a (node has zone=b)");
  node.labels["zone"] = "a";
  EXPECT_EQ(verdict(placement, node), "platform linux/arm64 not supported by node (linux/x86_64)");
}

TEST(TaskPlacement, AnInvalidConstraintNamesTheExpression) {
  auto placement = task_placement(Placement{{"node.role==worker", "node.role=worker"}, {}});
  ASSERT_FALSE(placement);
  EXPECT_EQ(placement.error().message,
            "constraint 'node.role=worker': constraint expected one operator from ==, !=");
}

// --- ReadyFilter: the node's state ---------------------------------------------

TEST(NodeReady, ReadyNodeTakesTasks) { EXPECT_TRUE(node_ready(make_node())); }

TEST(NodeReady, DownNodeTakesNone) {
  Node node = make_node();
  node.state = "down";
  EXPECT_FALSE(node_ready(node));
  EXPECT_EQ(explain_node_ready(node), "node is not ready (down)");
}

TEST(NodeReady, DisconnectedNodeTakesNone) {
  Node node = make_node();
  node.state = "disconnected";
  EXPECT_EQ(verdict(task({}), node), "node is not ready (disconnected)");
}

TEST(NodeReady, UnknownStateTakesNone) {
  Node node = make_node();
  node.state = "";
  EXPECT_EQ(verdict(task({}), node), "node is not ready (unknown)");
}

// --- ReadyFilter: the node's availability ----------------------------------------

TEST(NodeActive, ActiveNodeTakesTasks) { EXPECT_TRUE(node_active(make_node())); }

TEST(NodeActive, DrainedNodeTakesNone) {
  Node node = make_node();
  node.availability = "drain";
  EXPECT_FALSE(node_active(node));
  EXPECT_EQ(explain_node_active(node), "node is drained");
}

TEST(NodeActive, PausedNodeTakesNoNewTask) {
  Node node = make_node();
  node.availability = "pause";
  EXPECT_EQ(verdict(task({}), node), "node is paused");
}

// --- ConstraintFilter -----------------------------------------------------------

TEST(Constraints, LabelEqualToTheValueHolds) {
  EXPECT_EQ(verdict(task({"node.labels.zone==a"}), make_node({{"zone", "a"}})), "placed");
}

TEST(Constraints, LabelWithAnotherValueFails) {
  EXPECT_EQ(verdict(task({"node.labels.zone==a"}), make_node({{"zone", "b"}})),
            "constraint node.labels.zone==a (node has zone=b)");
}

TEST(Constraints, MissingLabelFailsEqualAndHoldsNotEqual) {
  EXPECT_EQ(verdict(task({"node.labels.zone==a"}), make_node()),
            "constraint node.labels.zone==a (node has no label zone)");
  EXPECT_EQ(verdict(task({"node.labels.zone!=a"}), make_node()), "placed");
}

TEST(Constraints, NotEqualFailsOnTheSameValue) {
  EXPECT_EQ(verdict(task({"node.labels.zone!=a"}), make_node({{"zone", "A"}})),
            "constraint node.labels.zone!=a (node has zone=A)");
}

TEST(Constraints, ValuesCompareCaseInsensitively) {
  EXPECT_EQ(verdict(task({"node.labels.zone==EDGE"}), make_node({{"zone", "edge"}})), "placed");
}

TEST(Constraints, LabelNamesAreCaseSensitive) {
  EXPECT_EQ(verdict(task({"node.labels.Zone==a"}), make_node({{"zone", "a"}})),
            "constraint node.labels.Zone==a (node has no label Zone)");
}

TEST(Constraints, KeysAreCaseInsensitive) {
  EXPECT_EQ(verdict(task({"NODE.ROLE==worker"}), make_node()), "placed");
}

TEST(Constraints, SpacingAroundTheOperatorIsNotPartOfTheReason) {
  EXPECT_EQ(verdict(task({"node.labels.zone == a"}), make_node({{"zone", "b"}})),
            "constraint node.labels.zone==a (node has zone=b)");
}

TEST(Constraints, RoleHostnameAndIdNameTheNodesValue) {
  const Node node = make_node();
  EXPECT_EQ(verdict(task({"node.role==manager"}), node),
            "constraint node.role==manager (node has role worker)");
  EXPECT_EQ(verdict(task({"node.hostname!=node-3"}), node),
            "constraint node.hostname!=node-3 (node has hostname node-3)");
  EXPECT_EQ(verdict(task({"node.id==n4"}), node), "constraint node.id==n4 (node has id n3)");
}

TEST(Constraints, EngineLabelsAreTheDaemonsOwn) {
  Node node = make_node({{"disk", "ssd"}});
  EXPECT_EQ(verdict(task({"engine.labels.disk==ssd"}), node),
            "constraint engine.labels.disk==ssd (node has no engine label disk)");
  node.engine_labels["disk"] = "hdd";
  EXPECT_EQ(verdict(task({"engine.labels.disk==ssd"}), node),
            "constraint engine.labels.disk==ssd (node has engine label disk=hdd)");
}

TEST(Constraints, PlatformArchIsComparedRaw) {
  EXPECT_EQ(verdict(task({"node.platform.arch==amd64"}), make_node()),
            "constraint node.platform.arch==amd64 (node has arch x86_64)");
  EXPECT_EQ(verdict(task({"node.platform.os==linux"}), make_node()), "placed");
}

TEST(Constraints, NodeIpMatchesAnAddressOrANetwork) {
  EXPECT_EQ(verdict(task({"node.ip==10.0.0.0/24"}), make_node()), "placed");
  EXPECT_EQ(verdict(task({"node.ip==10.0.1.0/24"}), make_node()),
            "constraint node.ip==10.0.1.0/24 (node has address 10.0.0.3)");
}

TEST(Constraints, UnknownKeyMatchesNoNodeWhateverTheOperator) {
  EXPECT_EQ(verdict(task({"node.name!=x"}), make_node()),
            "constraint node.name!=x (key node.name is not one swarm knows; it matches no node)");
}

TEST(Constraints, TheFirstUnmetConstraintIsNamed) {
  const Node node = make_node({{"zone", "b"}});
  const TaskPlacement placement = task({"node.role==worker", "node.labels.zone==a", "node.id==x"});
  ASSERT_NE(first_unmet_constraint(placement.constraints, node), nullptr);
  EXPECT_EQ(first_unmet_constraint(placement.constraints, node)->value, "a");
  EXPECT_FALSE(node_satisfies_constraints(placement.constraints, node));
}

// --- PlatformFilter -------------------------------------------------------------

TEST(Platform, NoListedPlatformAdmitsEveryNode) {
  EXPECT_TRUE(node_supports_platform({}, make_node()));
}

TEST(Platform, KernelArchitectureNamesAreAliases) {
  EXPECT_EQ(verdict(task({}, {{"amd64", "linux"}}), make_node()), "placed");
  Node arm = make_node();
  arm.platform = {"aarch64", "linux"};
  EXPECT_EQ(verdict(task({}, {{"arm64", "linux"}}), arm), "placed");
}

TEST(Platform, AnEmptyFieldMatchesAny) {
  EXPECT_EQ(verdict(task({}, {{"", "linux"}}), make_node()), "placed");
  EXPECT_EQ(verdict(task({}, {{"amd64", ""}}), make_node()), "placed");
}

TEST(Platform, OtherArchitectureIsNotSupported) {
  EXPECT_EQ(verdict(task({}, {{"arm64", "linux"}}), make_node()),
            "platform linux/arm64 not supported by node (linux/x86_64)");
}

TEST(Platform, OneOfSeveralIsEnoughAndAllAreNamedWhenNoneMatches) {
  EXPECT_EQ(verdict(task({}, {{"arm64", "linux"}, {"x86_64", "linux"}}), make_node()), "placed");
  EXPECT_EQ(verdict(task({}, {{"arm64", "linux"}, {"amd64", "windows"}}), make_node()),
            "platforms linux/arm64, windows/amd64 not supported by node (linux/x86_64)");
}

TEST(Platform, OsOnlyAndArchitectureOnlyArePrintedAsSuch) {
  EXPECT_EQ(to_string(Platform{"", "windows"}), "windows");
  EXPECT_EQ(to_string(Platform{"arm64", ""}), "*/arm64");
}

}  // namespace
}  // namespace swarm_prepull::reconcile
