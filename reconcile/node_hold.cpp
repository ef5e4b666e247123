#include "reconcile/node_hold.h"

#include <charconv>
#include <string>

namespace swarm_prepull::reconcile {

bool held_until_warm(const Node& node) {
  return node.availability == "pause" && node.labels.contains(std::string(kHoldLabel));
}

std::optional<std::int64_t> hold_joined_at(const Node& node) {
  const auto label = node.labels.find(std::string(kHoldLabel));
  if (label == node.labels.end()) return std::nullopt;
  const std::string& text = label->second;
  std::int64_t seconds = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (error != std::errc() || end != text.data() + text.size() || seconds < 0) return std::nullopt;
  return seconds;
}

std::string_view to_string(HoldStep step) {
  switch (step) {
    case HoldStep::none:
      return "none";
    case HoldStep::pause:
      return "pause";
    case HoldStep::release_warm:
      return "release_warm";
    case HoldStep::release_timeout:
      return "release_timeout";
    case HoldStep::forget:
      return "forget";
    case HoldStep::stop_watching:
      return "stop_watching";
  }
  return "none";
}

HoldStep hold_step(const Node& node, const HoldFacts& facts) {
  if (node.labels.contains(std::string(kHoldLabel))) {
    // An operator who set it active, drained or paused it again owns it now.
    if (node.availability != "pause") return HoldStep::forget;
    if (facts.warm) return HoldStep::release_warm;
    // A label that does not say when the node joined cannot time out: release
    // rather than keep the node out of placement for good.
    const auto joined_at = hold_joined_at(node);
    if (!joined_at || facts.now - *joined_at >= facts.hold_seconds) {
      return HoldStep::release_timeout;
    }
    return HoldStep::none;
  }
  if (!facts.joined) return HoldStep::none;
  const bool too_late = facts.now - facts.joined_at >= facts.hold_seconds;
  if (node.availability != "active" || facts.warm || too_late) return HoldStep::stop_watching;
  // Paused before its agent runs, the node would never get the agent's task.
  if (!facts.agent_reported) return HoldStep::none;
  return HoldStep::pause;
}

}  // namespace swarm_prepull::reconcile
