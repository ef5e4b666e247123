// Whether the agent shows that it is in contact with its controller: the
// decisions of ControllerContact, then a real Agent against a controller on
// loopback (http::Server with the bearer-token gate, answering the agent
// API's messages) and a loopback engine that lists no image. The tests read
// the agent's metrics and wait for them with a deadline, never a fixed sleep.
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cmath>
#include <functional>
#include <future>
#include <memory>
#include <thread>

#include "agent/agent.h"
#include "agent/contact.h"
#include "http/server.h"
#include "tests/unit/http_test_support.h"

namespace swarm_prepull::agent {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

api::Error refusal(unsigned status, std::string message) {
  return {.code = api::api_errc::unauthorized,
          .endpoint = "tcp://127.0.0.1:7963",
          .request = "GET /v1/nodes/n1/desired",
          .status = status,
          .message = std::move(message)};
}

TEST(AgentContact, NotUpBeforeTheFirstAnswer) {
  const ControllerContact contact;
  EXPECT_FALSE(contact.up());
  EXPECT_EQ(contact.last_status(), 0u);
  EXPECT_EQ(contact.last_contact(), 0.0);
}

TEST(AgentContact, ARefusalIsReportedOnceAndTheRecoveryOnce) {
  ControllerContact contact;
  const TimePoint t0{};
  const auto wrong_token = refusal(401, "missing or invalid bearer token");
  EXPECT_EQ(contact.record(Exchange::poll, &wrong_token, t0, 1000).kind, ContactChange::Kind::lost);
  for (int poll = 1; poll <= 3; ++poll) {
    EXPECT_EQ(contact.record(Exchange::poll, &wrong_token, t0 + poll * 1s, 1000 + poll).kind,
              ContactChange::Kind::none);
  }
  // The report refused for the same reason is the same refusal.
  EXPECT_EQ(contact.record(Exchange::report, &wrong_token, t0 + 4s, 1004).kind,
            ContactChange::Kind::none);
  EXPECT_FALSE(contact.up());
  EXPECT_EQ(contact.last_status(), 401u);
  EXPECT_EQ(contact.last_contact(), 0.0);

  // The poll answered: the report still fails, so contact is not back yet.
  EXPECT_EQ(contact.record(Exchange::poll, nullptr, t0 + 10s, 1010).kind,
            ContactChange::Kind::none);
  EXPECT_FALSE(contact.up());
  EXPECT_EQ(contact.last_status(), 401u);
  EXPECT_EQ(contact.last_contact(), 1010.0);
  const auto back = contact.record(Exchange::report, nullptr, t0 + 12s, 1012);
  EXPECT_EQ(back.kind, ContactChange::Kind::restored);
  EXPECT_EQ(back.lost_for, 12s);
  EXPECT_TRUE(contact.up());
  EXPECT_EQ(contact.last_status(), 204u);
  EXPECT_EQ(contact.last_contact(), 1012.0);
}

TEST(AgentContact, AnotherKindOfFailureIsReportedAgain) {
  ControllerContact contact;
  const TimePoint t0{};
  const auto unreachable = api::Error{.code = api::api_errc::unreachable, .status = 0};
  const auto unavailable =
      api::Error{.code = api::api_errc::unavailable, .status = 503, .message = "stopping"};
  EXPECT_EQ(contact.record(Exchange::poll, nullptr, t0, 1000).kind, ContactChange::Kind::none);
  EXPECT_EQ(contact.record(Exchange::poll, &unreachable, t0 + 1s, 1001).kind,
            ContactChange::Kind::lost);
  EXPECT_EQ(contact.last_status(), 0u);
  EXPECT_EQ(contact.record(Exchange::poll, &unavailable, t0 + 2s, 1002).kind,
            ContactChange::Kind::lost);
  EXPECT_EQ(contact.last_status(), 503u);
  // Lost since the first failure, not since the kind changed.
  EXPECT_EQ(contact.record(Exchange::poll, nullptr, t0 + 5s, 1005).lost_for, 4s);
}

// A controller whose reports are refused (403: not the node's agent task) is
// not in contact even though every poll is answered, and the status shown is
// the refusal's, not the poll's 200: otherwise the gauge would flap.
TEST(AgentContact, ReportsRefusedWhilePollsAreAnsweredIsNotContact) {
  ControllerContact contact;
  const TimePoint t0{};
  const auto forbidden = refusal(403, "status report from 10.0.0.9, not the agent task");
  contact.record(Exchange::poll, nullptr, t0, 1000);
  EXPECT_TRUE(contact.up());
  EXPECT_EQ(contact.last_status(), 200u);
  EXPECT_EQ(contact.record(Exchange::report, &forbidden, t0 + 1s, 1001).kind,
            ContactChange::Kind::lost);
  for (int poll = 2; poll <= 4; ++poll) {
    EXPECT_EQ(contact.record(Exchange::poll, nullptr, t0 + poll * 1s, 1000 + poll).kind,
              ContactChange::Kind::none);
    EXPECT_FALSE(contact.up());
    EXPECT_EQ(contact.last_status(), 403u);
  }
  EXPECT_EQ(contact.last_contact(), 1004.0);
}

class FixedRandom final : public RandomSource {
 public:
  double uniform01() override { return 0.0; }
};

std::shared_ptr<spdlog::logger> null_logger() {
  return std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

// A real Agent on its own thread, its controller and its engine on loopback.
class AgentContactLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http::Router controller;
    controller.add(http::verb::get, "/v1/nodes/{node_id}/desired",
                   [](const http::RequestContext& context) -> net::awaitable<http::Response> {
                     const api::DesiredSet set{.node_id = "n1", .generation = 3};
                     co_return http::make_response(context.request, http::status::ok, encode(set),
                                                   "application/json");
                   });
    controller.add(http::verb::post, "/v1/nodes/{node_id}/status",
                   [this](const http::RequestContext& context) -> net::awaitable<http::Response> {
                     if (refuse_reports_) {
                       co_return http::error_response(
                           context.request, http::status::forbidden,
                           "status report from 127.0.0.1, not the agent task of node n1");
                     }
                     co_return http::make_response(context.request, http::status::no_content, "",
                                                   "application/json");
                   });
    http::ServerOptions controller_options;
    controller_options.bearer_token = "t0ken";
    controller_ = std::make_unique<http::Server>(context_.get_executor(), std::move(controller),
                                                 controller_options, null_logger());
    controller_port_ = controller_->listen({net::ip::make_address("127.0.0.1"), 0}).port();

    // The engine: API 1.41, its version, an empty image list.
    http::Router engine;
    engine.add(http::Route{
        {http::verb::get},
        "/_ping",
        http::Access::public_,
        [](const http::RequestContext& context) -> net::awaitable<http::Response> {
          auto response =
              http::make_response(context.request, http::status::ok, "OK", "text/plain");
          response.set("Api-Version", "1.41");
          co_return response;
        }});
    for (const auto& [path, body] : {std::pair{"/{version}/version", R"({"Version":"27.0.0"})"},
                                     std::pair{"/{version}/images/json", "[]"}}) {
      engine.add(http::Route{{http::verb::get},
                             path,
                             http::Access::public_,
                             [body = std::string(body)](const http::RequestContext& context)
                                 -> net::awaitable<http::Response> {
                               co_return http::make_response(context.request, http::status::ok,
                                                             body, "application/json");
                             }});
    }
    engine_server_ = std::make_unique<http::Server>(context_.get_executor(), std::move(engine),
                                                    http::ServerOptions{}, null_logger());
    engine_port_ = engine_server_->listen({net::ip::make_address("127.0.0.1"), 0}).port();
  }

