// How urgently a node needs an image: the order its agent starts pulls in.
// Apart from plan.h so that the agent API's decoders need nothing more of
// reconcile/ than this.
#pragma once

#include <cstdint>
#include <string_view>

namespace swarm_prepull::reconcile {

// Which pulls a node starts first when it cannot start them all (too little
// disk, too many missing): what a task needs soonest first.
enum class PullPriority : std::uint8_t {
  urgent = 0,    // the Spec of a service being updated or rolled back, or a `wait` request
  current = 1,   // a service's Spec
  previous = 2,  // a service's PreviousSpec: the rollback target
  declared = 3,  // an image set (a config labelled swarm-prepull.imageset=true)
};
std::string_view to_string(PullPriority priority);  // "urgent", "current", ...

}  // namespace swarm_prepull::reconcile
