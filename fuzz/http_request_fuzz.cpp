// libFuzzer target for the HTTP server's request parsing and its one decision
// per request (http::admit), then the dispatch http/server.cpp does after it:
// any bytes as a request header, against a route table shaped like the
// controller's. Checks that nothing throws or crashes, that every refusal has
// a JSON body that parses, and the auth property: a request without the
// right bearer token never reaches a handler that needs the token (each
// handler counts its calls; one needing the token traps when called for a
// request that, by an oracle written here independently of
// http::has_bearer_token, lacks it). Public routes are reached only at their
// exact path.
#include <boost/beast/http/parser.hpp>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "http/router.h"

namespace {

namespace http = swarm_prepull::http;
namespace bhttp = boost::beast::http;

constexpr std::string_view token = "t0ken";

struct Calls {
  bool token_present = false;  // for the request being dispatched
  std::size_t token_routes = 0;
  std::size_t public_routes = 0;
  // At exit, so a run shows the property was exercised, not vacuously true.
  ~Calls() {
    std::fprintf(stderr, "http_request_fuzz: handler calls: %zu token routes, %zu public routes\n",
                 token_routes, public_routes);
  }
} calls;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// The oracle: exactly one Authorization field (by its name as sent), whose
// value is "Bearer" (any case), one space, and exactly the token.
bool carries_token(const http::Request& header) {
  std::size_t count = 0;
  std::string_view value;
  for (const auto& field : header) {
    if (iequals(field.name_string(), "authorization")) {
      ++count;
      value = field.value();
    }
  }
  if (count != 1 || value.size() != 7 + token.size()) return false;
  return iequals(value.substr(0, 7), "bearer ") && value.substr(7) == token;
}

boost::asio::awaitable<http::Response> unreachable() { co_return http::Response{}; }

// A handler that counts its calls and, for a token route, traps when called
// without the token. The coroutine it returns is never run: the call is what counts.
http::Handler counting(http::Access access) {
  return [access](const http::RequestContext&) {
    if (access == http::Access::token) {
      ++calls.token_routes;
      if (!calls.token_present) __builtin_trap();
    } else {
      ++calls.public_routes;
    }
    return unreachable();
  };
}

const http::Router& routes() {
  static const http::Router router = [] {
    const auto open = counting(http::Access::public_);
    const auto gated = counting(http::Access::token);
    http::Router table;
    table.add({{http::verb::get, http::verb::head}, "/healthz", http::Access::public_, open});
    table.add({{http::verb::get}, "/metrics", http::Access::public_, open});
    table.add(http::verb::get, "/v1/nodes/{node_id}/desired", gated);
    table.add(http::verb::post, "/v1/nodes/{node_id}/status", gated);
    table.add(http::verb::get, "/v1/images", gated);
    table.add(http::verb::post, "/v1/warm", gated);
    return table;
  }();
  return router;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.eager(false);
  parser.header_limit(16 * 1024);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_header_done()) return 0;
  const auto& header = parser.get();
  calls.token_present = carries_token(header);
  // The oracle and the product agree on who holds the token.
  if (calls.token_present != http::has_bearer_token(header, token)) std::abort();
  auto admission = http::admit(routes(), header, token);
  if (admission.refusal) {
    const auto body = nlohmann::json::parse(admission.refusal->body(), nullptr, false);
    if (!body.is_object() || !body.contains("error")) std::abort();
    return 0;
  }
  const auto* route = admission.match.route;
  if (route == nullptr) return 0;  // 404 or 405, no handler
  if (!calls.token_present) {
    // Without the token only a public route is reached, and only at its path.
    if (route->access != http::Access::public_) std::abort();
    if (admission.target.path != route->pattern) std::abort();
  }
  // What the server does next (the body is not needed to pick the handler).
  const http::RequestContext context{header,
                                     admission.target.path,
                                     std::move(admission.match.params),
                                     std::move(admission.target.query),
                                     {}};
  (void)route->handler(context);
  return 0;
}
