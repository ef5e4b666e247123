// A Controller serving on 127.0.0.1 (an ephemeral port) with no engine behind
// it: its engine is a socket that does not exist, so every reconcile pass
// fails and the tests publish state themselves (apply_plan, apply_snapshot)
// on the controller's own thread.
#pragma once

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <future>
#include <map>
#include <memory>
#include <thread>

#include "controller/controller.h"
#include "tests/unit/controller_test_support.h"

namespace swarm_prepull::testing {

namespace net = boost::asio;

// The Authorization header of loopback_options()' token.
inline const std::map<std::string, std::string> loopback_token = {
    {"Authorization", "Bearer t0ken"}};

class LoopbackControllerTest : public ::testing::Test {
 protected:
  // What every such test shares; a fixture adjusts them before start().
  static controller::ControllerOptions loopback_options() {
    controller::ControllerOptions options;
    options.listen = {net::ip::make_address("127.0.0.1"), 0};
    options.token = "t0ken";
    options.resync_interval = std::chrono::seconds(60);
    options.events_backoff_min = std::chrono::seconds(5);
    // The reports here come from the test over loopback, not from agent tasks.
    options.report_binding = controller::ReportBinding::none;
    // Resolutions happen when a test asks for them, not on a refresh period.
    options.tag_refresh_interval = std::chrono::milliseconds(0);
    return options;
  }

  void start(controller::ControllerOptions options) {
    engine::ClientOptions client_options;
    client_options.endpoint =
        engine::parse_docker_host("unix:///nonexistent/swarm-prepull-test.sock").value();
    client_options.request_timeout = std::chrono::seconds(1);
    client_ = std::make_unique<engine::Client>(client_options);
    controller_ = std::make_unique<controller::Controller>(
        context_, *client_, std::move(options),
        std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>()),
        registry_);
    port_ = controller_->start().port();
    thread_ = std::thread([this] { context_.run(); });
  }

  // Runs `work` on the controller's thread and returns its result; `stop` then stops it.
  template <class F>
  auto on_loop(F work, bool stop = false) {
    using T = decltype(work());
    std::promise<T> result;
    net::co_spawn(
        context_,
        [&]() -> net::awaitable<void> {
          T value = work();
          if (stop) co_await controller_->stop();
          result.set_value(std::move(value));
        },
        net::detached);
    return result.get_future().get();
  }

  void TearDown() override {
    if (controller_ == nullptr) return;
    if (!controller_->stopping()) on_loop([] { return 0; }, true);
    thread_.join();
  }

  std::string metrics_text() { return http_call(port_, http::verb::get, "/metrics").body; }

  net::io_context context_;
  prometheus::Registry registry_;
  std::unique_ptr<engine::Client> client_;
  std::unique_ptr<controller::Controller> controller_;
  std::thread thread_;
  unsigned short port_ = 0;
};

}  // namespace swarm_prepull::testing
