#include "http/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>
#include <limits>
#include <set>

namespace swarm_prepull::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

bool is_parse_error(const boost::system::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

std::string peer_address(const tcp::socket& socket) {
  boost::system::error_code ec;
  auto address = socket.remote_endpoint(ec).address();
  if (ec) return {};
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6());
  }
  return address.to_string();
}

struct Session {
  enum class Phase { reading, handling, writing };
  explicit Session(tcp::socket socket) : peer(peer_address(socket)), stream(std::move(socket)) {}
  std::string peer;  // RequestContext::peer
  beast::tcp_stream stream;
  Phase phase = Phase::reading;
  net::cancellation_signal cancel_handler;  // emitted when the server stops for good
};

}  // namespace

struct Server::State {
  State(net::any_io_executor executor, Router router, ServerOptions options,
        std::shared_ptr<spdlog::logger> logger)
      : executor(executor),
        router(std::move(router)),
        options(std::move(options)),
        logger(std::move(logger)),
        acceptor(executor),
        tasks_done(executor),
        slot_free(executor),
        accept_pause(executor) {}

  void task_ended() {
    if (--tasks == 0) tasks_done.cancel();
  }

  void close_all() {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    slot_free.cancel();
    accept_pause.cancel();
    for (const auto& session : sessions) {
      session->cancel_handler.emit(net::cancellation_type::all);
      session->stream.socket().close(ignored);
    }
  }

  net::any_io_executor executor;
  Router router;
  ServerOptions options;
  std::shared_ptr<spdlog::logger> logger;
  tcp::acceptor acceptor;
  std::set<std::shared_ptr<Session>> sessions;
  std::size_t tasks = 0;  // the accept loop and the connections still running
  bool stopping = false;
  net::steady_timer tasks_done;  // cancelled when the last task ends
  net::steady_timer slot_free;   // cancelled when a connection ends
  net::steady_timer accept_pause;
};

namespace {

// A task of the server: counted while its coroutine frame exists, however the
// coroutine ends (returns, throws, or is destroyed unstarted with its
// io_context). A connection's task also owns its session's place in the set.
struct Task {
  explicit Task(std::shared_ptr<Server::State> state, std::shared_ptr<Session> session = nullptr)
      : state(std::move(state)), session(std::move(session)) {
    ++this->state->tasks;
    if (this->session) this->state->sessions.insert(this->session);
  }
  Task(Task&& other) noexcept = default;
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  Task& operator=(Task&&) = delete;
  ~Task() {
    if (!state) return;
    if (session) {
      boost::system::error_code ignored;
      session->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      session->stream.socket().close(ignored);
      state->sessions.erase(session);
      state->slot_free.cancel();
    }
    state->task_ended();
  }
  std::shared_ptr<Server::State> state;
  std::shared_ptr<Session> session;
};

net::awaitable<void> serve(Task task);

net::awaitable<void> accept_loop(Task task) {
  auto& state = *task.state;
  while (!state.stopping) {
    if (state.sessions.size() >= state.options.max_connections) {
      // At the limit: accept nothing until a connection ends; new ones wait in
      // the kernel's listen queue.
      state.slot_free.expires_at(net::steady_timer::time_point::max());
      co_await state.slot_free.async_wait(use_tuple);
      continue;
    }
    auto [ec, socket] = co_await state.acceptor.async_accept(use_tuple);
    if (state.stopping || !state.acceptor.is_open()) break;
    if (ec) {
      // EMFILE and friends: back off instead of spinning.
      state.logger->warn("http accept failed: {}", ec.message());
      state.accept_pause.expires_after(std::chrono::milliseconds(100));
      co_await state.accept_pause.async_wait(use_tuple);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    net::co_spawn(state.executor,
                  serve(Task(task.state, std::make_shared<Session>(std::move(socket)))),
                  net::detached);
  }
}

// Runs the handler as a task of its own that stop() can cancel.
net::awaitable<Response> run_handler(Server::State& state, Session& session, const Route& route,
                                     const RequestContext& context) {
  std::optional<Response> response;
  std::string failure;
  try {
    response = co_await net::co_spawn(
        state.executor, route.handler(context),
        net::bind_cancellation_slot(session.cancel_handler.slot(), net::use_awaitable));
  } catch (const std::exception& error) {
    failure = error.what();
  }
  if (!response) {
    state.logger->error("http handler failed method={} path={} error={}",
                        std::string(context.request.method_string()), context.path, failure);
    co_return error_response(context.request, status::internal_server_error, "internal error");
  }
  co_return std::move(*response);
}

net::awaitable<void> serve(Task task) {
  auto& state = *task.state;
  auto& session = *task.session;
  const auto& options = state.options;
  beast::flat_buffer buffer;
  // What the request named, for on_answered (reset for every request).
  const std::map<std::string, std::string> no_params;
  verb method = verb::unknown;
  const Router::Match* named = nullptr;
  // A HEAD response keeps the GET's Content-Length without its body.
  const auto send = [&](Response response, bool keep_alive,
                        bool head = false) -> net::awaitable<bool> {
    if (options.on_answered) {
      options.on_answered(Answered{method, named != nullptr ? named->pattern : std::string_view{},
                                   named != nullptr ? named->params : no_params, session.peer,
                                   response.result_int()});
    }
    response.keep_alive(keep_alive);
    response.set(field::server, options.server_name);
    if (!head) response.prepare_payload();
    session.phase = Session::Phase::writing;
    session.stream.expires_after(options.write_timeout);
    auto [ec, written] = co_await bhttp::async_write(session.stream, response, use_tuple);
    co_return !ec && keep_alive;
  };
  const Request bare;

  while (!state.stopping) {
    method = verb::unknown;
    named = nullptr;
    session.phase = Session::Phase::reading;
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options.header_limit));
    // The body limit is applied once the headers passed the token gate, so
    // that a request without a token gets 401 whatever its size.
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    // One bound for the whole request, from the first byte awaited to the last.
    session.stream.expires_after(options.read_timeout);
    auto [header_ec, header_bytes] =
        co_await bhttp::async_read_header(session.stream, buffer, parser, use_tuple);
    if (header_ec) {
      if (header_ec == bhttp::error::header_limit) {
        co_await send(error_response(bare, status::request_header_fields_too_large,
                                     "request header too large"),
                      false);
      } else if (is_parse_error(header_ec)) {
        co_await send(error_response(bare, status::bad_request,
                                     "malformed HTTP request: " + header_ec.message()),
                      false);
      }
      // Timeouts, closed and reset connections: drop without a word.
      break;
    }
    const auto& header = parser.get();
    // One decision on one parse of the target: what routing and the token gate both see.
    auto admission = admit(state.router, header, options.bearer_token);
    method = header.method();
    named = &admission.match;
    if (admission.refusal) {
      // The body is never read: close after the answer.
      co_await send(std::move(*admission.refusal), false);
      break;
    }
    auto& target = admission.target;
    auto& match = admission.match;
    if (parser.content_length() && *parser.content_length() > options.body_limit) {
      co_await send(error_response(header, status::payload_too_large,
                                   "request body larger than " +
                                       std::to_string(options.body_limit) + " bytes"),
                    false);
      break;
    }
    parser.body_limit(options.body_limit);  // chunked bodies
    auto [body_ec, body_bytes] =
        co_await bhttp::async_read(session.stream, buffer, parser, use_tuple);
    if (body_ec == bhttp::error::body_limit) {
      co_await send(error_response(header, status::payload_too_large,
                                   "request body larger than " +
                                       std::to_string(options.body_limit) + " bytes"),
                    false);
      break;
    }
    if (body_ec) {
      if (is_parse_error(body_ec)) {
        co_await send(error_response(header, status::bad_request,
                                     "malformed HTTP request: " + body_ec.message()),
                      false);
      }
      break;
    }
    Request request = parser.release();
    session.phase = Session::Phase::handling;
    session.stream.expires_never();
    Response response;
    if (match.route == nullptr) {
      response = match.path_known
                     ? error_response(request, status::method_not_allowed,
                                      "method " + std::string(request.method_string()) +
                                          " not allowed on " + target.path)
                     : error_response(request, status::not_found, "no such path: " + target.path);
    } else {
      const RequestContext context{request, target.path, match.params, std::move(target.query),
                                   session.peer};
      response = co_await run_handler(state, session, *match.route, context);
      if (!session.stream.socket().is_open()) break;  // closed by stop(): nobody to answer
    }
    if (request.method() == verb::head) {
      response.prepare_payload();
      const auto length = response.body().size();
      response.body().clear();
      response.content_length(length);
    }
    const bool head = request.method() == verb::head;
    if (!co_await send(std::move(response), request.keep_alive() && !state.stopping, head)) break;
  }
}

}  // namespace

