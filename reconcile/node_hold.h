// New nodes held until warm (--hold-new-nodes). A node that joins the swarm
// is set to availability `pause`, so that swarm starts no new task on it and a
// scale-up or a rescheduled task never waits there for a pull, until it holds
// the images of its running services (or the hold times out), then set back
// to `active`.
//
// Swarm starts no task of a global service on a paused node either (swarmkit's
// global orchestrator skips paused nodes), and the agent is one: a node is
// paused only once its agent has reported, never before, or it would never
// warm.
//
// The node label kHoldLabel marks a node the controller paused, with the time
// it joined (unix seconds): the controller only ever resumes nodes carrying
// it, never an operator's own pause or drain, and a restarted controller
// picks the holds up from the labels.
//
// Pure: the controller gives the facts, applies the step through the engine.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "reconcile/swarm.h"

namespace swarm_prepull::reconcile {

inline constexpr std::string_view kHoldLabel = "swarm-prepull.hold";

// A node swarm-prepull paused and still holds: it carries the label and is
// still paused. Planned as if active: it is paused only until it holds what
// an active node would be given.
bool held_until_warm(const Node& node);

// When the node joined, from the label's value; nullopt when it has no label
// or the value is not a number of seconds.
std::optional<std::int64_t> hold_joined_at(const Node& node);

struct HoldFacts {
  // The node joined while holding was on (it was not in the controller's first
  // pass); false for every node already there, which is never paused.
  bool joined = false;
  std::int64_t joined_at = 0;  // unix seconds the controller first saw it
  bool agent_reported = false;
  // Its agent reports every image of its running services (current specs,
  // and the services being updated) present.
  bool warm = false;
  std::int64_t now = 0;  // unix seconds
  std::int64_t hold_seconds = 0;
};

enum class HoldStep {
  none,             // nothing to do now
  pause,            // pause it and label it with joined_at
  release_warm,     // set it active again and drop the label: it is warm
  release_timeout,  // the same, though it is not warm: the hold ran out
  forget,           // drop the label only: someone else changed its availability
  stop_watching,    // joined but not held, and nothing more to do (warm or too late)
};
std::string_view to_string(HoldStep step);

HoldStep hold_step(const Node& node, const HoldFacts& facts);

}  // namespace swarm_prepull::reconcile
