// Errors of the Engine API client, in engine words: the project's one error
// shape (http::Error: a code plus the endpoint, the request, the HTTP status
// and the engine's message) with codes of the engine's own category, for
// callers to branch on (not_found, unauthorized, pull_failed, ...). The HTTP
// layer's codes are mapped to these by engine_error().
#pragma once

#include <boost/system/error_code.hpp>
#include <string>
#include <string_view>
#include <type_traits>

#include "http/error.h"

namespace swarm_prepull::engine {

enum class engine_errc {
  // 0 is success, as error_code requires.
  not_found = 1,        // HTTP 404: no such image, service, manifest, ...
  unauthorized,         // HTTP 401/403: registry or engine refused our credentials
  conflict,             // HTTP 409
  unavailable,          // HTTP 503, e.g. "This node is not a swarm manager"
  bad_request,          // HTTP 400 and other 4xx
  server_error,         // HTTP 500 and other 5xx
  bad_response,         // malformed, truncated, oversized or unexpected JSON / HTTP
  timeout,              // no complete answer within the configured bound
  connection_failed,    // could not connect (socket missing, refused, TLS handshake)
  connection_lost,      // the engine closed a stream (events, pull) before its end
  unsupported_version,  // the engine speaks an API older than we need
  pull_failed,          // the engine reported an error inside a 200 pull stream
  cancelled,            // the caller cancelled the operation
  invalid_endpoint,     // a DOCKER_HOST (or --host) value we cannot use
};

const boost::system::error_category& engine_category() noexcept;
boost::system::error_code make_error_code(engine_errc code) noexcept;

// The error code for a non-2xx HTTP status of the engine.
engine_errc errc_from_status(unsigned status) noexcept;

// The engine's explanation in an error body (http::peer_message).
std::string engine_message(std::string_view body);

using Error = http::Error;
template <class T>
using Result = http::Result<T>;

// An error of the HTTP layer in engine words (the context kept); errors
// already in the engine's category pass unchanged.
Error engine_error(Error error);

}  // namespace swarm_prepull::engine

template <>
struct boost::system::is_error_code_enum<swarm_prepull::engine::engine_errc> : std::true_type {};