Server::Server(net::any_io_executor executor, Router router, ServerOptions options,
               std::shared_ptr<spdlog::logger> logger)
    : state_(std::make_shared<State>(std::move(executor), std::move(router), std::move(options),
                                     std::move(logger))) {
  state_->options.max_connections = std::max<std::size_t>(state_->options.max_connections, 1);
}

Server::~Server() {
  state_->stopping = true;
  state_->close_all();
}

tcp::endpoint Server::listen(const tcp::endpoint& endpoint) {
  auto& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol());
  acceptor.set_option(net::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(net::socket_base::max_listen_connections);
  net::co_spawn(state_->executor, accept_loop(Task(state_)), net::detached);
  return acceptor.local_endpoint();
}

net::awaitable<void> Server::stop() {
  auto state = state_;
  if (state->stopping) co_return;
  state->stopping = true;
  boost::system::error_code ignored;
  state->acceptor.close(ignored);
  state->slot_free.cancel();
  state->accept_pause.cancel();
  // Connections waiting for a request have nothing in flight: close them now.
  for (const auto& session : state->sessions) {
    if (session->phase == Session::Phase::reading) session->stream.socket().close(ignored);
  }
  if (state->tasks > 0) {
    state->tasks_done.expires_after(state->options.stop_timeout);
    co_await state->tasks_done.async_wait(use_tuple);
  }
  if (state->tasks > 0) {
    state->logger->warn("http stop: closing {} connection(s) still busy after {} ms",
                        state->sessions.size(), state->options.stop_timeout.count());
    state->close_all();
    // Every task now ends at its next step; the bound only guards against a
    // handler that ignores cancellation (its state stays valid: it holds it).
    state->tasks_done.expires_after(std::chrono::seconds(1));
    co_await state->tasks_done.async_wait(use_tuple);
    if (state->tasks > 0) {
      state->logger->error("http stop: {} task(s) did not end after their cancellation",
                           state->tasks);
    }
  }
}

bool Server::stopping() const { return state_->stopping; }
std::size_t Server::connections() const { return state_->sessions.size(); }
const ServerOptions& Server::options() const { return state_->options; }

std::optional<net::ip::tcp::endpoint> parse_listen_address(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string host(text.substr(0, colon));
  const std::string_view digits = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || port > 65535) {
    return std::nullopt;
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  boost::system::error_code error;
  const auto address = net::ip::make_address(host, error);
  if (error) return std::nullopt;
  return net::ip::tcp::endpoint(address, static_cast<unsigned short>(port));
}

}  // namespace swarm_prepull::http
