// Swarm's placement rules, one named function per scheduler filter we follow,
// each able to say why it keeps a task away from a node. They mirror
// moby/swarmkit manager/scheduler/filter.go, where every filter has a Check
// and an Explain and the pipeline applies ReadyFilter, ResourceFilter,
// PluginFilter, ConstraintFilter, PlatformFilter, HostPortFilter and
// MaxReplicasFilter in that order. Only what decides whether a task could
// ever run on a node is followed: resources are compared with the node's
// totals (swarm compares what is still free, which changes as tasks come and
// go); host ports and replica limits depend only on what already runs there,
// so pre-pulling ignores them (docs/plan.md lists each filter). swarmkit's
// ReadyFilter is split in two here (state, then availability) so that the
// reason names which of the two fails.
//
// This is the readable statement of the rules: `plan --explain` answers with
// it, and a property test checks the fast planner (plan.cpp's index) against it.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reconcile/constraint.h"
#include "reconcile/expected.h"
#include "reconcile/swarm.h"

namespace swarm_prepull::reconcile {

// What a task asks of a node: a spec's (or an image set's) Placement, its
// constraints parsed, and what its tasks need of a node (none for an image
// set).
struct TaskPlacement {
  std::vector<Constraint> constraints;
  std::vector<Platform> platforms;  // empty: any platform
  TaskNeeds needs;
};

// Parses a Placement's constraints; the first bad one fails it, as
// swarmkit's controlapi refuses such a spec ("constraint 'x': key 'x' is
// invalid" names the expression).
Expected<TaskPlacement> task_placement(const Placement& placement, const TaskNeeds& needs = {});

// --- one function pair per rule -------------------------------------------------

// ReadyFilter, its state half: only a ready node receives tasks (down,
// disconnected and unknown nodes do not).
bool node_ready(const Node& node);
std::string explain_node_ready(const Node& node);  // "node is not ready (down)"

// ReadyFilter, its availability half: a paused or drained node starts no new task.
// A node swarm-prepull pauses until warm (reconcile/node_hold.h) counts as
// active.
bool node_active(const Node& node);
std::string explain_node_active(const Node& node);  // "node is drained", "node is paused"

// ResourceFilter: the node's total CPUs, memory and generic resources
// (Description.Resources) cover the reservations. swarmkit compares what is
// still free; a node whose totals fall short can never take the task, one
// that is only busy now may later. A generic resource counts as swarmkit's
// genericresource.HasEnough counts it: the node's first entry of the kind
// decides, an amount when it is discrete, else one unit per named entry of
// the kind; a named reservation (which swarm's API refuses) fits nowhere.
bool node_has_resources(const Resources& reservations, const Node& node);
// "node has 1 CPU(s), the service reserves 2", "node has 512 MiB memory, the
// service reserves 1 GiB", "node has no generic resource gpu (the service
// reserves 1)"
std::string explain_resources(const Resources& reservations, const Node& node);

// PluginFilter: the node's engine lists every volume driver the task mounts
// and its log driver (a plugin "foo:latest" counts as "foo"). A node that
// reported no engine passes; a log driver is checked only on a node that
// lists some log plugin (older engines listed none), and "none" is no driver.
bool node_has_plugins(const TaskNeeds& needs, const Node& node);
// "node has no volume plugin rexray", "node has no log plugin splunk2"
std::string explain_plugins(const TaskNeeds& needs, const Node& node);

// ConstraintFilter: every constraint holds (manager/constraint NodeMatches).
bool node_satisfies_constraints(const std::vector<Constraint>& constraints, const Node& node);
// The first constraint the node fails; nullptr when all hold.
const Constraint* first_unmet_constraint(const std::vector<Constraint>& constraints,
                                         const Node& node);
// "constraint node.labels.zone==a (node has zone=b)"
std::string explain_constraint(const Constraint& constraint, const Node& node);

// PlatformFilter: the node runs one of the platforms (aliases applied), or
// none is listed.
bool node_supports_platform(const std::vector<Platform>& platforms, const Node& node);
// "platform linux/arm64 not supported by node (linux/x86_64)"
std::string explain_platform(const std::vector<Platform>& platforms, const Node& node);

// "linux/amd64", "linux" (any architecture), "*/arm64" (any OS).
std::string to_string(const Platform& platform);

// --- the pipeline ---------------------------------------------------------------

// A rule as swarmkit's Filter interface has it: Check, and Explain for a
// node that Check refused.
struct PlacementRule {
  // "node-ready", "node-availability", "resources", "plugins", "constraints", "platform"
  std::string_view name;
  bool (*check)(const TaskPlacement& task, const Node& node);
  std::string (*explain)(const TaskPlacement& task, const Node& node);
};

// The rules in the order swarm's pipeline applies them.
std::span<const PlacementRule> placement_rules();

// The explanation of the first rule that keeps the task away from the node;
// nullopt when swarm may place it there.
std::optional<std::string> first_refusal(const TaskPlacement& task, const Node& node);

// Every rule passes.
bool placeable(const TaskPlacement& task, const Node& node);

}  // namespace swarm_prepull::reconcile
