#include "agent/controller_client.h"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "engine/transport.h"
#include "engine/url.h"

namespace swarm_prepull::agent {

namespace http = boost::beast::http;
using engine::engine_errc;

reconcile::Expected<ControllerUrl> parse_controller_url(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (url.substr(0, scheme.size()) != scheme) {
    return reconcile::Error{"--controller: expected http://HOST[:PORT], got '" + std::string(url) +
                            "'"};
  }
  std::string_view rest = url.substr(scheme.size());
  std::string base;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    base = std::string(rest.substr(slash));
    rest = rest.substr(0, slash);
  }
  while (!base.empty() && base.back() == '/') base.pop_back();
  ControllerUrl result;
  result.endpoint.kind = engine::Endpoint::Kind::tcp;
  result.endpoint.path.clear();
  result.base_path = base;
  std::string_view host = rest;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return reconcile::Error{"--controller: unclosed '['"};
    host = rest.substr(1, close - 1);
    const auto after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return reconcile::Error{"--controller: junk after ']'"};
      port = after.substr(1);
    }
  } else if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty()) return reconcile::Error{"--controller: no host in '" + std::string(url) + "'"};
  result.endpoint.host = std::string(host);
  result.endpoint.port = 80;
  if (!port.empty()) {
    unsigned value = 0;
    for (const char c : port) {
      if (c < '0' || c > '9' || value > 65535) {
        return reconcile::Error{"--controller: bad port in '" + std::string(url) + "'"};
      }
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) {
      return reconcile::Error{"--controller: bad port in '" + std::string(url) + "'"};
    }
    result.endpoint.port = static_cast<std::uint16_t>(value);
  }
  return result;
}

ControllerClient::ControllerClient(ControllerClientOptions options)
    : options_(std::move(options)),
      transport_(std::make_unique<engine::detail::Transport>(options_.url.endpoint)) {}

ControllerClient::~ControllerClient() = default;

http::request<http::string_body> controller_request(http::verb method, const std::string& target,
                                                    const engine::Endpoint& endpoint,
                                                    const std::string& token,
                                                    std::string_view user_agent) {
  http::request<http::string_body> request{method, target, 11};
  const bool v6 = endpoint.host.find(':') != std::string::npos;
  request.set(http::field::host, (v6 ? "[" + endpoint.host + "]" : endpoint.host) + ":" +
                                     std::to_string(endpoint.port));
  request.set(http::field::user_agent, user_agent);
  request.set(http::field::accept, "application/json");
  if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
  request.set(http::field::connection, "close");
  return request;
}

boost::asio::awaitable<engine::Result<DesiredSet>> ControllerClient::desired(std::uint64_t after) {
  const std::string path =
      options_.url.base_path + "/v1/nodes/" + engine::percent_encode(options_.node_id) + "/desired";
  const std::string target =
      path + "?after=" + std::to_string(after) + "&wait=" + std::to_string(options_.wait.count());
  const engine::detail::Call call{options_.url.endpoint.to_string(), "GET " + path};
  auto request = controller_request(http::verb::get, target, options_.url.endpoint, options_.token,
                                    "swarm-prepull-agent");
  request.prepare_payload();
  const engine::detail::Limits limits{options_.wait + options_.request_timeout, 16 * 1024,
                                      options_.body_limit};
  auto response = co_await transport_->request(call, std::move(request), limits);
  if (!response) co_return response.error();
  auto set = api::decode_desired_set(response->body);
  if (!set) {
    co_return call.fail(engine_errc::bad_response, set.error().to_string(), response->status);
  }
  co_return std::move(*set);
}

boost::asio::awaitable<engine::Result<void>> ControllerClient::post_status(
    const api::StatusReport& report) {
  const std::string path =
      options_.url.base_path + "/v1/nodes/" + engine::percent_encode(options_.node_id) + "/status";
  const engine::detail::Call call{options_.url.endpoint.to_string(), "POST " + path};
  auto request = controller_request(http::verb::post, path, options_.url.endpoint, options_.token,
                                    "swarm-prepull-agent");
  request.set(http::field::content_type, "application/json");
  request.body() = api::encode(report);
  request.prepare_payload();
  const engine::detail::Limits limits{options_.request_timeout, 16 * 1024, 64 * 1024};
  auto response = co_await transport_->request(call, std::move(request), limits);
  if (!response) co_return response.error();
  co_return engine::Result<void>{};
}

}  // namespace swarm_prepull::agent
