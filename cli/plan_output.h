// How `swarm-prepull plan` prints a plan and an explanation: a table for
// people, one JSON line for programs (docs/plan.md, "Output").
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "reconcile/explain.h"
#include "reconcile/plan.h"

namespace swarm_prepull::cli {

// {"nodes":[{"id","hostname","images":[{"ref","services":[...]}]}],
//  "errors":[{"service","message"}]}, in the plan's order, keys in that order
// too (ordered_json: people diff this output).
nlohmann::ordered_json plan_to_json(const reconcile::Plan& plan);

// One row per node and image, aligned columns:
//   NODE     ID     IMAGE                            SERVICES
//   node-1   a1b2   docker.io/library/redis:7        cache, web
// followed by a SERVICE / ERROR table when there are errors.
std::string format_plan_table(const reconcile::Plan& plan);

// {"image": "<canonical ref>", "nodes": [{"id", "hostname", "placed", "reason",
//  "services": [{"name", "spec", "placed", "reason"}]}]}; reason "" when placed.
nlohmann::ordered_json explanation_to_json(const reconcile::Explanation& explanation);

// IMAGE docker.io/library/redis:latest
// NODE     ID     PLACEMENT
// node-1   a1b2   placed (cache)
// node-3   c3d4   not placed: constraint node.labels.zone==a (node has zone=b)
std::string format_explanation_table(const reconcile::Explanation& explanation);

}  // namespace swarm_prepull::cli
