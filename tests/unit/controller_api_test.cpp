// The controller's agent API over loopback, with no engine behind it (its
// engine is a socket that does not exist, so every reconcile pass fails and
// the tests publish plans themselves with apply_plan).
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <atomic>
#include <boost/asio/use_future.hpp>
#include <cstdio>
#include <future>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "controller/controller.h"
#include "metrics/metrics.h"
#include "tests/unit/controller_test_support.h"
#include "tests/unit/http_test_support.h"
#include "tests/unit/loopback_controller.h"

namespace swarm_prepull::controller {
namespace {

using nlohmann::json;
using swarm_prepull::testing::http_call;
using swarm_prepull::testing::raw_exchange;
using swarm_prepull::testing::test_node;
using swarm_prepull::testing::test_service;
using swarm_prepull::testing::wait_until;
using verb = http::verb;

const auto& token = testing::loopback_token;

class ControllerApiTest : public testing::LoopbackControllerTest {
 protected:
  void SetUp() override { start(loopback_options()); }

  std::uint64_t publish(std::vector<reconcile::Service> services) {
    return on_loop([&] {
      std::vector<reconcile::Node> nodes = {test_node("id1", "node-1"), test_node("id2", "node-2")};
      controller_->apply_plan(reconcile::desired_images(nodes, services));
      return controller_->state().desired("id1")->generation;
    });
  }

  std::size_t long_polls() {
    return on_loop([&] { return controller_->long_polls(); });
  }
};

TEST_F(ControllerApiTest, NotReadyUntilAPlanIsPublished) {
  EXPECT_EQ(http_call(port_, verb::get, "/healthz").status, 503);
  EXPECT_EQ(http_call(port_, verb::get, "/v1/nodes/id1/desired", {}, token).status, 503);
  publish({test_service("web", "registry.test/a:1")});
  EXPECT_EQ(http_call(port_, verb::get, "/healthz").status, 200);
}

TEST_F(ControllerApiTest, ServesTheDesiredSetOfANode) {
  const auto generation = publish({test_service("web", "registry.test/a:1")});
  auto reply = http_call(port_, verb::get, "/v1/nodes/id1/desired", {}, token);
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto body = json::parse(reply.body);
  EXPECT_EQ(body["node_id"], "id1");
  EXPECT_EQ(body["hostname"], "node-1");
  EXPECT_EQ(body["generation"], generation);
  EXPECT_EQ(body["images"], json::parse(R"([{"ref": "registry.test/a:1", "pull": true}])"));
  EXPECT_EQ(http_call(port_, verb::get, "/v1/nodes/id1/desired").status, 401);
  reply = http_call(port_, verb::get, "/v1/nodes/zzz/desired", {}, token);
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(json::parse(reply.body)["error"], "node zzz is not in the swarm");
  EXPECT_EQ(http_call(port_, verb::get, "/v1/nodes/id1/desired?after=x", {}, token).status, 400);
  EXPECT_EQ(http_call(port_, verb::get, "/v1/nodes/id1/desired?wait=soon", {}, token).status, 400);
}

TEST_F(ControllerApiTest, LongPollWakesOnABump) {
  const auto generation = publish({test_service("web", "registry.test/a:1")});
  auto poll = std::async(std::launch::async, [&] {
    return http_call(port_, verb::get,
                     "/v1/nodes/id1/desired?after=" + std::to_string(generation) + "&wait=10", {},
                     token);
  });
  // Held: the controller has the poll waiting on node id1.
  ASSERT_TRUE(wait_until([&] { return long_polls() == 1; }));
  EXPECT_EQ(poll.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  const auto bumped_at = std::chrono::steady_clock::now();
  const auto next = publish({test_service("web", "registry.test/a:2")});
  const auto reply = poll.get();
  std::printf(
      "long poll answered %.1f ms after the bump\n",
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - bumped_at)
          .count());
  ASSERT_EQ(reply.status, 200);
  EXPECT_GT(next, generation);
  EXPECT_EQ(json::parse(reply.body)["generation"], next);
  // The controller counts the wake from its publish to the answer.
  EXPECT_NE(metrics_text().find("swarm_prepull_long_poll_wake_seconds_count 1\n"),
            std::string::npos);
}

TEST_F(ControllerApiTest, LongPollAnswersWhenTheWaitRunsOut) {
  const auto generation = publish({test_service("web", "registry.test/a:1")});
  const auto reply = http_call(
      port_, verb::get, "/v1/nodes/id1/desired?after=" + std::to_string(generation) + "&wait=0.3",
      {}, token);
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(json::parse(reply.body)["generation"], generation);
  EXPECT_GE(reply.took, std::chrono::milliseconds(280));  // it held the poll
  // Already newer: answered without holding the 60 s it was allowed.
  const auto fresh =
      http_call(port_, verb::get, "/v1/nodes/id1/desired?after=0&wait=60", {}, token);
  EXPECT_EQ(fresh.status, 200);
  EXPECT_LT(fresh.took, std::chrono::seconds(60));
  // Neither was woken by a publish.
  EXPECT_NE(metrics_text().find("swarm_prepull_long_poll_wake_seconds_count 0\n"),
            std::string::npos);
  std::printf("[ figures  ] held poll %.1f ms (wait 0.3 s), fresh poll %.1f ms\n",
              std::chrono::duration<double, std::milli>(reply.took).count(),
              std::chrono::duration<double, std::milli>(fresh.took).count());
}

// The metrics that describe the swarm, without the count of API requests
// (which a malformed request rightly moves).
std::string state_metrics(const std::string& text) {
  std::string kept;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("swarm_prepull_api_requests_total") == std::string::npos) kept += line + "\n";
  }
  return kept;
}

