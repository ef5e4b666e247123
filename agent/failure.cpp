#include "agent/failure.h"

namespace swarm_prepull::agent {

bool is_permanent(Reason reason) {
  return reason == Reason::not_found || reason == Reason::unauthorized;
}

Reason classify_pull_failure(const engine::Error& error) {
  return parse_failure_reason(engine::to_string(engine::classify_registry_failure(error)))
      .value_or(Reason::other);
}

}  // namespace swarm_prepull::agent
