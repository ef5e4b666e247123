// `swarm-prepull healthcheck`, the image's HEALTHCHECK: the server it probes
// when given no --url (from the container's main process, as the shell
// script it replaced found it), and its exit status against a loopback
// server that answers 200, 503, slowly, or not at all.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "http/server.h"

namespace swarm_prepull::cli {
namespace {

namespace net = boost::asio;
using ::testing::HasSubstr;

std::optional<std::string> url_for(const std::vector<std::string>& process_args,
                                   const std::optional<std::string>& listen = std::nullopt) {
  auto url = healthcheck_url(process_args, listen);
  EXPECT_TRUE(url) << (url ? "" : url.error().message);
  return url ? *url : std::nullopt;
}

TEST(HealthcheckUrl, EachRoleHasItsDefaultPortOnLoopback) {
  EXPECT_EQ(url_for({"/usr/local/bin/swarm-prepull", "controller"}), "http://127.0.0.1:7963");
  EXPECT_EQ(url_for({"/usr/local/bin/swarm-prepull", "agent"}), "http://127.0.0.1:7964");
}

TEST(HealthcheckUrl, ListenOptionWinsOverTheVariable) {
  EXPECT_EQ(url_for({"swarm-prepull", "agent", "--listen", "0.0.0.0:9100"}, "0.0.0.0:9200"),
            "http://127.0.0.1:9100");
  EXPECT_EQ(url_for({"swarm-prepull", "controller", "--listen=10.0.0.5:9100"}),
            "http://10.0.0.5:9100");
  EXPECT_EQ(url_for({"swarm-prepull", "controller"}, "0.0.0.0:9200"), "http://127.0.0.1:9200");
  EXPECT_EQ(url_for({"swarm-prepull", "agent"}, ":9300"), "http://127.0.0.1:9300");
}

TEST(HealthcheckUrl, EveryIpv6AddressIsProbedOnIpv6Loopback) {
  EXPECT_EQ(url_for({"swarm-prepull", "agent", "--listen", "[::]:7964"}), "http://[::1]:7964");
  EXPECT_EQ(url_for({"swarm-prepull", "agent", "--listen", "[fd00::5]:7964"}),
            "http://[fd00::5]:7964");
}

// `docker run --init` puts docker-init in front; the role is the first one named.
TEST(HealthcheckUrl, FindsTheRoleBehindAnInit) {
  EXPECT_EQ(url_for({"/sbin/docker-init", "--", "/usr/local/bin/swarm-prepull", "agent"}),
            "http://127.0.0.1:7964");
}

TEST(HealthcheckUrl, OtherCommandsHaveNothingToProbe) {
  EXPECT_EQ(url_for({"swarm-prepull", "plan", "--format", "json"}, "0.0.0.0:7963"), std::nullopt);
  EXPECT_EQ(url_for({}), std::nullopt);
}

TEST(HealthcheckUrl, ABadListenAddressIsNamed) {
  auto url = healthcheck_url({"swarm-prepull", "agent", "--listen", "0.0.0.0:99999"}, {});
  ASSERT_FALSE(url);
  EXPECT_THAT(url.error().message, HasSubstr("0.0.0.0:99999"));
}

// A server on loopback whose /healthz answers `status_`, after `delay_`.
class HealthcheckServer : public ::testing::Test {
 protected:
  void SetUp() override {
    http::Router router;
    router.add({{http::verb::get},
                "/healthz",
                http::Access::public_,
                [this](const http::RequestContext& context) -> net::awaitable<http::Response> {
                  if (const auto delay = std::chrono::milliseconds(delay_ms_.load());
                      delay.count() > 0) {
                    net::steady_timer timer(co_await net::this_coro::executor, delay);
                    co_await timer.async_wait(net::use_awaitable);
                  }
                  co_return http::make_response(context.request, status_.load(), "", "text/plain");
                }});
    // A late answer's handler is not waited for at the end of a test.
    server_ = std::make_unique<http::Server>(
        context_.get_executor(), std::move(router),
        http::ServerOptions{.stop_timeout = std::chrono::milliseconds(50)},
        std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>()));
    port_ = server_->listen({net::ip::make_address("127.0.0.1"), 0}).port();
    thread_ = std::thread([this] { context_.run(); });
  }

  void stop_server() { net::co_spawn(context_, server_->stop(), net::use_future).get(); }

  void TearDown() override {
    stop_server();
    work_.reset();
    thread_.join();
  }

  struct Output {
    int status;
    std::string err;
  };
  Output probe(std::vector<std::string> args) {
    std::ostringstream out;
    std::ostringstream err;
    const int status = run_healthcheck(args, CommandIo{out, err});
    return {status, err.str()};
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  net::io_context context_;
  // Keeps the loop running once the server stopped (stop() is idempotent).
  net::executor_work_guard<net::io_context::executor_type> work_ = net::make_work_guard(context_);
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
  unsigned short port_ = 0;
  std::atomic<http::status> status_ = http::status::ok;
  std::atomic<int> delay_ms_ = 0;
};

TEST_F(HealthcheckServer, HealthyOn200) {
  const auto result = probe({"--url", url()});
  EXPECT_EQ(result.status, exit_ok) << result.err;
  EXPECT_EQ(result.err, "");
}

TEST_F(HealthcheckServer, UnhealthyOnAnotherStatusSayingWhich) {
  status_ = http::status::service_unavailable;
  const auto result = probe({"--url", url()});
  EXPECT_EQ(result.status, exit_failure);
  EXPECT_THAT(result.err, HasSubstr("503"));
  EXPECT_THAT(result.err, HasSubstr("/healthz"));

  status_ = http::status::no_content;
  EXPECT_EQ(probe({"--url", url()}).status, exit_failure);
}

TEST_F(HealthcheckServer, UnhealthyWithinTheTimeoutWhenTheAnswerIsLate) {
  delay_ms_ = 5000;
  const auto started = std::chrono::steady_clock::now();
  const auto result = probe({"--url", url(), "--timeout", "200ms"});
  EXPECT_EQ(result.status, exit_failure);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(4));
  EXPECT_THAT(result.err, HasSubstr("swarm-prepull healthcheck: "));
}

TEST_F(HealthcheckServer, UnhealthyWhenNothingListens) {
  const std::string closed = url();
  stop_server();
  const auto result = probe({"--url", closed});
  EXPECT_EQ(result.status, exit_failure);
  EXPECT_THAT(result.err, HasSubstr("127.0.0.1:" + std::to_string(port_)));
}

TEST_F(HealthcheckServer, BadCommandLinesAreUsageErrors) {
  EXPECT_EQ(probe({"--url", "https://127.0.0.1:7963"}).status, exit_usage);
  EXPECT_EQ(probe({"--url", url(), "--timeout", "soon"}).status, exit_usage);
  EXPECT_EQ(probe({"extra"}).status, exit_usage);
}

TEST(Healthcheck, HelpNamesEveryOptionsVariable) {
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(run_main({"healthcheck", "--help"}, CommandIo{out, err}), exit_ok);
  EXPECT_THAT(out.str(), HasSubstr("SWARM_PREPULL_URL"));
  EXPECT_THAT(out.str(), HasSubstr("SWARM_PREPULL_TIMEOUT"));
}

}  // namespace
}  // namespace swarm_prepull::cli
