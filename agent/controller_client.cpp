#include "agent/controller_client.h"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "engine/url.h"

namespace swarm_prepull::agent {

using engine::engine_errc;

reconcile::Expected<ControllerUrl> parse_controller_url(std::string_view url) {
  auto parsed = http::parse_http_url(url);
  if (!parsed) return reconcile::Error{"--controller: " + parsed.error().message};
  return ControllerUrl{std::move(parsed->endpoint), std::move(parsed->base_path)};
}

ControllerClient::ControllerClient(ControllerClientOptions options)
    : options_(std::move(options)),
      transport_(std::make_unique<http::Client>(options_.url.endpoint)) {}

ControllerClient::~ControllerClient() = default;

http::Request controller_request(http::verb method, const std::string& target,
                                                    const engine::Endpoint& endpoint,
                                                    const std::string& token,
                                                    std::string_view user_agent) {
  http::Request request{method, target, 11};
  request.set(http::field::host, endpoint.host_header());
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
  const http::Call call{options_.url.endpoint.to_string(), "GET " + path};
  auto request = controller_request(http::verb::get, target, options_.url.endpoint, options_.token,
                                    "swarm-prepull-agent");
  request.prepare_payload();
  const http::Limits limits{options_.wait + options_.request_timeout, 16 * 1024,
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
  const http::Call call{options_.url.endpoint.to_string(), "POST " + path};
  auto request = controller_request(http::verb::post, path, options_.url.endpoint, options_.token,
                                    "swarm-prepull-agent");
  request.set(http::field::content_type, "application/json");
  request.body() = api::encode(report);
  request.prepare_payload();
  const http::Limits limits{options_.request_timeout, 16 * 1024, 64 * 1024};
  auto response = co_await transport_->request(call, std::move(request), limits);
  if (!response) co_return response.error();
  co_return engine::Result<void>{};
}

}  // namespace swarm_prepull::agent