  void start(std::string token) {
    engine::ClientOptions engine_options;
    engine_options.endpoint =
        engine::parse_docker_host("tcp://127.0.0.1:" + std::to_string(engine_port_)).value();
    engine_options.request_timeout = 5s;
    engine_ = std::make_unique<engine::Client>(engine_options);
    client_ = std::make_unique<api::ControllerClient>(api::ControllerClientOptions{
        .url = api::parse_controller_url("http://127.0.0.1:" + std::to_string(controller_port_))
                   .value(),
        .node_id = "n1",
        .token = std::move(token),
        .wait = 1s,
        .request_timeout = 5s});
    AgentOptions options;
    options.node_id = "n1";
    options.check_interval = 50ms;
    options.controller_backoff = {10ms, 50ms};
    options.engine_backoff = {10ms, 50ms};
    agent_ =
        std::make_unique<Agent>(options, *engine_, *client_, &metrics_, null_logger(), random_);
    net::co_spawn(context_, agent_->run(), net::detached);
    thread_ = std::thread([this] { context_.run(); });
  }

  void TearDown() override {
    std::promise<void> stopped;
    net::co_spawn(
        context_,
        [&]() -> net::awaitable<void> {
          if (agent_ != nullptr) agent_->stop();
          co_await controller_->stop();
          co_await engine_server_->stop();
          stopped.set_value();
        },
        net::detached);
    if (!thread_.joinable()) context_.run();
    stopped.get_future().wait();
    if (thread_.joinable()) thread_.join();
  }

