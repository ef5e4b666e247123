// The one client of the controller's agent API (docs/agent-api.md), used by
// the agent (its node's desired set, its status) and by the gate of
// `swarm-prepull wait` (warm requests, readiness). Plain HTTP/1.1 on
// http::Client, one connection per request, every exchange bounded in time
// and size; bodies are the messages of api/messages.h.
//
// Failures are Error values in the controller's words (api/error.h):
// unauthorized with the controller's message, not_found, unavailable,
// bad_response, unreachable, ... A controller's error body is decoded once,
// by the HTTP layer; nothing re-reads an error's text.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/error.h"
#include "api/messages.h"
#include "http/client.h"
#include "http/endpoint.h"

namespace swarm_prepull::api {

// Where the controller listens: "http://host:port", "http://host" (port 80),
// "http://[::1]:7963/prefix". https:// is refused: the agent API runs on the
// swarm's internal network.
using ControllerUrl = http::Url;
Result<ControllerUrl> parse_controller_url(std::string_view url);

struct ControllerClientOptions {
  ControllerUrl url{};
  std::string node_id{};  // the agent's node (desired, post_status); empty for `wait`
  std::string token{};    // bearer token; never logged
  std::string user_agent = "swarm-prepull";
  std::chrono::seconds wait{30};                      // long-poll hold, at most 60
  std::chrono::milliseconds request_timeout{10'000};  // on top of `wait` for the poll
  std::size_t body_limit = 64 * 1024 * 1024;          // of an answer
};

class ControllerClient {
 public:
  explicit ControllerClient(ControllerClientOptions options);
  ~ControllerClient();
  ControllerClient(const ControllerClient&) = delete;
  ControllerClient& operator=(const ControllerClient&) = delete;

  // GET /v1/nodes/{node_id}/desired?after=G&wait=S: the node's set once its
  // generation is past `after`, or when the hold runs out.
  boost::asio::awaitable<Result<DesiredSet>> desired(std::uint64_t after);
  // POST /v1/nodes/{node_id}/status.
  boost::asio::awaitable<Result<void>> post_status(const StatusReport& report);
  // POST /v1/warm. `timeout` bounds this exchange (default: request_timeout).
  boost::asio::awaitable<Result<WarmAnswer>> warm(
      const WarmRequest& request, std::optional<std::chrono::milliseconds> timeout = {});
  // GET /v1/images; with `refs`, ?refs= asks for those images alone (a
  // target that would be longer than max_refs_target asks for all).
  boost::asio::awaitable<Result<ImagesListing>> images(
      std::optional<std::chrono::milliseconds> timeout = {},
      const std::vector<std::string>& refs = {});
  // Within what a proxy in front of the controller takes in a request line
  // (nginx: 8 KiB by default), and the controller's 16 KiB of request head.
  static constexpr std::size_t max_refs_target = 4 * 1024;
  // "?refs=A,B", percent-encoded where a reference needs it.
  static std::string images_query(const std::vector<std::string>& refs);

  const ControllerClientOptions& options() const { return options_; }

 private:
  // One exchange: the request with the headers every call sends, the answer
  // as a 2xx body or an Error in the controller's words.
  boost::asio::awaitable<Result<http::Reply>> exchange(http::verb method, std::string path,
                                                       std::string query, std::string body,
                                                       std::chrono::milliseconds timeout);

  ControllerClientOptions options_;
  http::Client client_;
};

}  // namespace swarm_prepull::api
