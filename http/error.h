// Errors of the HTTP layer, as values: a code in the http category (what kind
// of failure, for callers to branch on) and the context an operator needs
// (which endpoint, which request, the HTTP status, what the peer said).
// Exceptions are left for programmer errors and start-up misconfiguration.
//
// Error is the project's one error shape outside reconcile/: engine/ uses the
// same struct with codes of its own category (engine::engine_errc), mapping
// http codes to engine words where its callers need them.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <string>
#include <string_view>
#include <type_traits>

namespace swarm_prepull::http {

enum class errc {
  // 0 is success, as error_code requires.
  unavailable = 1,  // could not connect: refused, no such socket, DNS, TLS handshake
  timeout,          // no complete answer within the bound
  connection_lost,  // the peer closed or reset the connection before the end
  too_large,        // a header, body or line over its limit
  bad_response,     // malformed or truncated HTTP, or a body that is not what was asked
  status,           // the peer answered with a non-2xx status (Error::status, Error::message)
  cancelled,        // the caller cancelled the operation
  invalid_address,  // a URL, host:port or endpoint we cannot use
  bad_request,      // a request we received is malformed (the server answers 400)
};

const boost::system::error_category& http_category() noexcept;
boost::system::error_code make_error_code(errc code) noexcept;

struct Error {
  boost::system::error_code code;  // http_category(), or a category of the layer above
  std::string endpoint;            // "tcp://10.0.0.2:7963"; empty before one is known
  std::string request;             // "GET /v1/images"; empty outside a request
  unsigned status = 0;             // HTTP status; 0 when no response was read
  std::string message;             // the peer's message, or what failed locally

  // Everything in one line:
  // "GET /v1/images at tcp://10.0.0.2:7963: HTTP error status (HTTP 401): missing ... token"
  std::string to_string() const;
};

// Makes result<T, Error>::value() throw a system_error that prints to_string().
[[noreturn]] void throw_exception_from_error(const Error& error, const boost::source_location& loc);

template <class T>
using Result = boost::system::result<T, Error>;

// The peer's explanation in an error body: the "message" (Docker's engine) or
// "error" (our agent API) string of a JSON object, else the body itself,
// trimmed and shortened to one log line, so a proxy's HTML page still says
// something.
std::string peer_message(std::string_view body);
// The same with one field only ("message" for the Docker engine).
std::string peer_message(std::string_view body, std::string_view field);

}  // namespace swarm_prepull::http

template <>
struct boost::system::is_error_code_enum<swarm_prepull::http::errc> : std::true_type {};
