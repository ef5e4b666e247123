#include "reconcile/pull_priority.h"

namespace swarm_prepull::reconcile {

std::string_view to_string(PullPriority priority) {
  switch (priority) {
    case PullPriority::urgent:
      return "urgent";
    case PullPriority::current:
      return "current";
    case PullPriority::previous:
      return "previous";
    case PullPriority::declared:
      return "declared";
  }
  return "?";
}

}  // namespace swarm_prepull::reconcile