TEST_F(ControllerApiTest, MalformedReportsGet400AndChangeNothing) {
  publish({test_service("web", "registry.test/a:1")});
  const std::string before = state_metrics(metrics_text());
  auto reply = http_call(port_, verb::post, "/v1/nodes/id1/status", "{\"images\": [", token);
  EXPECT_EQ(reply.status, 400);
  const std::string error = json::parse(reply.body)["error"];
  EXPECT_NE(error.find("malformed JSON"), std::string::npos) << error;
  EXPECT_NE(error.find("line 1, column 13"), std::string::npos) << error;
  reply = http_call(port_, verb::post, "/v1/nodes/id1/status",
                    R"({"images": [{"ref": "registry.test/a:1", "state": "gone"}]})", token);
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(reply.body.find("unknown state"), std::string::npos);
  EXPECT_EQ(on_loop([&] { return controller_->state().agent_counts(Clock::now()).first; }), 0u);
  EXPECT_EQ(state_metrics(metrics_text()), before);
  EXPECT_NE(
      metrics_text().find(
          R"(swarm_prepull_api_requests_total{code="400",route="/v1/nodes/{node_id}/status"} 2)"),
      std::string::npos);
}

TEST_F(ControllerApiTest, ReportsUpdateReadinessAndMetrics) {
  publish({test_service("web", "registry.test/a:1")});
  EXPECT_EQ(http_call(port_, verb::post, "/v1/nodes/zzz/status", R"({"images": []})", token).status,
            404);
  const auto reply = http_call(port_, verb::post, "/v1/nodes/id1/status",
                               R"({"generation": 1, "images": [
                                   {"ref": "registry.test/a:1", "state": "present"}]})",
                               token);
  EXPECT_EQ(reply.status, 204) << reply.body;
  const auto images = json::parse(http_call(port_, verb::get, "/v1/images", {}, token).body);
  EXPECT_EQ(images["images"][0]["nodes_desired"], 2);
  EXPECT_EQ(images["images"][0]["nodes_present"], 1);
  const std::string text = metrics_text();
  EXPECT_NE(text.find("swarm_prepull_cache_hit_ratio 0.5"), std::string::npos) << text;
  EXPECT_NE(text.find("swarm_prepull_image_nodes_present{image=\"registry.test/a:1\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("swarm_prepull_node_images_missing{node=\"node-2\"} 1"), std::string::npos);
  EXPECT_NE(text.find("swarm_prepull_cache_hits_total 1"), std::string::npos);
  EXPECT_NE(text.find("swarm_prepull_agents{state=\"connected\"} 1"), std::string::npos);
  // An image gone from the plan leaves no series behind.
  publish({test_service("web", "registry.test/b:1")});
  EXPECT_EQ(metrics_text().find("registry.test/a:1"), std::string::npos);
}

