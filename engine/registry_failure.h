// Why an engine could not get an image from its registry, read from the
// engine's error: the agent's pulls (POST /images/create) and the
// controller's resolutions (GET /distribution) fail with the same registry
// words, so they are read in one place. The names are the agent API's
// failure reasons (api/messages.h), which callers convert by name.
#pragma once

#include <string_view>

#include "engine/error.h"

namespace swarm_prepull::engine {

enum class RegistryFailure {
  disk_full,
  rate_limited,
  not_found,
  unauthorized,
  timeout,
  network,
  other,
};

std::string_view to_string(RegistryFailure failure);

// From the error code, HTTP status and message. The engine reports registry
// failures either as an HTTP status (404 "manifest for R not found: manifest
// unknown") or as text inside a 200 progress stream, and GET /distribution
// answers 500 for most of them, so the message text is read as well as the
// code. Order matters, first match wins:
//   1. disk_full:    "no space left on device"
//   2. rate_limited: HTTP 429, "toomanyrequests", "too many requests", "rate limit"
//   3. not_found:    HTTP 404 / engine_errc::not_found, "manifest unknown", "not found",
//                    "repository does not exist", "no such image", "name unknown".
//                    Docker Hub's "pull access denied for R, repository does not
//                    exist or may require 'docker login'" is not_found: the engine
//                    answers it 404.
//   4. unauthorized: HTTP 401/403 / engine_errc::unauthorized, "unauthorized",
//                    "authentication required", "denied", "incorrect username or
//                    password", "no basic auth credentials" (what dockerd says when
//                    a registry asks for credentials and none were sent)
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
RegistryFailure classify_registry_failure(const Error& error);

}  // namespace swarm_prepull::engine
