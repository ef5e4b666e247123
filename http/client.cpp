#include "http/client.h"

#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <exception>
#include <span>
#include <stdexcept>
#include <tuple>
#include <variant>

namespace swarm_prepull::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;

// Every operation completes with a tuple (error_code, ...): failures are
// values to classify, not exceptions.
using Token = net::as_tuple_t<net::use_awaitable_t<>>;
using Executor = Token::executor_with_default<net::any_io_executor>;
using UnixStream = beast::basic_stream<net::local::stream_protocol, Executor>;
using TcpStream = beast::basic_stream<net::ip::tcp, Executor>;
using TlsStream = beast::ssl_stream<TcpStream>;
using Resolver = Token::as_default_on_t<net::ip::tcp::resolver>;
using Connection = std::variant<UnixStream, TcpStream, TlsStream>;

// Reads go through a fixed chunk; the body parser never buffers more.
constexpr std::size_t kChunk = 64 * 1024;
// The read buffer's capacity is what one socket read asks for: a body parsed
// into a buffer_body never grows it, so it must start large (left at the
// header's size, a 16 MB blob arrived 512 bytes a read, at 2 MB/s).
constexpr std::size_t kReadBuffer = 64 * 1024;
// Of an error response we only want the peer's one-line message.
constexpr std::size_t kErrorBodyLimit = 64 * 1024;

Result<void> ok() { return {}; }

std::string format_ms(Milliseconds duration) { return std::to_string(duration.count()) + " ms"; }

// Runs `operation` against a timer; whichever finishes first wins and the
// other is cancelled. This is parallel_group's wait_for_one: the `||` of
// awaitable_operators waits for the first *success*, so an operation that
// throws would be reported as a timeout only once the timer fires.
template <class T>
net::awaitable<Result<T>> within(const Call& call, std::optional<Milliseconds> timeout,
                                 net::awaitable<Result<T>> operation, std::string_view what) {
  if (!timeout) co_return co_await std::move(operation);
  const auto executor = co_await net::this_coro::executor;
  net::steady_timer timer(executor, *timeout);
  auto [order, exception, result, timer_error] =
      co_await net::experimental::make_parallel_group(
          net::co_spawn(executor, std::move(operation), net::deferred),
          timer.async_wait(net::deferred))
          .async_wait(net::experimental::wait_for_one(), net::use_awaitable);
  if (order[0] == 0) {
    if (exception) std::rethrow_exception(exception);
    co_return std::move(result);
  }
  if (timer_error) co_return call.fail(errc::cancelled, "cancelled by the caller");
  co_return call.fail(errc::timeout, std::string(what) + " within " + format_ms(*timeout));
}

bool is_parse_error(const error_code& error) {
  return error.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
         error != bhttp::error::end_of_stream && error != bhttp::error::partial_message;
}

// A failed read, classified. While a stream's body is read the peer going
// away is connection_lost (the caller reconnects); in a bounded response it
// leaves a truncated answer, a bad_response.
Error read_failure(const Call& call, const error_code& error, bool streaming,
                   const bhttp::response_parser<bhttp::buffer_body>& parser,
                   std::optional<std::size_t> body_limit) {
  if (error == net::error::operation_aborted) {
    return call.fail(errc::cancelled, "cancelled by the caller");
  }
  const unsigned status = parser.is_header_done() ? parser.get().result_int() : 0;
  if (error == bhttp::error::body_limit) {
    return call.fail(
        errc::too_large,
        "the body exceeds the limit of " + std::to_string(body_limit.value_or(0)) + " bytes",
        status);
  }
  if (error == bhttp::error::header_limit) {
    return call.fail(errc::too_large, "the response header exceeds its limit", status);
  }
  if (is_parse_error(error)) {
    return call.fail(errc::bad_response, "malformed HTTP: " + error.message(), status);
  }
  if (streaming) {
    return call.fail(errc::connection_lost, "the stream broke off: " + error.message(), status);
  }
  return call.fail(errc::bad_response, "truncated response: " + error.message(), status);
}

Error line_too_long(const Call& call, const StreamLimits& limits) {
  return call.fail(errc::too_large,
                   "a line exceeds the limit of " + std::to_string(limits.line_limit) + " bytes",
                   200);
}

// One line, without its line ending, to on_line; blank lines carry nothing.
Result<void> deliver(const Call& call, const StreamLimits& limits, const LineHandler& on_line,
                     std::string_view line) {
  if (line.ends_with('\r')) line.remove_suffix(1);
  if (line.size() > limits.line_limit) return line_too_long(call, limits);
  return line.empty() ? ok() : on_line(line);
}

}  // namespace

