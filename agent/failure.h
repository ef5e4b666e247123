// Why a pull failed, as a closed set of reasons (docs/agent-api.md): what the
// status report and the swarm_prepull_pull_failures_total{reason} label carry,
// and what decides whether the agent retries.
#pragma once

#include "api/messages.h"
#include "engine/error.h"
#include "engine/registry_failure.h"

namespace swarm_prepull::agent {

// The closed set of reasons is the agent API's (api/messages.h): the status
// report carries them, the controller decodes them.
using Reason = api::FailureReason;
using api::parse_failure_reason;
using api::to_string;
inline constexpr auto all_reasons = api::all_failure_reasons;

// not_found and unauthorized do not heal by waiting: they are not retried until
// the desired set or the credentials change. Every other reason is retried
// with backoff.
bool is_permanent(Reason reason);

// Classifies a failed pull from the engine's error: engine/registry_failure.h
// lists the words read and their order.
Reason classify_pull_failure(const engine::Error& error);

}  // namespace swarm_prepull::agent
