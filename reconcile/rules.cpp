#include "reconcile/rules.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include "reconcile/node_hold.h"
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

// --- resources ---

// How much of one kind of generic resource a node has, as swarmkit's
// genericresource.HasEnough counts it: its first entry of the kind decides
// whether that is an amount (discrete) or a count of entries (named).
struct GenericSupply {
  bool any = false;  // the node lists the kind at all
  std::int64_t count = 0;
};

GenericSupply generic_supply(const std::vector<GenericResource>& resources,
                             const std::string& kind) {
  GenericSupply supply;
  for (const GenericResource& resource : resources) {
    if (resource.kind != kind) continue;
    if (!supply.any && !resource.named) return {true, resource.amount};
    supply.any = true;
    ++supply.count;
  }
  return supply;
}

bool has_enough(const GenericResource& reservation, const Node& node) {
  if (reservation.named) return false;  // HasEnough: "task should only hold Discrete type"
  const GenericSupply supply = generic_supply(node.resources.generic, reservation.kind);
  return supply.any && reservation.amount <= supply.count;
}

// What falls short first, in swarmkit's order: CPUs, memory, then each
// generic reservation as listed.
enum class Shortfall { none, cpus, memory, generic };

struct ResourceShortfall {
  Shortfall what = Shortfall::none;
  const GenericResource* reservation = nullptr;  // for Shortfall::generic
};

ResourceShortfall resource_shortfall(const Resources& reservations, const Node& node) {
  // swarmkit's ResourceFilter is off for a task that reserves nothing.
  if (reservations.empty()) return {};
  if (reservations.nano_cpus > node.resources.nano_cpus) return {Shortfall::cpus};
  if (reservations.memory_bytes > node.resources.memory_bytes) return {Shortfall::memory};
  for (const GenericResource& reservation : reservations.generic) {
    if (!has_enough(reservation, node)) return {Shortfall::generic, &reservation};
  }
  return {};
}

// Nano CPUs as the docker CLI's --reserve-cpu writes them: "2", "0.5".
std::string cpus(std::int64_t nano) {
  constexpr std::uint64_t per_cpu = 1'000'000'000;
  const std::uint64_t magnitude = nano < 0 ? std::uint64_t{0} - static_cast<std::uint64_t>(nano)
                                           : static_cast<std::uint64_t>(nano);
  std::string text = (nano < 0 ? "-" : "") + std::to_string(magnitude / per_cpu);
  if (const std::uint64_t fraction = magnitude % per_cpu; fraction != 0) {
    std::string digits = std::to_string(fraction);
    digits.insert(0, 9 - digits.size(), '0');
    digits.erase(digits.find_last_not_of('0') + 1);
    text += "." + digits;
  }
  return text;
}

// Bytes in the largest binary unit they fill, to two decimals: "512 MiB",
// "1.5 GiB", "953.67 MiB".
std::string bytes(std::int64_t count) {
  static constexpr std::array<const char*, 6> units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(count);
  std::size_t unit = 0;
  while (unit + 1 < units.size() && (value >= 1024.0 || value <= -1024.0)) {
    value /= 1024.0;
    ++unit;
  }
  std::array<char, 32> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%.2f", value);
  std::string text = buffer.data();
  text.erase(text.find_last_not_of('0') + 1);
  if (text.back() == '.') text.pop_back();
  return text + " " + units[unit];
}

// --- plugins ---

// swarmkit's pluginExistsOnNode: the name as given, or with the ":latest" a
// managed plugin's name carries.
bool lists_plugin(const std::vector<PluginDescription>& plugins, std::string_view type,
                  std::string_view name) {
  return std::any_of(plugins.begin(), plugins.end(), [&](const PluginDescription& plugin) {
    if (plugin.type != type) return false;
    std::string_view listed = plugin.name;
    if (listed == name) return true;
    return listed.starts_with(name) && listed.substr(name.size()) == ":latest";
  });
}

bool lists_type(const std::vector<PluginDescription>& plugins, std::string_view type) {
  return std::any_of(plugins.begin(), plugins.end(),
                     [&](const PluginDescription& plugin) { return plugin.type == type; });
}

struct MissingPlugin {
  std::string_view type;  // "volume", "log"; empty when none is missing
  const std::string* name = nullptr;
};

