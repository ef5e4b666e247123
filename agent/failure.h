// Why a pull failed, as a closed set of reasons (docs/agent-api.md): what the
// status report and the swarm_prepull_pull_failures_total{reason} label carry,
// and what decides whether the agent retries.
#pragma once

#include "api/messages.h"
#include "engine/error.h"

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

// Classifies a failed pull from the engine's error code, HTTP status and
// message. The engine reports registry failures either as an HTTP status on
// POST /images/create (404 "manifest for R not found: manifest unknown") or
// as text inside a 200 progress stream (pull_failed), so the message text is
// read as well as the code. Order matters, first match wins:
//   1. disk_full:    "no space left on device"
//   2. rate_limited: HTTP 429, "toomanyrequests", "too many requests", "rate limit"
//   3. not_found:    HTTP 404 / engine_errc::not_found, "manifest unknown", "not found",
//                    "repository does not exist", "no such image". Docker Hub's
//                    "pull access denied for R, repository does not exist or may
//                    require 'docker login'" is not_found: the engine answers it 404.
//   4. unauthorized: HTTP 401/403 / engine_errc::unauthorized, "unauthorized",
//                    "authentication required", "denied", "incorrect username or password",
//                    "no basic auth credentials"
//   5. timeout:      engine_errc::timeout (our bound), "timeout", "timed out",
//                    "deadline exceeded" (the engine's bound toward the registry,
//                    e.g. "dial tcp 10.0.0.1:443: i/o timeout")
//   6. network:      engine_errc::connection_failed / connection_lost (the engine
//                    itself is unreachable or went away), "connection refused",
//                    "connection reset", "no such host", "dial tcp", "network is
//                    unreachable", "no route to host", "broken pipe", "unexpected EOF",
//                    "server misbehaving", "tls: "
//   7. other
// timeout and network are both retried; the split only tells an operator whether
// the far side was slow (timeout) or unreachable (network).
Reason classify_pull_failure(const engine::Error& error);

}  // namespace swarm_prepull::agent