Error Call::fail(boost::system::error_code code, std::string message, unsigned status) const {
  return Error{code, endpoint, request, status, std::move(message)};
}

struct Client::Session {
  Session(bhttp::request<bhttp::string_body> request, std::size_t header_limit,
          std::optional<std::size_t> body_limit)
      : request(std::move(request)), body_limit(body_limit) {
    parser.header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(header_limit, UINT32_MAX)));
    if (body_limit) {
      parser.body_limit(*body_limit);
    } else {
      parser.body_limit(boost::none);  // a stream; its lines are bounded instead
    }
    // A HEAD answer says Content-Length without a body to follow.
    parser.skip(this->request.method() == bhttp::verb::head);
    buffer.reserve(kReadBuffer);
  }

  // One read into `chunk`: the number of body bytes it produced. The
  // connection is one of three stream types; each operation visits it.
  net::awaitable<Result<std::size_t>> read_some(const Call& call, std::span<char> chunk,
                                                bool streaming) {
    auto& body = parser.get().body();
    body.data = chunk.data();
    body.size = chunk.size();
    auto [error, ignored] = co_await std::visit(
        [&](auto& stream) { return bhttp::async_read_some(stream, buffer, parser); }, *connection);
    if (error && error != bhttp::error::need_buffer) {
      co_return read_failure(call, error, streaming, parser, body_limit);
    }
    co_return chunk.size() - body.size;
  }

  // The rest of the body, up to `max` bytes (more is left unread).
  net::awaitable<Result<std::string>> collect(const Call& call, std::size_t max) {
    std::string body;
    std::array<char, kChunk> chunk{};
    while (!parser.is_done() && body.size() < max) {
      auto count = co_await read_some(call, chunk, /*streaming=*/false);
      if (!count) co_return count.error();
      body.append(chunk.data(), std::min(*count, max - body.size()));
    }
    co_return body;
  }

  // The body to `sink` as it arrives, each read within `idle`.
  net::awaitable<Result<void>> read_chunks(const Call& call, std::optional<Milliseconds> idle,
                                           const ChunkSink& sink) {
    std::array<char, kChunk> chunk{};
    while (!parser.is_done()) {
      auto count = co_await within(call, idle, read_some(call, chunk, true), "no data");
      if (!count) co_return count.error();
      if (*count == 0) continue;
      auto taken = co_await sink(std::string_view(chunk.data(), *count));
      if (!taken) co_return taken.error();
    }
    co_return ok();
  }

  // The body split into lines. The unfinished last line waits in `pending`,
  // which never holds more than the line limit and one chunk.
  net::awaitable<Result<void>> read_lines(const Call& call, const StreamLimits& limits,
                                          const LineHandler& on_line) {
    std::string pending;
    const ChunkSink split = [&](std::string_view bytes) -> net::awaitable<Result<void>> {
      pending.append(bytes);
      std::size_t start = 0;
      for (auto end = pending.find('\n'); end != std::string::npos;
           end = pending.find('\n', start)) {
        auto delivered =
            deliver(call, limits, on_line, std::string_view(pending).substr(start, end - start));
        if (!delivered) co_return delivered.error();
        start = end + 1;
      }
      pending.erase(0, start);
      if (pending.size() > limits.line_limit) co_return line_too_long(call, limits);
      co_return ok();
    };
    auto read = co_await read_chunks(call, limits.idle, split);
    if (!read) co_return read.error();
    co_return deliver(call, limits, on_line, pending);  // a last line without "\n"
  }

  bhttp::request<bhttp::string_body> request;
  std::optional<std::size_t> body_limit;  // nullopt for streams
  std::optional<Connection> connection;
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
};

