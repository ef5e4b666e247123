// Errors of the agent API's client, in the controller's words: the token
// refused, no such node, not ready yet, a malformed answer. The project's one
// error shape (http::Error: code, endpoint, request, HTTP status, the peer's
// message) with codes of this category, so that callers branch on what the
// controller said and print the controller's own message, never on the text.
#pragma once

#include <boost/system/error_code.hpp>
#include <type_traits>

#include "http/error.h"

namespace swarm_prepull::api {

enum class api_errc {
  // 0 is success, as error_code requires.
  unauthorized = 1,   // 401: the controller refused the bearer token
  not_found,          // 404: the node is not in the swarm (or no such path)
  rejected,           // 400, 413 and other 4xx: the controller refused the request
  too_many_requests,  // 429: e.g. too many warm requests held
  unavailable,        // 503: no reconcile has completed yet, or the controller is stopping
  server_error,       // other 5xx
  unreachable,        // no answer: cannot connect, or the connection broke
  timeout,            // no complete answer within the bound
  bad_response,       // an answer that is not the message (malformed, truncated, too large)
  cancelled,          // the caller cancelled the request
  invalid_url,        // a --controller URL we cannot use
  forbidden,          // 403: the token is right, the caller may not do this (a status
                      // report not from the node's agent task)
};

const boost::system::error_category& api_category() noexcept;
boost::system::error_code make_error_code(api_errc code) noexcept;

using http::Error;
template <class T>
using Result = http::Result<T>;

// An http error in the controller's words: the code mapped to api_errc (a
// status to what it means), the context and the controller's message kept.
Error controller_error(Error error);

}  // namespace swarm_prepull::api

template <>
struct boost::system::is_error_code_enum<swarm_prepull::api::api_errc> : std::true_type {};
