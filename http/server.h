// The HTTP/1.1 server on Beast and C++20 coroutines, shared by the controller
// (agent API, /metrics) and the agent (its /metrics).
//
// One decision per request, in this order, on one parse of the target:
//   1. The target must be in canonical origin form (http::parse_target):
//      anything else ("//x", "x", "/./", "/../", "%2F", a trailing '/',
//      "http://host/x", bytes outside RFC 3986, invalid UTF-8) is 400.
//   2. More than one Authorization header: 400.
//   3. Unless the method and decoded path match a route marked public, the
//      request needs "Authorization: Bearer <token>" (compared in constant
//      time): 401 before routing, so an unknown path or a wrong method says
//      nothing without the token, and before the body is read. With no token
//      configured, only public routes answer.
//   4. Routing: 404 for no such path, 405 for another method.
// Paths are case-sensitive. A HEAD request answers like its GET route, without
// the body, where the route table lists HEAD.
//
// Bounds: a header and body limit on every read (431, 413), a read timeout per
// request, a write timeout per response, and at most max_connections
// connections at once: beyond it the server stops accepting, so new
// connections wait in the kernel's listen queue until one ends (idle
// keep-alive connections end after read_timeout).
//
// Every error body is built so that it cannot throw on what the client sent
// (invalid UTF-8 is replaced), and a handler's exception is a 500.
//
// Everything runs on one executor (one io_context thread): a Server is not
// thread-safe and needs no locks. Its tasks (the accept loop and one per
// connection) share their state by shared_ptr, so none touches freed memory
// whatever ends first; stop() waits for every one of them to finish.
#pragma once

#include <spdlog/logger.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/router.h"

namespace swarm_prepull::http {

namespace net = boost::asio;

// One answer the server sent, refusals included: what its owner counts and logs.
struct Answered {
  verb method = verb::unknown;
  // The route pattern the path names (Router::Match::pattern), also for a
  // refused request; empty when the path names none or was not parsed.
  std::string_view pattern;
  const std::map<std::string, std::string>& params;  // the pattern's placeholders
  std::string_view peer;                             // RequestContext::peer
  unsigned status = 0;
};

struct ServerOptions {
  std::size_t header_limit = 16 * 1024;
  std::size_t body_limit = 1024 * 1024;  // larger bodies get 413
  // A request (headers and body, or the wait for the next request on a
  // kept-alive connection) not read within this is dropped.
  std::chrono::milliseconds read_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds write_timeout{std::chrono::seconds(10)};
  // On stop(), requests in flight get this long to answer; then their
  // handlers are cancelled and every connection is closed.
  std::chrono::milliseconds stop_timeout{std::chrono::seconds(3)};
  // Connections served at once; beyond it new ones wait in the listen queue.
  std::size_t max_connections = 256;
  // The bearer token of every route not marked public; empty: only public
  // routes answer.
  std::string bearer_token;
  std::string server_name = "swarm-prepull";
  // Called for every answer sent (not for connections dropped without one);
  // must not throw.
  std::function<void(const Answered&)> on_answered;
};

class Server {
 public:
  Server(net::any_io_executor executor, Router router, ServerOptions options,
         std::shared_ptr<spdlog::logger> logger);
  // Closes the listener and every connection; tasks still pending end on
  // their own (they hold what they use). Prefer co_await stop() first.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens (port 0 picks one); throws boost::system::system_error
  // when the address cannot be bound (a start-up error). Returns the bound
  // endpoint. Accepting starts at once on the executor.
  net::ip::tcp::endpoint listen(const net::ip::tcp::endpoint& endpoint);

  // Graceful stop: stops accepting, closes idle connections, lets requests in
  // flight answer (with Connection: close) for up to stop_timeout, then
  // cancels their handlers and closes what is left. Completes when every task
  // of the server has finished. Idempotent.
  net::awaitable<void> stop();

  bool stopping() const;
  // Connections being served now.
  std::size_t connections() const;
  const ServerOptions& options() const;

  struct State;  // shared with the server's tasks; public for the implementation file

 private:
  std::shared_ptr<State> state_;
};

// Where a server listens: "ADDR:PORT", "[v6]:PORT" or ":PORT" (all IPv4
// addresses); port 0 lets the kernel pick one. nullopt when invalid.
std::optional<net::ip::tcp::endpoint> parse_listen_address(std::string_view text);

}  // namespace swarm_prepull::http