Client::Client(Endpoint endpoint, Limits limits) : endpoint_(std::move(endpoint)), limits_(limits) {
  if (endpoint_.kind != Endpoint::Kind::tcp || !endpoint_.tls) return;
  const TlsOptions& options = *endpoint_.tls;
  const auto fail = [&](const std::string& what, const error_code& error) {
    throw std::runtime_error("TLS for " + endpoint_.to_string() + ": " + what + ": " +
                             error.message());
  };
  tls_ = std::make_unique<net::ssl::context>(net::ssl::context::tls_client);
  error_code error;
  // Like the docker CLI: verify only with DOCKER_TLS_VERIFY; ca.pem is then
  // required, the client certificate is used whenever both files exist.
  if (options.verify && options.ca_file.empty()) {
    tls_->set_default_verify_paths(error);  // a public registry: the system's CAs
    if (error) fail("loading the system's CA certificates", error);
    tls_->set_verify_mode(net::ssl::verify_peer);
  } else if (options.verify) {
    tls_->load_verify_file(options.ca_file, error);
    if (error) fail("loading " + options.ca_file, error);
    tls_->set_verify_mode(net::ssl::verify_peer);
  } else {
    tls_->set_verify_mode(net::ssl::verify_none);
  }
  const bool have_cert = ::access(options.cert_file.c_str(), R_OK) == 0;
  const bool have_key = ::access(options.key_file.c_str(), R_OK) == 0;
  if (have_cert != have_key) {
    throw std::runtime_error("TLS for " + endpoint_.to_string() + ": " +
                             (have_cert ? options.cert_file + " without " + options.key_file
                                        : options.key_file + " without " + options.cert_file));
  }
  if (have_cert) {
    tls_->use_certificate_chain_file(options.cert_file, error);
    if (error) fail("loading " + options.cert_file, error);
    tls_->use_private_key_file(options.key_file, net::ssl::context::pem, error);
    if (error) fail("loading " + options.key_file, error);
  }
}

Client::~Client() = default;

net::awaitable<Result<void>> Client::connect(Session& session, const Call& call) {
  const auto executor = co_await net::this_coro::executor;
  if (endpoint_.kind == Endpoint::Kind::unix_socket) {
    if (endpoint_.path.size() >= sizeof(sockaddr_un::sun_path)) {
      co_return call.fail(errc::unavailable, "socket path too long: " + endpoint_.path);
    }
    UnixStream stream(executor);
    auto [error] =
        co_await stream.async_connect(net::local::stream_protocol::endpoint(endpoint_.path));
    if (error) {
      co_return call.fail(errc::unavailable,
                          "connecting to " + endpoint_.path + ": " + error.message());
    }
    session.connection.emplace(std::in_place_type<UnixStream>, std::move(stream));
    co_return ok();
  }

  const std::string address = endpoint_.host + ":" + std::to_string(endpoint_.port);
  error_code not_literal;
  const auto literal = net::ip::make_address(endpoint_.host, not_literal);
  TcpStream stream(executor);
  error_code connect_error;
  if (!not_literal) {
    // No lookup for a literal address: getaddrinfo runs on Asio's resolver
    // thread, a hand-off each way per request (9% of the load harness's core
    // when 1,000 agents reconnect at once).
    std::tie(connect_error) =
        co_await stream.async_connect(net::ip::tcp::endpoint(literal, endpoint_.port));
  } else {
    // getaddrinfo cannot be cancelled: a stalled DNS lookup outlasts the
    // request timeout by the resolver's own timeout.
    Resolver resolver(executor);
    auto [resolve_error, addresses] =
        co_await resolver.async_resolve(endpoint_.host, std::to_string(endpoint_.port));
    if (resolve_error) {
      co_return call.fail(errc::unavailable,
                          "resolving " + endpoint_.host + ": " + resolve_error.message());
    }
    std::tie(connect_error, std::ignore) = co_await stream.async_connect(addresses);
  }
  if (connect_error) {
    co_return call.fail(errc::unavailable,
                        "connecting to " + address + ": " + connect_error.message());
  }
  if (!tls_) {
    session.connection.emplace(std::in_place_type<TcpStream>, std::move(stream));
    co_return ok();
  }

  auto& tls_stream = std::get<TlsStream>(
      session.connection.emplace(std::in_place_type<TlsStream>, std::move(stream), *tls_));
  // SNI carries names only, never address literals (RFC 6066 section 3).
  if (not_literal &&
      !SSL_set_tlsext_host_name(tls_stream.native_handle(), endpoint_.host.c_str())) {
    co_return call.fail(errc::unavailable, "cannot set the TLS server name");
  }
  if (endpoint_.tls->verify) {
    tls_stream.set_verify_callback(net::ssl::host_name_verification(endpoint_.host));
  }
  auto [handshake_error] = co_await tls_stream.async_handshake(net::ssl::stream_base::client);
  if (handshake_error) {
    co_return call.fail(errc::unavailable,
                        "TLS handshake with " + address + ": " + handshake_error.message());
  }
  co_return ok();
}