  double up() const { return metrics_.controller_up.Value(); }
  double last_status() const { return metrics_.controller_last_status.Value(); }
  double last_contact() const { return metrics_.controller_last_contact.Value(); }
  double hit_ratio() const { return metrics_.common.cache_hit_ratio.Value(); }

  prometheus::Registry registry_;
  metrics::AgentMetrics metrics_{registry_, agent_engine_endpoints()};
  FixedRandom random_;
  std::unique_ptr<engine::Client> engine_;
  std::unique_ptr<api::ControllerClient> client_;
  std::unique_ptr<Agent> agent_;  // outlives the io_context that runs it
  net::io_context context_;
  std::unique_ptr<http::Server> controller_;
  std::unique_ptr<http::Server> engine_server_;
  unsigned short controller_port_ = 0;
  unsigned short engine_port_ = 0;
  std::atomic<bool> refuse_reports_ = false;
  std::thread thread_;
};

TEST_F(AgentContactLoopTest, UnknownBeforeTheFirstContact) {
  EXPECT_EQ(up(), 0.0);
  EXPECT_EQ(last_status(), 0.0);
  EXPECT_EQ(last_contact(), 0.0);
  EXPECT_TRUE(std::isnan(hit_ratio()));
  EXPECT_NE(metrics::serialize(registry_).find("swarm_prepull_cache_hit_ratio Nan"),
            std::string::npos)
      << metrics::serialize(registry_);
}

TEST_F(AgentContactLoopTest, AWrongTokenIsNotContact) {
  start("wr0ng");
  ASSERT_TRUE(testing::wait_until([&] { return last_status() == 401; }, 10s)) << last_status();
  EXPECT_EQ(up(), 0.0);
  EXPECT_EQ(last_contact(), 0.0);
  // Its engine answers and nothing is present or missing, yet the ratio is unknown.
  EXPECT_TRUE(std::isnan(hit_ratio())) << hit_ratio();
}

TEST_F(AgentContactLoopTest, TheRightTokenIsContact) {
  const double before =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  start("t0ken");
  // Polled (200) and reported (204), then checked: an empty set is all present.
  ASSERT_TRUE(testing::wait_until(
      [&] { return up() == 1 && last_status() == 204 && hit_ratio() == 1; }, 10s))
      << "up " << up() << " status " << last_status() << " ratio " << hit_ratio();
  EXPECT_GE(last_contact(), before);
}

TEST_F(AgentContactLoopTest, RefusedReportsAreNotContactUntilTheyAreTaken) {
  refuse_reports_ = true;
  start("t0ken");
  ASSERT_TRUE(testing::wait_until([&] { return last_status() == 403; }, 10s)) << last_status();
  EXPECT_EQ(up(), 0.0);
  EXPECT_GT(last_contact(), 0.0);  // the polls are answered
  EXPECT_TRUE(std::isnan(hit_ratio())) << hit_ratio();

  refuse_reports_ = false;
  ASSERT_TRUE(testing::wait_until([&] { return up() == 1 && hit_ratio() == 1; }, 10s))
      << "up " << up() << " status " << last_status() << " ratio " << hit_ratio();
}

}  // namespace
}  // namespace swarm_prepull::agent
