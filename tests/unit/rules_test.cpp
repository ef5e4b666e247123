// Swarm's placement rules (reconcile/rules.h), one TEST per case of swarm's
// behaviour, with the words `plan --explain` answers in. The behaviour is
// moby/swarmkit's manager/scheduler/filter.go and manager/constraint.
#include "reconcile/rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/swarm_builders.h"

namespace swarm_prepull::reconcile {
namespace {

using testing::discrete_resource;
using ::testing::ElementsAre;
using testing::named_resource;
using testing::named_resources;
using testing::nano_cpus_per_cpu;

Node make_node(Labels labels = {}) {
  Node node = testing::make_node("n3", "node-3", std::move(labels));
  node.addr = "10.0.0.3";
  return node;
}

TaskPlacement task(std::vector<std::string> constraints, std::vector<Platform> platforms = {}) {
  auto placement = task_placement(Placement{std::move(constraints), std::move(platforms)});
  EXPECT_TRUE(placement) << placement.error().message;
  return placement ? *placement : TaskPlacement{};
}

// A task with no placement that needs `needs` of a node.
TaskPlacement needing(TaskNeeds needs) {
  TaskPlacement placement;
  placement.needs = std::move(needs);
  return placement;
}

TaskPlacement reserving(Resources reservations) {
  TaskNeeds needs;
  needs.reservations = std::move(reservations);
  return needing(std::move(needs));
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
  EXPECT_THAT(names, ElementsAre("node-ready", "node-availability", "resources", "plugins",
                                 "constraints", "platform"));
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

// --- ResourceFilter, against the node's totals -------------------------------------
// The nodes and the task of swarmkit's TestSchedulerResourceConstraint
// (manager/scheduler/scheduler_test.go): the task reserves 2e9 bytes, two
// oranges and two apples.

Resources swarmkit_reservations() {
  return {0, 2'000'000'000, {discrete_resource("orange", 2), discrete_resource("apple", 2)}};
}

Node node_with(Resources resources) {
  Node node = make_node();
  node.resources = std::move(resources);
  return node;
}

TEST(Resources, UnderprovisionedNodeLacksMemory) {
  Resources totals{nano_cpus_per_cpu, 1'000'000'000, named_resources("orange", {"blue"})};
  totals.generic.push_back(discrete_resource("apple", 1));
  const Node node = node_with(totals);
  EXPECT_FALSE(node_has_resources(swarmkit_reservations(), node));
  EXPECT_EQ(verdict(reserving(swarmkit_reservations()), node),
            "node has 953.67 MiB memory, the service reserves 1.86 GiB");
}

TEST(Resources, BigNodeCoversEveryReservation) {
  Resources totals{4 * nano_cpus_per_cpu, 8'000'000'000,
                   named_resources("orange", {"blue", "red", "green"})};
  totals.generic.push_back(discrete_resource("apple", 4));
  EXPECT_EQ(verdict(reserving(swarmkit_reservations()), node_with(totals)), "placed");
}

TEST(Resources, NamedResourcesCountOneUnitEach) {
  Resources totals{0, 8'000'000'000, named_resources("orange", {"blue"})};
  totals.generic.push_back(discrete_resource("apple", 4));
  EXPECT_EQ(verdict(reserving(swarmkit_reservations()), node_with(totals)),
            "node has 1 of generic resource orange, the service reserves 2");
}

TEST(Resources, DiscreteResourcesCountTheirAmount) {
  Resources totals{0, 8'000'000'000, named_resources("orange", {"blue", "red"})};
  totals.generic.push_back(discrete_resource("apple", 1));
  EXPECT_EQ(verdict(reserving(swarmkit_reservations()), node_with(totals)),
            "node has 1 of generic resource apple, the service reserves 2");
}

TEST(Resources, AKindTheNodeLacksFitsNowhere) {
  EXPECT_EQ(verdict(reserving({0, 0, {discrete_resource("gpu", 1)}}), make_node()),
            "node has no generic resource gpu (the service reserves 1)");
}

TEST(Resources, CpusAreComparedInNanoCpus) {
  const Node node = node_with({nano_cpus_per_cpu, 0, {}});
  EXPECT_EQ(verdict(reserving({2 * nano_cpus_per_cpu, 0, {}}), node),
            "node has 1 CPU(s), the service reserves 2");
  EXPECT_EQ(verdict(reserving({nano_cpus_per_cpu / 2, 0, {}}), node), "placed");
  EXPECT_EQ(verdict(reserving({nano_cpus_per_cpu + 1, 0, {}}), node),
            "node has 1 CPU(s), the service reserves 1.000000001");
}

TEST(Resources, MemoryIsNamedInBinaryUnits) {
  EXPECT_EQ(verdict(reserving({0, 1 << 30, {}}), node_with({0, 512 << 20, {}})),
            "node has 512 MiB memory, the service reserves 1 GiB");
  // Values that round alike are given exactly.
  EXPECT_EQ(verdict(reserving({0, (1 << 30) + 1, {}}), node_with({0, 1 << 30, {}})),
            "node has 1073741824 bytes of memory, the service reserves 1073741825 bytes");
}

TEST(Resources, ATaskReservingNothingFitsANodeReportingNothing) {
  EXPECT_EQ(verdict(reserving({}), make_node()), "placed");
}

TEST(Resources, ReservationsEqualToTheTotalsFit) {
  const Resources exact{nano_cpus_per_cpu, 1 << 30, {discrete_resource("ssd", 2)}};
  EXPECT_EQ(verdict(reserving(exact), node_with(exact)), "placed");
}

TEST(Resources, TheFirstEntryOfAKindDecidesHowItCounts) {
  // genericresource.HasEnough: a discrete first entry is the amount...
  Resources discrete_first{0, 0, {discrete_resource("gpu", 1), named_resource("gpu", "a")}};
  EXPECT_EQ(verdict(reserving({0, 0, {discrete_resource("gpu", 2)}}), node_with(discrete_first)),
            "node has 1 of generic resource gpu, the service reserves 2");
  // ... a named one makes every entry of the kind one unit.
  Resources named_first{0, 0, {named_resource("gpu", "a"), discrete_resource("gpu", 5)}};
  EXPECT_EQ(verdict(reserving({0, 0, {discrete_resource("gpu", 2)}}), node_with(named_first)),
            "placed");
}

TEST(Resources, ANamedReservationFitsNowhere) {
  // swarm's API refuses it ("invalid argument for resource"); HasEnough
  // fails it on every node.
  const Node node = node_with({0, 0, named_resources("gpu", {"GPU-1"})});
  EXPECT_EQ(verdict(reserving({0, 0, {named_resource("gpu", "GPU-1")}}), node),
            "the service reserves named resource gpu=GPU-1, which swarm cannot place (a "
            "reservation is a count)");
}

// --- PluginFilter ---------------------------------------------------------------
// The nodes and tasks of swarmkit's TestSchedulerPluginConstraint.

Node node_with_plugins(std::vector<PluginDescription> plugins) {
  Node node = make_node();
  node.plugins = std::move(plugins);
  return node;
}

const Node plugin_node1 = node_with_plugins({{"Volume", "plugin1"}, {"Log", "default"}});
const Node plugin_node2 =
    node_with_plugins({{"Volume", "plugin1"}, {"Volume", "plugin2"}, {"Log", "default"}});
const Node plugin_node4 = node_with_plugins({{"Log", "plugin1"}});

TEST(Plugins, ATaskWithoutVolumePluginsFitsAnyNode) {
  // t0: a bind mount, which decodes to no volume driver.
  EXPECT_EQ(verdict(needing({}), plugin_node1), "placed");
}

TEST(Plugins, AVolumePluginTheNodeListsFits) {
  EXPECT_EQ(verdict(needing({{}, {"plugin1"}, {}}), plugin_node1), "placed");
}

TEST(Plugins, EveryVolumePluginMustBeListed) {
  const TaskPlacement task2 = needing({{}, {"plugin1", "plugin2"}, {}});
  EXPECT_FALSE(node_has_plugins(task2.needs, plugin_node1));
  EXPECT_EQ(verdict(task2, plugin_node1), "node has no volume plugin plugin2");
  EXPECT_EQ(verdict(task2, plugin_node2), "placed");
}

TEST(Plugins, ANodeListingNoVolumePluginLacksThem) {
  EXPECT_EQ(verdict(needing({{}, {"plugin1"}, {}}), plugin_node4),
            "node has no volume plugin plugin1");
}

TEST(Plugins, ALogDriverMustBeListedAmongTheNodesLogPlugins) {
  const TaskPlacement task4 = needing({{}, {}, "plugin1"});
  EXPECT_EQ(verdict(task4, plugin_node1), "node has no log plugin plugin1");
  EXPECT_EQ(verdict(task4, plugin_node2), "node has no log plugin plugin1");
  EXPECT_EQ(verdict(task4, plugin_node4), "placed");
}

TEST(Plugins, LogDriverNoneOrUnnamedNeedsNoPlugin) {
  // t6 ("none") and t7 (options only) are placed on any node.
  EXPECT_EQ(verdict(needing({{}, {}, "none"}), plugin_node1), "placed");
  EXPECT_EQ(verdict(needing({{}, {}, ""}), plugin_node1), "placed");
}

TEST(Plugins, ANodeListingNoLogPluginIsNotFilteredOnIt) {
  // An older engine that did not report log drivers.
  EXPECT_EQ(verdict(needing({{}, {}, "gelf"}), node_with_plugins({{"Volume", "local"}})), "placed");
}

TEST(Plugins, APluginTaggedLatestSatisfiesItsName) {
  const Node node = node_with_plugins({{"Volume", "vieux/sshfs:latest"}, {"Log", "loki:latest"}});
  EXPECT_EQ(verdict(needing({{}, {"vieux/sshfs"}, "loki"}), node), "placed");
  EXPECT_EQ(verdict(needing({{}, {"vieux/sshfs:latest"}, {}}), node), "placed");
  EXPECT_EQ(verdict(needing({{}, {"vieux/ssh"}, {}}), node), "node has no volume plugin vieux/ssh");
  const Node other_tag = node_with_plugins({{"Volume", "vieux/sshfs:1.0"}});
  EXPECT_EQ(verdict(needing({{}, {"vieux/sshfs"}, {}}), other_tag),
            "node has no volume plugin vieux/sshfs");
}

TEST(Plugins, ThePluginTypeMustMatch) {
  // node3 of swarmkit's test lists plugin1 as a network plugin too.
  EXPECT_EQ(verdict(needing({{}, {"plugin1"}, {}}), node_with_plugins({{"Network", "plugin1"}})),
            "node has no volume plugin plugin1");
}

TEST(Plugins, ANodeThatReportedNoEngineIsNotFiltered) {
  Node node = make_node();
  node.plugins.reset();
  EXPECT_EQ(verdict(needing({{}, {"plugin1"}, "plugin1"}), node), "placed");
}

TEST(Plugins, ResourcesAreJudgedBeforePlugins) {
  TaskNeeds needs{{0, 1, {}}, {"plugin2"}, {}};
  EXPECT_EQ(verdict(needing(needs), plugin_node1), "node has 0 B memory, the service reserves 1 B");
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
