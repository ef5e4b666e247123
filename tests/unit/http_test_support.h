// Helpers for tests of http::Server: raw bytes to a loopback port (requests a
// well-behaved client would never send), and waiting on a condition with a
// deadline instead of sleeping.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <map>
#include <string>
#include <thread>

namespace swarm_prepull::testing {

struct RawReply {
  int status = 0;  // 0: no answer
  std::string body;
  std::map<std::string, std::string> headers;
  std::string raw;  // what went wrong, or the status line, for messages
};

// Writes `bytes` on a fresh connection to 127.0.0.1:port and reads one
// response (`head`: a response to HEAD, without a body).
inline RawReply raw_exchange(unsigned short port, const std::string& bytes, bool head = false) {
  namespace net = boost::asio;
  namespace http = boost::beast::http;
  RawReply reply;
  net::io_context context;
  net::ip::tcp::socket socket(context);
  boost::system::error_code ec;
  socket.connect({net::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) {
    reply.raw = "connect: " + ec.message();
    return reply;
  }
  net::write(socket, net::buffer(bytes), ec);
  // A server may answer and close before reading all: the answer still counts.
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.skip(head);
  http::read(socket, buffer, parser, ec);
  if (ec) {
    reply.raw = "read: " + ec.message();
    return reply;
  }
  const auto& response = parser.get();
  reply.status = static_cast<int>(response.result_int());
  reply.body = response.body();
  for (const auto& field : response) {
    reply.headers[std::string(field.name_string())] = std::string(field.value());
  }
  reply.raw = std::to_string(reply.status) + " " + reply.body;
  return reply;
}

// Polls `condition` until it holds or `deadline` passes; true when it held.
// The deadline is generous: it bounds a failing test, not a passing one.
template <class Condition>
bool wait_until(Condition condition,
                std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace swarm_prepull::testing