// A gate follows its few images: ?refs= lists those alone, without the
// swarm's nodes and the warm requests (the status page's, O(nodes) to build).
TEST_F(ControllerApiTest, ImagesListsOnlyTheRefsAskedFor) {
  publish({test_service("web", "registry.test/a:1"), test_service("api", "registry.test/b:1")});
  const auto all = json::parse(http_call(port_, verb::get, "/v1/images", {}, token).body);
  ASSERT_EQ(all["images"].size(), 2u);

  // As a reference is written: canonical or not, the listing's name.
  auto reply = http_call(port_, verb::get, "/v1/images?refs=registry.test/b:1", {}, token);
  ASSERT_EQ(reply.status, 200) << reply.body;
  auto only = json::parse(reply.body);
  ASSERT_EQ(only["images"].size(), 1u);
  EXPECT_EQ(only["images"][0]["ref"], "registry.test/b:1");
  EXPECT_EQ(only["images"][0], all["images"][1]);
  EXPECT_FALSE(only.contains("nodes"));
  EXPECT_FALSE(only.contains("warm"));
  reply =
      http_call(port_, verb::get,
                "/v1/images?refs=registry.test/a:1,registry.test/b:1,registry.test/c:1", {}, token);
  EXPECT_EQ(json::parse(reply.body)["images"].size(), 2u) << reply.body;

  for (const auto& [target, said] : std::vector<std::pair<std::string, std::string>>{
           {"/v1/images?refs=", "refs[0]: empty"},
           {"/v1/images?refs=registry.test/a:1,,b", "refs[1]: empty"},
           {"/v1/images?refs=registry.test/a:1,registry.test/a@sha256:00", "refs[1]: "}}) {
    reply = http_call(port_, verb::get, target, {}, token);
    EXPECT_EQ(reply.status, 400) << target;
    const std::string error = json::parse(reply.body).value("error", "");
    EXPECT_NE(error.find(said), std::string::npos) << target << ": " << error;
  }
}

TEST_F(ControllerApiTest, StopAnswersLongPollsAtOnce) {
  const auto generation = publish({test_service("web", "registry.test/a:1")});
  auto poll = std::async(std::launch::async, [&] {
    return http_call(port_, verb::get,
                     "/v1/nodes/id1/desired?after=" + std::to_string(generation) + "&wait=30", {},
                     token);
  });
  ASSERT_TRUE(wait_until([&] { return long_polls() == 1; }));
  on_loop([] { return 0; }, true);
  const auto reply = poll.get();
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.headers.at("Connection"), "close");
}

// One request as raw bytes: targets a client library would refuse to send.
std::string raw_request(std::string_view method, std::string_view target, bool with_token) {
  std::string text = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: x\r\n";
  if (with_token) text += "Authorization: Bearer t0ken\r\n";
  return text + "Content-Length: 0\r\nConnection: close\r\n\r\n";
}

// The spellings of one path that must never reach a route: each is either
// refused (400) or another path.
std::vector<std::string> spellings(const std::string& path) {
  const auto second = path.find('/', 1);
  std::string upper = path;
  for (std::size_t i = 1; i < upper.size() && upper[i] != '/'; ++i) {
    upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
  }
  std::vector<std::string> variants = {
      "/" + path,             // "//v1/..."
      "//" + path,            // "///v1/..."
      path.substr(1),         // "v1/..." without the leading slash
      "/." + path,            // "/./v1/..."
      "/x/.." + path,         // "/x/../v1/..."
      path + "/",             // a trailing slash
      path + "/.",            // a trailing dot segment
      upper,                  // "/V1/...", "/HEALTHZ"
      "http://host" + path,   // absolute form
      "http://host/" + path,  // absolute form with "//"
  };
  if (second != std::string::npos) {
    variants.push_back(path.substr(0, second) + "%2F" + path.substr(second + 1));
    variants.push_back(path.substr(0, second) + "%2f" + path.substr(second + 1));
    variants.push_back(path.substr(0, second) + "/" + path.substr(second));  // "/v1//nodes"
    variants.push_back(path.substr(0, second) + "/./" + path.substr(second + 1));
  }
  // "/" (the status page) has no letter to change the case of: its upper
  // case is the route itself.
  std::erase(variants, path);
  return variants;
}