MissingPlugin missing_plugin(const TaskNeeds& needs, const Node& node) {
  if (!node.plugins) return {};  // "If the node is not running Engine, plugins are not supported"
  for (const std::string& driver : needs.volume_drivers) {
    if (!lists_plugin(*node.plugins, "Volume", driver)) return {"volume", &driver};
  }
  // A log driver with no name only carries options; "none" logs nowhere. A
  // node that lists no log plugin at all is an older engine that did not
  // report them, and swarmkit does not filter on it.
  const std::string& log = needs.log_driver;
  if (!log.empty() && log != "none" && lists_type(*node.plugins, "Log") &&
      !lists_plugin(*node.plugins, "Log", log)) {
    return {"log", &log};
  }
  return {};
}

// --- the rules as PlacementRule entries ---

bool ready_check(const TaskPlacement&, const Node& node) { return node_ready(node); }
std::string ready_explain(const TaskPlacement&, const Node& node) {
  return explain_node_ready(node);
}
bool active_check(const TaskPlacement&, const Node& node) { return node_active(node); }
std::string active_explain(const TaskPlacement&, const Node& node) {
  return explain_node_active(node);
}
bool resources_check(const TaskPlacement& task, const Node& node) {
  return node_has_resources(task.needs.reservations, node);
}
std::string resources_explain(const TaskPlacement& task, const Node& node) {
  return explain_resources(task.needs.reservations, node);
}
bool plugins_check(const TaskPlacement& task, const Node& node) {
  return node_has_plugins(task.needs, node);
}
std::string plugins_explain(const TaskPlacement& task, const Node& node) {
  return explain_plugins(task.needs, node);
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
constexpr std::array<PlacementRule, 6> rules = {{
    {"node-ready", ready_check, ready_explain},
    {"node-availability", active_check, active_explain},
    {"resources", resources_check, resources_explain},
    {"plugins", plugins_check, plugins_explain},
    {"constraints", constraints_check, constraints_explain},
    {"platform", platform_check, platform_explain},
}};

}  // namespace

Expected<TaskPlacement> task_placement(const Placement& placement, const TaskNeeds& needs) {
  TaskPlacement task;
  task.needs = needs;
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

// A node swarm-prepull holds until warm is paused only for its hold: planned
// as active, so that it is given what it would be held for.
bool node_active(const Node& node) {
  return node.availability == "active" || held_until_warm(node);
}

std::string explain_node_active(const Node& node) {
  if (node.availability == "drain") return "node is drained";
  if (node.availability == "pause") return "node is paused";
  return "node availability is " +
         (node.availability.empty() ? std::string("unknown") : node.availability);
}

bool node_has_resources(const Resources& reservations, const Node& node) {
  return resource_shortfall(reservations, node).what == Shortfall::none;
}

std::string explain_resources(const Resources& reservations, const Node& node) {
  const ResourceShortfall shortfall = resource_shortfall(reservations, node);
  switch (shortfall.what) {
    case Shortfall::none:
      break;
    case Shortfall::cpus:
      return "node has " + cpus(node.resources.nano_cpus) + " CPU(s), the service reserves " +
             cpus(reservations.nano_cpus);
    case Shortfall::memory: {
      std::string have = bytes(node.resources.memory_bytes);
      std::string want = bytes(reservations.memory_bytes);
      // Rounding may print both alike; the exact counts then tell them apart.
      if (have == want) {
        have = std::to_string(node.resources.memory_bytes) + " bytes of";
        want = std::to_string(reservations.memory_bytes) + " bytes";
      }
      return "node has " + have + " memory, the service reserves " + want;
    }
    case Shortfall::generic: {
      const GenericResource& reservation = *shortfall.reservation;
      if (reservation.named) {
        return "the service reserves named resource " + reservation.kind + "=" + reservation.value +
               ", which swarm cannot place (a reservation is a count)";
      }
      const GenericSupply supply = generic_supply(node.resources.generic, reservation.kind);
      const std::string want = std::to_string(reservation.amount);
      if (!supply.any) {
        return "node has no generic resource " + reservation.kind + " (the service reserves " +
               want + ")";
      }
      return "node has " + std::to_string(supply.count) + " of generic resource " +
             reservation.kind + ", the service reserves " + want;
    }
  }
  return {};
}

bool node_has_plugins(const TaskNeeds& needs, const Node& node) {
  return missing_plugin(needs, node).name == nullptr;
}

std::string explain_plugins(const TaskNeeds& needs, const Node& node) {
  const MissingPlugin missing = missing_plugin(needs, node);
  if (missing.name == nullptr) return {};
  return "node has no " + std::string(missing.type) + " plugin " + *missing.name;
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
