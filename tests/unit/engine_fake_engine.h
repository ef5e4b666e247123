// A loopback fake Docker engine for the engine/ unit tests: it answers each
// connection with the next scripted reply (bytes as they are, optionally over
// TLS) and records the requests, so tests can show what a real engine cannot
// be made to do: truncate, stall, send malformed JSON or errors mid-stream.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "engine/client.h"

namespace swarm_prepull::engine::fake {

namespace net = boost::asio;
using namespace std::chrono_literals;
using net::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Reply {
  std::string bytes;       // written as they are once the request header arrived
  bool hold_open = false;  // then keep the connection open: an engine that stalls
};

// Answers the n-th connection with the n-th reply and records each request's
// head. Its state is shared with its coroutine, which may outlive the object.
template <class Protocol>
class FakeEngine {
 public:
  // With `tls` (TCP only), every connection is a TLS server handshake first.
  FakeEngine(net::io_context& io, typename Protocol::endpoint endpoint, std::vector<Reply> replies,
             std::shared_ptr<net::ssl::context> tls = nullptr)
      : state_(std::make_shared<State>(io, endpoint, std::move(replies), std::move(tls))) {
    net::co_spawn(io, serve(state_), net::detached);
  }
  typename Protocol::endpoint endpoint() const { return state_->acceptor.local_endpoint(); }
  const std::vector<std::string>& requests() const { return state_->requests; }

 private:
  struct State {
    State(net::io_context& io, typename Protocol::endpoint endpoint, std::vector<Reply> replies,
          std::shared_ptr<net::ssl::context> tls)
        : acceptor(io, endpoint), replies(std::move(replies)), tls(std::move(tls)) {}
    typename Protocol::acceptor acceptor;
    std::vector<Reply> replies;
    std::shared_ptr<net::ssl::context> tls;
    std::vector<std::string> requests;
    std::vector<typename Protocol::socket> held;
  };

  static net::awaitable<void> serve(std::shared_ptr<State> state) {
    for (const Reply& reply : state->replies) {
      try {
        auto socket = co_await state->acceptor.async_accept(net::use_awaitable);
        if constexpr (std::is_same_v<Protocol, tcp>) {
          if (state->tls) {
            net::ssl::stream<tcp::socket> stream(std::move(socket), *state->tls);
            co_await stream.async_handshake(net::ssl::stream_base::server, net::use_awaitable);
            co_await answer(*state, stream, reply);
            continue;
          }
        }
        co_await answer(*state, socket, reply);
        if (reply.hold_open) state->held.push_back(std::move(socket));
      } catch (const boost::system::system_error&) {
        // The client gave up first (a timeout test): on to the next reply.
      }
    }
  }

  static std::size_t content_length(std::string_view head) {
    std::string lower(head);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const auto at = lower.find("\r\ncontent-length:");
    if (at == std::string::npos) return 0;
    return std::strtoull(lower.c_str() + at + 17, nullptr, 10);
  }

  template <class Stream>
  static net::awaitable<void> answer(State& state, Stream& stream, const Reply& reply) {
    std::string head;
    co_await net::async_read_until(stream, net::dynamic_buffer(head), "\r\n\r\n",
                                   net::use_awaitable);
    const std::size_t head_end = head.find("\r\n\r\n") + 4;
    state.requests.push_back(head.substr(0, head_end - 4));
    // The body is read, not kept, before answering: a socket closed with bytes
    // unread is reset, and the client would see that instead of the answer.
    std::size_t unread = content_length(state.requests.back());
    unread -= std::min(unread, head.size() - head_end);
    std::string body(std::min<std::size_t>(unread, 64 * 1024), '\0');
    while (unread > 0) {
      const std::size_t read = co_await stream.async_read_some(
          net::buffer(body.data(), std::min(unread, body.size())), net::use_awaitable);
      unread -= read;
    }
    co_await net::async_write(stream, net::buffer(reply.bytes), net::use_awaitable);
  }

  std::shared_ptr<State> state_;
};

inline std::string response(unsigned status, std::string_view reason, std::string_view body,
                            std::string_view headers = "Content-Type: application/json\r\n") {
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n" +
         std::string(headers) + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         std::string(body);
}

inline Reply ping(std::string_view version = "1.41") {
  return {response(200, "OK", "OK", "Api-Version: " + std::string(version) + "\r\n")};
}

inline Reply json(std::string_view body, unsigned status = 200, std::string_view reason = "OK") {
  return {response(status, reason, body)};
}

// A streamed 200 response, one chunk per line, as the engine writes events and
// pull progress; `end` writes the last chunk, else the stream stays open.
inline Reply stream(const std::vector<std::string>& lines, bool end, bool hold_open = false) {
  std::string bytes =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const std::string& line : lines) {
    char size[16];
    std::snprintf(size, sizeof size, "%zx", line.size() + 1);
    bytes += std::string(size) + "\r\n" + line + "\n\r\n";
  }
  if (end) bytes += "0\r\n\r\n";
  return {bytes, hold_open};
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "engine-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Runs one operation on `io` until it completes, failing rather than hanging.
template <class T>
T run(net::io_context& io, net::awaitable<T> operation, std::chrono::milliseconds bound = 10s) {
  io.restart();
  auto future = net::co_spawn(io, std::move(operation), net::use_future);
  const auto deadline = Clock::now() + bound;
  while (future.wait_for(0s) != std::future_status::ready) {
    if (Clock::now() > deadline) throw std::runtime_error("the operation hung");
    io.run_one_for(20ms);
  }
  return future.get();
}

}  // namespace swarm_prepull::engine::fake