// The controller's real route table, every handler counted, served with the
// controller's token: for every route, every method and every spelling, a
// request without the token never gets a 2xx and never reaches a handler
// (but for the public routes' own methods at their exact path); with the
// token it reaches the route's handler (exact path, listed method) or gets a
// 4xx without reaching it.
TEST_F(ControllerApiTest, EveryRouteMethodAndSpellingNeedsTheTokenUnlessPublic) {
  publish({test_service("web", "registry.test/a:1")});
  const auto table = on_loop([&] { return controller_->routes(); });
  const auto counts = std::make_shared<std::vector<std::atomic<int>>>(table.routes().size());
  http::Router counted;
  for (std::size_t i = 0; i < table.routes().size(); ++i) {
    http::Route route = table.routes()[i];
    route.handler = [counts, i, handler = route.handler](const http::RequestContext& context) {
      ++(*counts)[i];
      return handler(context);
    };
    counted.add(std::move(route));
  }
  http::ServerOptions options;
  options.bearer_token = "t0ken";
  auto server = std::make_unique<http::Server>(
      context_.get_executor(), std::move(counted), options,
      std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>()));
  const auto port = on_loop([&] {
    return server->listen({net::ip::make_address("127.0.0.1"), 0}).port();
  });
  const auto total = [&] {
    int sum = 0;
    for (const auto& count : *counts) sum += count;
    return sum;
  };

  const std::vector<http::verb> methods = {
      http::verb::get,     http::verb::head,  http::verb::post,   http::verb::put,
      http::verb::delete_, http::verb::patch, http::verb::options};
  int requests = 0;
  for (std::size_t i = 0; i < table.routes().size(); ++i) {
    const auto& route = table.routes()[i];
    std::string path = route.pattern;
    if (const auto open = path.find('{'); open != std::string::npos) {
      path.replace(open, path.find('}') - open + 1, "id1");
    }
    const bool is_public = route.access == http::Access::public_;
    for (const auto method : methods) {
      const bool listed =
          std::find(route.methods.begin(), route.methods.end(), method) != route.methods.end();
      const std::string name(boost::beast::http::to_string(method));
      const bool head = method == http::verb::head;
      for (const bool with_token : {false, true}) {
        for (const auto& target : spellings(path)) {
          const int before = total();
          const auto reply = raw_exchange(port, raw_request(name, target, with_token), head);
          ++requests;
          const std::string what = name + " " + target + (with_token ? " (token)" : "");
          EXPECT_GE(reply.status, 400) << what << ": " << reply.raw;
          EXPECT_LT(reply.status, 500) << what << ": " << reply.raw;
          EXPECT_EQ(total(), before) << what << " reached a handler";
        }
        const int before = (*counts)[i];
        const auto reply = raw_exchange(port, raw_request(name, path, with_token), head);
        ++requests;
        const std::string what = name + " " + path + (with_token ? " (token)" : "");
        if (listed && (is_public || with_token)) {
          EXPECT_EQ((*counts)[i], before + 1) << what << " did not reach its route";
        } else {
          EXPECT_EQ((*counts)[i], before) << what << " reached its handler";
          EXPECT_GE(reply.status, 400) << what << ": " << reply.raw;
          EXPECT_LT(reply.status, 500) << what << ": " << reply.raw;
        }
        if (!with_token && !is_public) {
          EXPECT_EQ(reply.status, 401) << what << ": " << reply.raw;
        }
      }
    }
  }
  std::printf("route walk: %zu routes, %d requests\n", table.routes().size(), requests);
  on_loop([&] { return 0; }, true);
  net::co_spawn(context_, server->stop(), net::use_future).get();
}

