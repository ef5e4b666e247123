// http::Server on loopback: routing, the bearer-token gate on every route not
// marked public, the one parse of the target, limits, timeouts, keep-alive,
// the connection limit, and the graceful stop.
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "http/client.h"
#include "http/server.h"
#include "tests/unit/controller_test_support.h"
#include "tests/unit/http_test_support.h"

namespace swarm_prepull::http {
namespace {

using swarm_prepull::testing::http_call;
using swarm_prepull::testing::raw_exchange;
using swarm_prepull::testing::wait_until;

std::shared_ptr<spdlog::logger> null_logger() {
  return std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

// A server on its own io_context thread.
class ServerFixture : public ::testing::Test {
 protected:
  void start(ServerOptions options = {}) {
    Router router;
    const auto hello = [](const RequestContext& context) -> net::awaitable<Response> {
      co_return make_response(context.request, status::ok, "hello", "text/plain");
    };
    router.add({{verb::get, verb::head}, "/hello", Access::public_, hello});
    router.add(
        verb::get, "/v1/items/{id}", [](const RequestContext& context) -> net::awaitable<Response> {
          co_return json_response(
              context.request, status::ok,
              {{"id", context.params.at("id")}, {"q", context.query_value("q").value_or("")}});
        });
    router.add(verb::post, "/v1/items/{id}",
               [this](const RequestContext& context) -> net::awaitable<Response> {
                 ++posts_;
                 co_return make_response(context.request, status::ok,
                                         std::to_string(context.request.body().size()),
                                         "text/plain");
               });
    router.add({{verb::get},
                "/slow",
                Access::public_,
                [this](const RequestContext& context) -> net::awaitable<Response> {
                  slow_started_.set_value();
                  net::steady_timer timer(co_await net::this_coro::executor,
                                          std::chrono::milliseconds(300));
                  co_await timer.async_wait(net::as_tuple(net::use_awaitable));
                  co_return make_response(context.request, status::ok, "slow", "text/plain");
                }});
    router.add({{verb::get},
                "/throws",
                Access::public_,
                [](const RequestContext&) -> net::awaitable<Response> {
                  throw std::runtime_error("boom");
                  co_return Response{};
                }});
    server_ = std::make_unique<Server>(context_.get_executor(), std::move(router), options,
                                       null_logger());
    port_ = server_->listen({net::ip::make_address("127.0.0.1"), 0}).port();
    thread_ = std::thread([this] { context_.run(); });
  }

  // Runs `work` on the server's thread and returns its result.
  template <class F>
  auto on_loop(F work) {
    return net::co_spawn(
               context_, [&]() -> net::awaitable<decltype(work())> { co_return work(); },
               net::use_future)
        .get();
  }

  std::size_t connections() {
    return on_loop([this] { return server_->connections(); });
  }

  void stop_server() { net::co_spawn(context_, server_->stop(), net::use_future).get(); }

  void TearDown() override {
    if (server_ && !stopped_) stop_server();
    work_.reset();
    if (thread_.joinable()) thread_.join();
    server_.reset();
  }

  net::io_context context_;
  // Keeps run() going after stop(), so that the tests can still look.
  net::executor_work_guard<net::io_context::executor_type> work_ = net::make_work_guard(context_);
  std::unique_ptr<Server> server_;
  std::thread thread_;
  unsigned short port_ = 0;
  std::atomic<int> posts_ = 0;
  std::promise<void> slow_started_;
  bool stopped_ = false;
};

const std::map<std::string, std::string> good_token = {{"Authorization", "Bearer s3cret"}};

ServerOptions gated() {
  ServerOptions options;
  options.bearer_token = "s3cret";
  return options;
}

TEST_F(ServerFixture, RoutesByMethodAndPath) {
  start(gated());
  auto reply = http_call(port_, verb::get, "/hello");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "hello");
  reply = http_call(port_, verb::get, "/v1/items/abc?q=a%20b+c", {}, good_token);
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(nlohmann::json::parse(reply.body), (nlohmann::json{{"id", "abc"}, {"q", "a b c"}}));
  // A decoded segment: the route sees "a:b".
  reply = http_call(port_, verb::get, "/v1/items/a%3Ab", {}, good_token);
  EXPECT_EQ(nlohmann::json::parse(reply.body)["id"], "a:b");
  EXPECT_EQ(http_call(port_, verb::get, "/nowhere", {}, good_token).status, 404);
  EXPECT_EQ(http_call(port_, verb::delete_, "/hello", {}, good_token).status, 405);
  EXPECT_EQ(http_call(port_, verb::get, "/v1/items/abc?q=%zz", {}, good_token).status, 400);
  EXPECT_EQ(http_call(port_, verb::get, "/throws").status, 500);
}

TEST_F(ServerFixture, BearerTokenGatesEveryRouteNotPublic) {
  start(gated());
  auto reply = http_call(port_, verb::post, "/v1/items/abc", "{}");
  EXPECT_EQ(reply.status, 401);
  EXPECT_EQ(nlohmann::json::parse(reply.body)["error"], "missing or invalid bearer token");
  EXPECT_EQ(http_call(port_, verb::post, "/v1/items/abc", "{}", {{"Authorization", "Bearer s3cre"}})
                .status,
            401);
  EXPECT_EQ(http_call(port_, verb::post, "/v1/items/abc", "{}", {{"Authorization", "Basic s3cret"}})
                .status,
            401);
  // Unknown paths and other methods on public paths say nothing without a token.
  EXPECT_EQ(http_call(port_, verb::get, "/v1/nowhere").status, 401);
  EXPECT_EQ(http_call(port_, verb::get, "/nowhere").status, 401);
  EXPECT_EQ(http_call(port_, verb::post, "/hello", "x").status, 401);
  EXPECT_EQ(posts_, 0);
  EXPECT_EQ(http_call(port_, verb::post, "/v1/items/abc", "{}", good_token).status, 200);
  EXPECT_EQ(
      http_call(port_, verb::post, "/v1/items/abc", "{}", {{"Authorization", "bearer s3cret"}})
          .status,
      200);
  EXPECT_EQ(posts_, 2);
  EXPECT_EQ(http_call(port_, verb::get, "/hello").status, 200);
}

TEST_F(ServerFixture, WithoutATokenOnlyPublicRoutesAnswer) {
  start();
  EXPECT_EQ(http_call(port_, verb::get, "/hello").status, 200);
  EXPECT_EQ(http_call(port_, verb::get, "/v1/items/a", {}, {{"Authorization", "Bearer "}}).status,
            401);
}

TEST_F(ServerFixture, TwoAuthorizationHeadersAreRefused) {
  start(gated());
  const auto reply = raw_exchange(port_,
                                  "POST /v1/items/a HTTP/1.1\r\nHost: x\r\n"
                                  "Authorization: Bearer s3cret\r\nAuthorization: Bearer wrong\r\n"
                                  "Content-Length: 2\r\n\r\n{}");
  EXPECT_EQ(reply.status, 400) << reply.raw;
  EXPECT_EQ(posts_, 0);
}

TEST_F(ServerFixture, TargetsNotInCanonicalFormGet400WithAJsonBody) {
  start(gated());
  for (const std::string target :
       {"//hello", "hello", "/./hello", "/../hello", "/hello/", "/v1%2Fitems/a", "/v1%2fitems/a",
        "/v1/items/%2e%2e", "http://host/hello", "/\xff", "/v1/items/%ff", "/hello?q=%ff",
        "/v1/items/a%00b", "*"}) {
    const auto reply = raw_exchange(port_, "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(reply.status, 400) << target << ": " << reply.raw;
    // Whatever the target held, the body is valid JSON naming the problem.
    const auto body = nlohmann::json::parse(reply.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << target << ": " << reply.body;
    EXPECT_FALSE(body["error"].get<std::string>().empty());
  }
  // The server still answers.
  EXPECT_EQ(http_call(port_, verb::get, "/hello").status, 200);
}

TEST_F(ServerFixture, HeadAnswersWithoutABody) {
  start(gated());
  const auto reply = raw_exchange(port_, "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n", true);
  EXPECT_EQ(reply.status, 200) << reply.raw;
  EXPECT_EQ(reply.body, "");
  EXPECT_EQ(reply.headers.at("Content-Length"), "5");
}

TEST(BearerToken, ComparesWholeTokens) {
  Request request;
  EXPECT_FALSE(has_bearer_token(request, "t"));
  request.set(field::authorization, "Bearer t");
  EXPECT_TRUE(has_bearer_token(request, "t"));
  EXPECT_FALSE(has_bearer_token(request, ""));
  EXPECT_FALSE(has_bearer_token(request, "tt"));
  request.set(field::authorization, "Bearer tt");
  EXPECT_FALSE(has_bearer_token(request, "t"));
  request.set(field::authorization, "Bearer t");
  request.insert(field::authorization, "Bearer t");
  EXPECT_FALSE(has_bearer_token(request, "t"));  // two headers: neither counts
}

TEST(ErrorResponses, NeverThrowOnInvalidUtf8) {
  Request request;
  const auto response = error_response(request, status::not_found, "no such path: /\xff\xfe");
  const auto body = nlohmann::json::parse(response.body(), nullptr, false);
  ASSERT_TRUE(body.is_object()) << response.body();
  EXPECT_NE(body["error"].get<std::string>().find("no such path"), std::string::npos);
}

TEST_F(ServerFixture, OversizedBodiesGet413) {
  auto options = gated();
  options.body_limit = 1000;
  start(options);
  EXPECT_EQ(http_call(port_, verb::post, "/v1/items/a", std::string(1000, 'x'), good_token).status,
            200);
  EXPECT_EQ(http_call(port_, verb::post, "/v1/items/a", std::string(1001, 'x'), good_token).status,
            413);
  EXPECT_EQ(posts_, 1);
  // Without a token the size does not matter: 401.
  EXPECT_EQ(http_call(port_, verb::post, "/v1/items/a", std::string(5000, 'x')).status, 401);
}

TEST_F(ServerFixture, SlowClientsAreDropped) {
  ServerOptions options;
  options.read_timeout = std::chrono::milliseconds(200);
  start(options);
  net::io_context client;
  net::ip::tcp::socket socket(client);
  socket.connect({net::ip::make_address("127.0.0.1"), port_});
  const std::string partial = "GET /hello HTTP/1.1\r\nHost: x\r\n";  // never finished
  net::write(socket, net::buffer(partial));
  char byte = 0;
  boost::system::error_code ec;
  // Blocks until the server drops the connection (the test's own timeout
  // guards against a server that never does).
  const auto read = socket.read_some(net::buffer(&byte, 1), ec);
  EXPECT_EQ(read, 0u);
  EXPECT_EQ(ec, net::error::eof);
}

// A literal address is connected to without a lookup, a name through the
// resolver; the client reaches the server either way.
TEST_F(ServerFixture, ClientReachesALiteralAddressAndAName) {
  start();
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    SCOPED_TRACE(host);
    Endpoint endpoint;
    endpoint.kind = Endpoint::Kind::tcp;
    endpoint.host = host;
    endpoint.port = port_;
    Client client(endpoint);
    net::io_context context;
    auto reply = net::co_spawn(context, client.request(client.prepare({verb::get, "/hello", 11})),
                               net::use_future);
    context.run();
    const auto answered = reply.get();
    ASSERT_TRUE(answered) << answered.error().to_string();
    EXPECT_EQ(answered->body, "hello");
  }
}

TEST_F(ServerFixture, KeepsConnectionsAlive) {
  start();
  net::io_context client;
  boost::beast::tcp_stream stream(client);
  stream.connect({net::ip::make_address("127.0.0.1"), port_});
  for (int i = 0; i < 3; ++i) {
    Request request{verb::get, "/hello", 11};
    boost::beast::http::write(stream, request);
    boost::beast::flat_buffer buffer;
    Response response;
    boost::beast::http::read(stream, buffer, response);
    EXPECT_EQ(response.result_int(), 200u);
    EXPECT_TRUE(response.keep_alive());
  }
}

// Beyond max_connections the server accepts nothing until one ends; a
// connection waiting meanwhile is answered once one does.
TEST_F(ServerFixture, ConnectionLimitHoldsAndServesAgainBelowIt) {
  ServerOptions options;
  options.max_connections = 2;
  start(options);
  net::io_context client;
  std::vector<std::unique_ptr<boost::beast::tcp_stream>> held;
  for (int i = 0; i < 2; ++i) {
    // A kept-alive connection that has been served is surely accepted.
    auto stream = std::make_unique<boost::beast::tcp_stream>(client);
    stream->connect({net::ip::make_address("127.0.0.1"), port_});
    Request request{verb::get, "/hello", 11};
    boost::beast::http::write(*stream, request);
    boost::beast::flat_buffer buffer;
    Response response;
    boost::beast::http::read(*stream, buffer, response);
    ASSERT_EQ(response.result_int(), 200u);
    held.push_back(std::move(stream));
  }
  EXPECT_EQ(connections(), 2u);
  std::atomic<bool> released = false;
  auto third = std::async(std::launch::async, [&] {
    auto reply = http_call(port_, verb::get, "/hello");
    return std::make_pair(reply, released.load());
  });
  // The third connection waits in the listen queue: the server holds two.
  EXPECT_EQ(third.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  EXPECT_EQ(connections(), 2u);
  released = true;
  held.front()->close();
  const auto [reply, was_released] = third.get();
  EXPECT_EQ(reply.status, 200);
  EXPECT_TRUE(was_released);  // answered only after a slot was free
  EXPECT_TRUE(wait_until([&] { return connections() <= 2; }));
}

TEST_F(ServerFixture, StopLetsRequestsInFlightAnswerAndRefusesNewOnes) {
  start();
  auto slow =
      std::async(std::launch::async, [this] { return http_call(port_, verb::get, "/slow"); });
  slow_started_.get_future().wait();
  stop_server();
  stopped_ = true;
  const auto reply = slow.get();
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.headers.at("Connection"), "close");
  EXPECT_EQ(http_call(port_, verb::get, "/hello", {}, {}, std::chrono::seconds(2)).status, 0);
  EXPECT_EQ(connections(), 0u);
}

TEST_F(ServerFixture, StopCancelsWhatDoesNotFinishInTime) {
  ServerOptions options;
  options.stop_timeout = std::chrono::milliseconds(50);
  start(options);
  auto slow =
      std::async(std::launch::async, [this] { return http_call(port_, verb::get, "/slow"); });
  slow_started_.get_future().wait();
  stop_server();
  stopped_ = true;
  EXPECT_EQ(slow.get().status, 0);
  EXPECT_EQ(connections(), 0u);
}

}  // namespace
}  // namespace swarm_prepull::http
