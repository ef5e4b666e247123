#include "controller/node_holds.h"

namespace swarm_prepull::controller {

void NodeHolds::observe(const std::vector<reconcile::Node>& nodes, std::int64_t now) {
  std::set<std::string> present;
  for (const auto& node : nodes) {
    present.insert(node.id);
    if (known_.insert(node.id).second && first_pass_seen_) joined_.emplace(node.id, now);
  }
  first_pass_seen_ = true;
  std::erase_if(known_, [&](const std::string& id) { return !present.contains(id); });
  std::erase_if(joined_, [&](const auto& entry) { return !present.contains(entry.first); });
}

std::vector<NodeHolds::Step> NodeHolds::steps(const std::vector<reconcile::Node>& nodes,
                                              const State& state, std::int64_t now) const {
  std::vector<Step> steps;
  for (const auto& node : nodes) {
    const auto joined = joined_.find(node.id);
    const bool labelled = node.labels.contains(std::string(reconcile::kHoldLabel));
    if (!labelled && joined == joined_.end()) continue;
    const auto holds = state.holds_running_images(node.id);
    // The label's join time wins: it is what a restarted controller has.
    const auto seen_at = joined != joined_.end() ? joined->second : now;
    reconcile::HoldFacts facts{.joined = joined != joined_.end(),
                               .joined_at = reconcile::hold_joined_at(node).value_or(seen_at),
                               .agent_reported = holds.has_value(),
                               .warm = holds.value_or(false),
                               .now = now,
                               .hold_seconds = hold_.count()};
    const auto step = reconcile::hold_step(node, facts);
    if (step == reconcile::HoldStep::none) continue;
    steps.push_back({.node_id = node.id,
                     .hostname = node.hostname,
                     .step = step,
                     .joined_at = facts.joined_at,
                     .warm = facts.warm});
  }
  return steps;
}

void NodeHolds::done(const Step& step) {
  if (step.step != reconcile::HoldStep::pause) joined_.erase(step.node_id);
}

}  // namespace swarm_prepull::controller
