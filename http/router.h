// The route table and the decision the server takes on every request header
// before anything else runs (http/server.h lists the order). Pure: no I/O,
// so the fuzzer drives it directly.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/client.h"
#include "http/url.h"

namespace swarm_prepull::http {

// What a handler gets besides the request: the decoded path, the values of
// the route's {placeholders}, the decoded query parameters, and the address
// the request came from.
struct RequestContext {
  const Request& request;
  std::string path;
  std::map<std::string, std::string> params;
  std::map<std::string, std::string> query;
  // The peer's IP address as text (an IPv4-mapped IPv6 address in its IPv4
  // form); empty when the transport has none (a test calling a handler).
  std::string peer;

  // A query parameter or nullopt.
  std::optional<std::string> query_value(const std::string& name) const;
};

// A handler may co_await (a long poll waits on a timer); when the server
// stops for good it cancels the handler (its next co_await ends with
// operation_aborted). The RequestContext lives until the handler completes.
using Handler = std::function<boost::asio::awaitable<Response>(const RequestContext&)>;

// Who may call a route: anyone, or only holders of the bearer token.
enum class Access { public_, token };

// One route: its methods, its pattern (a segment "{name}" matches one
// non-empty segment), who may call it, and its handler.
struct Route {
  std::vector<verb> methods;
  std::string pattern;
  Access access = Access::token;
  Handler handler;
};

// The route table: first match wins.
class Router {
 public:
  void add(Route route);
  // A token-protected route with one method.
  void add(verb method, std::string pattern, Handler handler) {
    add(Route{{method}, std::move(pattern), Access::token, std::move(handler)});
  }

  struct Match {
    const Route* route = nullptr;  // null: no route for this method and path
    bool path_known = false;       // another method matches: 405
    // The pattern the path matches whatever the method, and its placeholders'
    // values ("" and none when no route has this path): for metrics and logs.
    std::string pattern;
    std::map<std::string, std::string> params;
  };
  Match match(verb method, const std::vector<std::string>& segments) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  struct Entry {
    Route route;
    std::vector<std::string> segments;
  };
  std::vector<Entry> entries_;
  std::vector<Route> routes_;
};

// The decision on a request's header: refused (answer `refusal` and close
// the connection), or admitted with its parsed target and its route (no route:
// 404, or 405 when match.path_known). Admitted means: the target is canonical,
// at most one Authorization header, and the route is public or the request
// carries the token.
// A refused request keeps match.pattern and match.params (what it claimed to
// reach, for the owner's metrics and logs) but never a route.
struct Admission {
  std::optional<Response> refusal;
  Target target;
  Router::Match match;
};
Admission admit(const Router& router, const Request& header, std::string_view token);

// True when the request carries exactly one "Authorization: Bearer <token>"
// with exactly this token (compared in constant time). An empty expected
// token never matches.
bool has_bearer_token(const Request& request, std::string_view token);

// Responses with the request's version and keep-alive. None of them throws on
// what the client sent: JSON is dumped with invalid UTF-8 replaced.
Response make_response(const Request& request, status code, std::string body,
                       std::string_view content_type);
Response json_response(const Request& request, status code, const nlohmann::json& body);
Response error_response(const Request& request, status code, std::string_view message);

}  // namespace swarm_prepull::http