net::awaitable<Result<void>> Client::open(Session& session, const Call& call, Answers answers) {
  if (auto connected = co_await connect(session, call); !connected) co_return connected.error();
  auto [write_error, written] =
      co_await std::visit([&](auto& stream) { return bhttp::async_write(stream, session.request); },
                          *session.connection);
  if (write_error) {
    co_return call.fail(errc::connection_lost, "sending the request: " + write_error.message());
  }
  auto [read_error, read] = co_await std::visit(
      [&](auto& stream) {
        return bhttp::async_read_header(stream, session.buffer, session.parser);
      },
      *session.connection);
  if (read_error) {
    co_return read_failure(call, read_error, /*streaming=*/false, session.parser,
                           session.body_limit);
  }

  const unsigned status = session.parser.get().result_int();
  if (status / 100 == 2 || answers == Answers::any ||
      (answers == Answers::success_or_redirect && status / 100 == 3)) {
    co_return ok();
  }
  auto body = co_await session.collect(call, kErrorBodyLimit);
  co_return call.fail(errc::status, peer_message(body ? *body : ""), status);
}

net::awaitable<Result<Reply>> Client::fetch(Session& session, const Call& call, Answers answers) {
  if (auto opened = co_await open(session, call, answers); !opened) co_return opened.error();
  auto body = co_await session.collect(call, std::numeric_limits<std::size_t>::max());
  if (!body) co_return body.error();
  co_return Reply{session.parser.get().result_int(), session.parser.get().base(), std::move(*body)};
}

Request Client::prepare(Request request) const {
  request.set(field::host, endpoint_.host_header());
  request.set(field::connection, "close");  // one connection per request
  request.prepare_payload();
  return request;
}

Call Client::call_for(const Request& request) const {
  const std::string_view target = request.target();
  return Call{endpoint_.to_string(), std::string(request.method_string()) + " " +
                                         std::string(target.substr(0, target.find('?')))};
}

net::awaitable<Result<Reply>> Client::request(Request request) {
  Call call = call_for(request);
  co_return co_await this->request(std::move(call), std::move(request), limits_);
}

net::awaitable<Result<Reply>> Client::request(Call call, Request request, Limits limits) {
  co_return co_await exchange(std::move(call), std::move(request), limits, Answers::success);
}

net::awaitable<Result<Reply>> Client::exchange(Call call, Request request, Limits limits,
                                               Answers answers) {
  try {
    Session session(std::move(request), limits.header_limit, limits.body_limit);
    co_return co_await within(call, limits.timeout, fetch(session, call, answers),
                              "no complete response");
  } catch (const boost::system::system_error& error) {
    // A cancelled coroutine throws at its next co_await (this_coro::throw_if_cancelled).
    if (error.code() != net::error::operation_aborted) throw;
  }
  co_return call.fail(errc::cancelled, "cancelled by the caller");
}

net::awaitable<Result<void>> Client::stream(Call call, Request request, Limits limits,
                                            StreamLimits stream_limits, LineHandler on_line) {
  try {
    Session session(std::move(request), limits.header_limit, std::nullopt);
    auto opened = co_await within(call, limits.timeout, open(session, call), "no response header");
    if (!opened) co_return opened.error();
    co_return co_await within(call, stream_limits.total,
                              session.read_lines(call, stream_limits, on_line),
                              "the stream did not end");
  } catch (const boost::system::system_error& error) {
    if (error.code() != net::error::operation_aborted) throw;
  }
  co_return call.fail(errc::cancelled, "cancelled by the caller");
}

net::awaitable<Result<Reply>> Client::download(Call call, Request request, Limits limits,
                                               StreamLimits stream_limits, Answers answers,
                                               ChunkSink on_chunk) {
  try {
    Session session(std::move(request), limits.header_limit, std::nullopt);
    auto opened =
        co_await within(call, limits.timeout, open(session, call, answers), "no response header");
    if (!opened) co_return opened.error();
    Reply reply{session.parser.get().result_int(), session.parser.get().base(), {}};
    if (reply.status / 100 != 2) co_return reply;
    auto read = co_await within(call, stream_limits.total,
                                session.read_chunks(call, stream_limits.idle, on_chunk),
                                "the body did not end");
    if (!read) co_return read.error();
    co_return reply;
  } catch (const boost::system::system_error& error) {
    if (error.code() != net::error::operation_aborted) throw;
  }
  co_return call.fail(errc::cancelled, "cancelled by the caller");
}

}  // namespace swarm_prepull::http
