// The HTTP/1.1 client: one endpoint (unix socket, TCP or TLS), one fresh
// connection per request, so a stream that timed out or was cancelled is never
// reused. engine::Client sits on it, and so does the agent-API client.
//
// Every failure is a value (http::Error, see http/error.h): unavailable when
// it cannot connect, timeout, connection_lost, too_large, bad_response, and
// status for a non-2xx answer, carrying the status and the peer's message
// (peer_message: the "message" or "error" of a JSON body). Callers that want
// words of their own (the engine's not_found, ...) map the code and keep the
// context.
//
// Use:
//   http::Client client(endpoint, {.timeout = 10s, .header_limit = 16 * 1024,
//                                  .body_limit = 1024 * 1024});
//   http::Request request{http::verb::get, "/v1/images", 11};
//   auto response = co_await client.request(client.prepare(std::move(request)));
//   if (!response) log(response.error().to_string());
//
// A Client is not thread-safe; its coroutines run on the awaiting executor and
// must not outlive it. Arguments are taken by value.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/endpoint.h"
#include "http/error.h"

namespace boost::asio::ssl {
class context;
}

namespace swarm_prepull::http {

// Beast's vocabulary, so that users write http::verb::get, http::status::ok.
using boost::beast::http::field;
using boost::beast::http::status;
using boost::beast::http::verb;
using Fields = boost::beast::http::fields;
using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;
using Milliseconds = std::chrono::milliseconds;

// The context every error of one request carries.
struct Call {
  std::string endpoint;  // "unix:///var/run/docker.sock"
  std::string request;   // "GET /v1.41/nodes"
  // An Error with this context; `code` may be of any category (errc, engine_errc).
  Error fail(boost::system::error_code code, std::string message, unsigned status = 0) const;
};

struct Limits {
  Milliseconds timeout{std::chrono::seconds(30)};  // a whole exchange; for a stream, its header
  std::size_t header_limit = 64 * 1024;            // bytes of status line and header fields
  std::size_t body_limit = 16 * 1024 * 1024;       // bytes of a bounded body
};

struct StreamLimits {
  std::optional<Milliseconds> total;     // the whole body; nullopt: none (events)
  std::optional<Milliseconds> idle;      // between two reads; nullopt: none (events)
  std::size_t line_limit = 1024 * 1024;  // bytes of one line
};

// What a bounded request returns: the status (2xx), the header fields, the body.
struct Reply {
  unsigned status = 0;
  Fields headers;
  std::string body;
};

// Which statuses a request takes as its answer; any other is errc::status.
enum class Answers {
  success,              // 2xx
  success_or_redirect,  // 2xx and 3xx
  any,
};

// Called per non-empty line of a streamed body, without its "\r\n"; an error
// ends the stream with that error.
using LineHandler = std::function<Result<void>(std::string_view line)>;

// Called with each piece of a downloaded body as it arrives; an error ends the
// download with that error.
using ChunkSink = std::function<boost::asio::awaitable<Result<void>>(std::string_view bytes)>;

class Client {
 public:
  // Throws std::runtime_error when TLS files cannot be loaded: a start-up
  // misconfiguration the operator must fix, not a runtime condition.
  explicit Client(Endpoint endpoint, Limits limits = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const Endpoint& endpoint() const { return endpoint_; }
  const Limits& limits() const { return limits_; }

  // Sets Host (from the endpoint), Connection: close (one request per
  // connection) and the body's Content-Length; returns the request.
  Request prepare(Request request) const;

  // The error context of a request: the endpoint and "METHOD target" without
  // its query.
  Call call_for(const Request& request) const;

  // Sends `request` and reads the whole response within limits.timeout. A
  // non-2xx status is errc::status with the status and the peer's message.
  boost::asio::awaitable<Result<Reply>> request(Request request);
  boost::asio::awaitable<Result<Reply>> request(Call call, Request request, Limits limits);

  // The same, but the statuses in `answers` are returned as replies for the
  // caller to read (a registry's 401 carries its WWW-Authenticate challenge);
  // only the others are errc::status.
  boost::asio::awaitable<Result<Reply>> exchange(Call call, Request request, Limits limits,
                                                 Answers answers);

  // Sends `request`, reads the header within limits.timeout (a non-2xx status
  // is an error as above), then hands the body to on_line line by line. A body
  // that ends cleanly is success; one that breaks off is connection_lost.
  boost::asio::awaitable<Result<void>> stream(Call call, Request request, Limits limits,
                                              StreamLimits stream_limits, LineHandler on_line);

  // Sends `request`, reads the header within limits.timeout, then hands a
  // 2xx body to on_chunk as it arrives (each read within stream_limits.idle,
  // the whole body within stream_limits.total; its size is not bounded).
  // Returns the status and header fields. Another status in `answers` (a
  // redirect to follow, a 401 to authenticate) is returned with its body
  // unread; any other is errc::status as above.
  boost::asio::awaitable<Result<Reply>> download(Call call, Request request, Limits limits,
                                                 StreamLimits stream_limits, Answers answers,
                                                 ChunkSink on_chunk);

 private:
  struct Session;
  boost::asio::awaitable<Result<void>> connect(Session& session, const Call& call);
  boost::asio::awaitable<Result<void>> open(Session& session, const Call& call,
                                            Answers answers = Answers::success);
  boost::asio::awaitable<Result<Reply>> fetch(Session& session, const Call& call, Answers answers);

  Endpoint endpoint_;
  Limits limits_;
  std::unique_ptr<boost::asio::ssl::context> tls_;  // set for TLS endpoints only
};

}  // namespace swarm_prepull::http
