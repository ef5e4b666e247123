// The agent's side of docs/agent-api.md: long-polls its node's desired set
// and posts its status, over plain HTTP/1.1, one connection per request.
//
// It uses the HTTP layer's client (http/client.h: timeouts, header and body
// limits, one fresh connection per request).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "agent/state.h"
#include "engine/endpoint.h"
#include "engine/error.h"
#include "http/client.h"
#include "reconcile/expected.h"

namespace swarm_prepull::agent {

struct ControllerUrl {
  engine::Endpoint endpoint;  // tcp host:port
  std::string base_path;      // "" or "/prefix" without a trailing '/'
};

// A request to the controller's API with the headers every client sends:
// Host, Accept, the bearer token (when not empty), one request per connection.
boost::beast::http::request<boost::beast::http::string_body> controller_request(
    boost::beast::http::verb method, const std::string& target, const engine::Endpoint& endpoint,
    const std::string& token, std::string_view user_agent);

// "http://host:port", "http://host" (port 80), "http://[::1]:7946/prefix".
// https:// is refused (the agent API runs on the swarm's internal network).
reconcile::Expected<ControllerUrl> parse_controller_url(std::string_view url);

struct ControllerClientOptions {
  ControllerUrl url;
  std::string node_id;
  std::string token;                                  // bearer token; never logged
  std::chrono::seconds wait{30};                      // long-poll hold, at most 60
  std::chrono::milliseconds request_timeout{10'000};  // on top of `wait` for the poll
  std::size_t body_limit = 16 * 1024 * 1024;
};

class ControllerClient {
 public:
  explicit ControllerClient(ControllerClientOptions options);
  ~ControllerClient();
  ControllerClient(const ControllerClient&) = delete;
  ControllerClient& operator=(const ControllerClient&) = delete;

  // GET /v1/nodes/{id}/desired?after=G&wait=S. A 401 is an unauthorized error
  // (status 401), a 404 (unknown node) not_found; a malformed body bad_response.
  boost::asio::awaitable<engine::Result<DesiredSet>> desired(std::uint64_t after);
  // POST /v1/nodes/{id}/status.
  boost::asio::awaitable<engine::Result<void>> post_status(const api::StatusReport& report);

  const ControllerClientOptions& options() const { return options_; }

 private:
  ControllerClientOptions options_;
  std::unique_ptr<http::Client> transport_;
};

}  // namespace swarm_prepull::agent