TEST_F(ControllerApiTest, BadBytesInTheTargetGet400AndLeaveNothingBehind) {
  publish({test_service("web", "registry.test/a:1")});
  for (int i = 0; i < 10; ++i) {
    const auto reply = raw_exchange(port_, "GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(reply.status, 400) << reply.raw;
  }
  for (const std::string target : {"/v1/nodes/%ff/desired", "/v1/nodes/id1/desired?wait=%ff",
                                   "/v1/nodes/id1/desired?after=%ff", "/v1/images?x=%C0%80"}) {
    const auto reply = raw_exchange(port_, raw_request("GET", target, true));
    EXPECT_EQ(reply.status, 400) << target << ": " << reply.raw;
  }
  EXPECT_EQ(http_call(port_, verb::get, "/healthz").status, 200);
}

// Stopping with requests in flight: bad requests, slow clients that never
// finish their header, and held long polls; 20 times, each on a new
// controller. Every stop must finish (its figure is printed, not asserted)
// and, under ASan, touch no freed memory.
// A controller with no engine behind it on its own thread, for tests that
// need many in a row.
struct LiveController {
  LiveController() {
    ControllerOptions options;
    options.listen = {net::ip::make_address("127.0.0.1"), 0};
    options.token = "t0ken";
    options.resync_interval = std::chrono::seconds(60);
    options.events_backoff_min = std::chrono::seconds(5);
    engine::ClientOptions client_options;
    client_options.endpoint =
        engine::parse_docker_host("unix:///nonexistent/swarm-prepull-test.sock").value();
    client_options.request_timeout = std::chrono::seconds(1);
    client = std::make_unique<engine::Client>(client_options);
    controller = std::make_unique<Controller>(
        context, *client, std::move(options),
        std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>()),
        registry);
    port = controller->start().port();
    thread = std::thread([this] { context.run(); });
  }
  ~LiveController() {
    if (thread.joinable()) thread.join();
  }

  template <class F>
  auto on_loop(F work) {
    return net::co_spawn(
               context, [&]() -> net::awaitable<decltype(work())> { co_return work(); },
               net::use_future)
        .get();
  }

  net::io_context context;
  prometheus::Registry registry;
  std::unique_ptr<engine::Client> client;
  std::unique_ptr<Controller> controller;
  std::thread thread;
  unsigned short port = 0;
};

// Stopping with requests in flight: bad requests, slow clients that never
// finish their header, and held long polls; 20 times, each on a new
// controller. Every stop must finish and run() return (the time is printed,
// not asserted) and, under ASan, nothing may touch freed memory.
TEST(ControllerShutdown, StopsCleanlyWithRequestsInFlight) {
  for (int round = 1; round <= 20; ++round) {
    LiveController live;
    const auto port = live.port;
    const auto generation = live.on_loop([&] {
      std::vector<reconcile::Node> nodes = {test_node("id1", "node-1")};
      live.controller->apply_plan(
          reconcile::desired_images(nodes, {test_service("web", "registry.test/a:1")}));
      return live.controller->state().desired("id1")->generation;
    });
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(raw_exchange(port, "GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n").status, 400);
    }
    net::io_context clients;
    std::vector<std::unique_ptr<net::ip::tcp::socket>> slow;
    for (int i = 0; i < 3; ++i) {
      auto socket = std::make_unique<net::ip::tcp::socket>(clients);
      socket->connect({net::ip::make_address("127.0.0.1"), port});
      net::write(*socket, net::buffer(std::string("GET /v1/images HTTP/1.1\r\nHost: x\r\n")));
      slow.push_back(std::move(socket));
    }
    std::vector<std::future<testing::HttpReply>> polls;
    for (int i = 0; i < 3; ++i) {
      polls.push_back(std::async(std::launch::async, [port, generation] {
        return http_call(port, verb::get,
                         "/v1/nodes/id1/desired?after=" + std::to_string(generation) + "&wait=30",
                         {}, token);
      }));
    }
    ASSERT_TRUE(wait_until(
        [&] { return live.on_loop([&] { return live.controller->long_polls(); }) == 3; }));
    const auto started = std::chrono::steady_clock::now();
    auto stopped = net::co_spawn(live.context, live.controller->stop(), net::use_future);
    ASSERT_EQ(stopped.wait_for(std::chrono::seconds(30)), std::future_status::ready)
        << "round " << round << ": stop did not finish";
    // Nothing is left on the controller's context: run() returns.
    live.thread.join();
    const double took =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    for (auto& poll : polls) {
      const auto reply = poll.get();
      EXPECT_EQ(reply.status, 200);
      EXPECT_EQ(reply.headers.at("Connection"), "close");
    }
    std::printf("shutdown round %d: stopped in %.1f ms (3 long polls, 3 slow clients)\n", round,
                took);
  }
}

}  // namespace
}  // namespace swarm_prepull::controller
