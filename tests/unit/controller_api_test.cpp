// The controller's agent API over loopback, with no engine behind it (its
// engine is a socket that does not exist, so every reconcile pass fails and
// the tests publish plans themselves with apply_plan).
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <boost/asio/use_future.hpp>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "controller/controller.h"
#include "metrics/metrics.h"
#include "tests/unit/controller_test_support.h"
#include "tests/unit/loopback_controller.h"

namespace swarm_prepull::controller {
namespace {

using nlohmann::json;
using swarm_prepull::testing::http_call;
using swarm_prepull::testing::test_node;
using swarm_prepull::testing::test_service;
using verb = server::http::verb;

const std::map<std::string, std::string> token = {{"Authorization", "Bearer t0ken"}};

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
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(poll.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  const auto bumped_at = std::chrono::steady_clock::now();
  const auto next = publish({test_service("web", "registry.test/a:2")});
  const auto reply = poll.get();
  EXPECT_LT(std::chrono::steady_clock::now() - bumped_at, std::chrono::milliseconds(500));
  ASSERT_EQ(reply.status, 200);
  EXPECT_GT(next, generation);
  EXPECT_EQ(json::parse(reply.body)["generation"], next);
}

TEST_F(ControllerApiTest, LongPollAnswersWhenTheWaitRunsOut) {
  const auto generation = publish({test_service("web", "registry.test/a:1")});
  const auto reply = http_call(
      port_, verb::get, "/v1/nodes/id1/desired?after=" + std::to_string(generation) + "&wait=0.3",
      {}, token);
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(json::parse(reply.body)["generation"], generation);
  EXPECT_GE(reply.took, std::chrono::milliseconds(280));
  EXPECT_LT(reply.took, std::chrono::seconds(2));
  // Already newer: no wait at all.
  const auto fresh =
      http_call(port_, verb::get, "/v1/nodes/id1/desired?after=0&wait=10", {}, token);
  EXPECT_EQ(fresh.status, 200);
  EXPECT_LT(fresh.took, std::chrono::seconds(1));
}

TEST_F(ControllerApiTest, MalformedReportsGet400AndChangeNothing) {
  publish({test_service("web", "registry.test/a:1")});
  const std::string before = metrics_text();
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
  EXPECT_EQ(metrics_text(), before);
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

TEST_F(ControllerApiTest, StopAnswersLongPollsAtOnce) {
  const auto generation = publish({test_service("web", "registry.test/a:1")});
  auto poll = std::async(std::launch::async, [&] {
    return http_call(port_, verb::get,
                     "/v1/nodes/id1/desired?after=" + std::to_string(generation) + "&wait=30", {},
                     token);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto started = std::chrono::steady_clock::now();
  on_loop([] { return 0; }, true);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  const auto reply = poll.get();
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.headers.at("Connection"), "close");
}

}  // namespace
}  // namespace swarm_prepull::controller
