#include "reconcile/rules.h"

#include <array>

#include "reconcile/platform.h"

namespace swarm_prepull::reconcile {
namespace {

// "node.labels.zone==a": the constraint as swarm would print it, whatever
// spacing it was written with.
std::string written(const Constraint& constraint) {
  return constraint.key + (constraint.op == ConstraintOperator::equal ? "==" : "!=") +
         constraint.value;
}

// What the node holds for the attribute a constraint reads, in the words of
// `docker node inspect`.
std::string node_side(const Constraint& constraint, const Node& node) {
  const auto label = [&](const Labels& labels, std::string_view what) {
    const auto found = labels.find(constraint.label);
    if (found == labels.end()) return "node has no " + std::string(what) + " " + constraint.label;
    return "node has " + std::string(what == "label" ? "" : "engine label ") + constraint.label +
           "=" + found->second;
  };
  const auto value = [](std::string_view what, const std::string& text) {
    return "node has " + std::string(what) + " " + (text.empty() ? "\"\"" : text);
  };
  switch (constraint.kind) {
    case ConstraintKey::node_id:
      return value("id", node.id);
    case ConstraintKey::node_hostname:
      return value("hostname", node.hostname);
    case ConstraintKey::node_role:
      return value("role", node.role);
    case ConstraintKey::node_os:
      return value("os", node.platform.os);
    case ConstraintKey::node_arch:
      return value("arch", node.platform.architecture);
    case ConstraintKey::node_ip:
      return value("address", node.addr);
    case ConstraintKey::node_label:
      return label(node.labels, "label");
    case ConstraintKey::engine_label:
      return label(node.engine_labels, "engine label");
    case ConstraintKey::unknown:
      break;
  }
  // swarmkit's NodeMatches: "key doesn't match predefined syntax".
  return "key " + constraint.key + " is not one swarm knows; it matches no node";
}

bool ready_check(const TaskPlacement&, const Node& node) { return node_ready(node); }
std::string ready_explain(const TaskPlacement&, const Node& node) {
  return explain_node_ready(node);
}
bool active_check(const TaskPlacement&, const Node& node) { return node_active(node); }
std::string active_explain(const TaskPlacement&, const Node& node) {
  return explain_node_active(node);
}
bool constraints_check(const TaskPlacement& task, const Node& node) {
  return node_satisfies_constraints(task.constraints, node);
}
std::string constraints_explain(const TaskPlacement& task, const Node& node) {
  const Constraint* unmet = first_unmet_constraint(task.constraints, node);
  return unmet != nullptr ? explain_constraint(*unmet, node) : std::string();
}
bool platform_check(const TaskPlacement& task, const Node& node) {
  return node_supports_platform(task.platforms, node);
}
std::string platform_explain(const TaskPlacement& task, const Node& node) {
  return explain_platform(task.platforms, node);
}

// swarmkit's pipeline order (manager/scheduler/pipeline.go, defaultFilters).
constexpr std::array<PlacementRule, 4> rules = {{
    {"node-ready", ready_check, ready_explain},
    {"node-availability", active_check, active_explain},
    {"constraints", constraints_check, constraints_explain},
    {"platform", platform_check, platform_explain},
}};

}  // namespace

Expected<TaskPlacement> task_placement(const Placement& placement) {
  TaskPlacement task;
  task.constraints.reserve(placement.constraints.size());
  for (const std::string& text : placement.constraints) {
    auto constraint = parse_constraint(text);
    if (!constraint) return Error{"constraint '" + text + "': " + constraint.error().message};
    task.constraints.push_back(std::move(constraint).value());
  }
  task.platforms = placement.platforms;
  return task;
}

bool node_ready(const Node& node) { return node.state == "ready"; }

std::string explain_node_ready(const Node& node) {
  return "node is not ready (" + (node.state.empty() ? std::string("unknown") : node.state) + ")";
}

bool node_active(const Node& node) { return node.availability == "active"; }

std::string explain_node_active(const Node& node) {
  if (node.availability == "drain") return "node is drained";
  if (node.availability == "pause") return "node is paused";
  return "node availability is " +
         (node.availability.empty() ? std::string("unknown") : node.availability);
}

bool node_satisfies_constraints(const std::vector<Constraint>& constraints, const Node& node) {
  return first_unmet_constraint(constraints, node) == nullptr;
}

const Constraint* first_unmet_constraint(const std::vector<Constraint>& constraints,
                                         const Node& node) {
  for (const Constraint& constraint : constraints) {
    if (!constraint_matches(constraint, node)) return &constraint;
  }
  return nullptr;
}

std::string explain_constraint(const Constraint& constraint, const Node& node) {
  return "constraint " + written(constraint) + " (" + node_side(constraint, node) + ")";
}

bool node_supports_platform(const std::vector<Platform>& platforms, const Node& node) {
  return platform_matches(platforms, node);
}

std::string explain_platform(const std::vector<Platform>& platforms, const Node& node) {
  std::string listed;
  for (const Platform& platform : platforms) {
    listed += (listed.empty() ? "" : ", ") + to_string(platform);
  }
  return (platforms.size() == 1 ? "platform " : "platforms ") + listed +
         " not supported by node (" + to_string(node.platform) + ")";
}

std::string to_string(const Platform& platform) {
  std::string os = platform.os.empty() ? "*" : platform.os;
  if (platform.architecture.empty()) return platform.os.empty() ? "*/*" : os;
  return os + "/" + platform.architecture;
}

std::span<const PlacementRule> placement_rules() { return rules; }

std::optional<std::string> first_refusal(const TaskPlacement& task, const Node& node) {
  for (const PlacementRule& rule : rules) {
    if (!rule.check(task, node)) return rule.explain(task, node);
  }
  return std::nullopt;
}

bool placeable(const TaskPlacement& task, const Node& node) {
  for (const PlacementRule& rule : rules) {
    if (!rule.check(task, node)) return false;
  }
  return true;
}

}  // namespace swarm_prepull::reconcile
