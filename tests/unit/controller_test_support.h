// Helpers for the server_, metrics_ and controller_ unit tests: plans built
// from plain nodes and services, and a blocking HTTP call on its own
// io_context with a timeout.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "reconcile/plan.h"
#include "tests/unit/swarm_builders.h"

namespace swarm_prepull::testing {

inline reconcile::Node test_node(std::string id, std::string hostname) {
  return make_node(std::move(id), std::move(hostname));
}

// A service on every node, or on one hostname.
inline reconcile::Service test_service(std::string name, std::string image,
                                       std::string only_hostname = {}) {
  reconcile::Service service;
  service.id = name + "-id";
  service.spec.name = std::move(name);
  service.spec.image = std::move(image);
  if (!only_hostname.empty()) {
    service.spec.placement.constraints.push_back("node.hostname==" + only_hostname);
  }
  return service;
}

struct HttpReply {
  int status = 0;  // 0: no answer (closed, timed out)
  std::string body;
  std::map<std::string, std::string> headers;
  std::chrono::milliseconds took{0};
};

// One request on a fresh connection to 127.0.0.1:port.
inline HttpReply http_call(unsigned short port, boost::beast::http::verb method, std::string target,
                           std::string body = {}, std::map<std::string, std::string> headers = {},
                           std::chrono::seconds timeout = std::chrono::seconds(20)) {
  namespace net = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  net::io_context context;
  HttpReply reply;
  const auto started = std::chrono::steady_clock::now();
  net::co_spawn(
      context,
      [&]() -> net::awaitable<void> {
        constexpr auto tuple = net::as_tuple(net::use_awaitable);
        beast::tcp_stream stream(context);
        stream.expires_after(timeout);
        auto [connect_ec] = co_await stream.async_connect(
            net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port), tuple);
        if (connect_ec) co_return;
        http::request<http::string_body> request{method, target, 11};
        request.set(http::field::host, "localhost");
        for (const auto& [name, value] : headers) request.set(name, value);
        if (!body.empty() || method == http::verb::post) {
          request.body() = body;
          request.prepare_payload();
        }
        auto [write_ec, written] = co_await http::async_write(stream, request, tuple);
        if (write_ec) co_return;
        beast::flat_buffer buffer;
        http::response<http::string_body> response;
        auto [read_ec, read] = co_await http::async_read(stream, buffer, response, tuple);
        if (read_ec) co_return;
        reply.status = static_cast<int>(response.result_int());
        reply.body = response.body();
        for (const auto& field : response) {
          reply.headers[std::string(field.name_string())] = std::string(field.value());
        }
      },
      net::detached);
  context.run();
  reply.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  return reply;
}

}  // namespace swarm_prepull::testing
