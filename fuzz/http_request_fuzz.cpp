// libFuzzer target for the HTTP server's request parsing and its one decision
// per request (http::admit): any bytes as a request header, against a route
// table shaped like the controller's. Checks that nothing throws or crashes,
// that an admitted request without the token only ever reaches a public route
// at its exact path, and that every refusal has a JSON body that parses.
#include <boost/beast/core/buffers_prefix.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "http/router.h"

namespace {

namespace http = swarm_prepull::http;
namespace bhttp = boost::beast::http;

const http::Router& routes() {
  static const http::Router router = [] {
    const auto never = [](const http::RequestContext&) -> boost::asio::awaitable<http::Response> {
      std::abort();  // admit() never runs a handler
    };
    http::Router table;
    table.add({{http::verb::get, http::verb::head}, "/healthz", http::Access::public_, never});
    table.add({{http::verb::get}, "/metrics", http::Access::public_, never});
    table.add(http::verb::get, "/v1/nodes/{node_id}/desired", never);
    table.add(http::verb::post, "/v1/nodes/{node_id}/status", never);
    table.add(http::verb::get, "/v1/images", never);
    table.add(http::verb::post, "/v1/warm", never);
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
  const bool has_token = http::has_bearer_token(header, "t0ken");
  const auto admission = http::admit(routes(), header, "t0ken");
  if (admission.refusal) {
    const auto body = nlohmann::json::parse(admission.refusal->body(), nullptr, false);
    if (!body.is_object() || !body.contains("error")) std::abort();
    return 0;
  }
  const auto* route = admission.match.route;
  if (!has_token) {
    // Without the token only a public route is reached, and only at its path.
    if (route == nullptr || route->access != http::Access::public_) std::abort();
    if (admission.target.path != route->pattern) std::abort();
  }
  return 0;
}
