// The state a plan is computed from: what GET /nodes, /services and /configs
// return, read either from a live engine or from a saved file.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string_view>
#include <vector>

#include "reconcile/expected.h"
#include "reconcile/swarm.h"

namespace swarm_prepull::reconcile {

struct Snapshot {
  std::vector<Node> nodes;
  std::vector<Service> services;
  std::vector<Config> configs;
  // Tasks whose desired state is running: which ones swarm is starting.
  std::vector<Task> tasks;
};

// {"nodes": [...], "services": [...], "configs": [...], "tasks": [...]} with
// each list exactly as the engine returns it; "configs" and "tasks" may be
// absent. Errors name the list and the element ("services: element 3:
// malformed service: /Spec/Name is not a string").
Expected<Snapshot> decode_snapshot(const nlohmann::json& document);

// Parses JSON text first; syntax errors give the line and column.
Expected<Snapshot> parse_snapshot(std::string_view text);

}  // namespace swarm_prepull::reconcile
