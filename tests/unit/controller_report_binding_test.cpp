// Whose status report counts: with --report-binding task-address (the
// default) a node's report is taken only from the address of the agent task
// swarm runs on that node, so holding the token is not enough to make `wait`
// see an image where it is not (issue 17's forged-report attack).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "controller/report_binding.h"
#include "tests/unit/controller_test_support.h"
#include "tests/unit/http_test_support.h"
#include "tests/unit/loopback_controller.h"

namespace swarm_prepull::controller {
namespace {

using nlohmann::json;
using swarm_prepull::testing::http_call;
using swarm_prepull::testing::test_node;
using swarm_prepull::testing::test_service;
using verb = http::verb;

const auto& token = testing::loopback_token;

reconcile::Task agent_task(std::string node_id, std::vector<std::string> addresses) {
  reconcile::Task task;
  task.id = "task-" + node_id;
  task.service_id = "agent";
  task.node_id = std::move(node_id);
  task.desired_state = "running";
  task.addresses = std::move(addresses);
  return task;
}

TEST(AgentServiceIds, ByLabelUnlessANameIsGiven) {
  auto labelled = test_service("prepull_agent", "swarm-prepull:1");
  labelled.id = "s1";
  labelled.spec.labels["io.swarm-prepull.component"] = "agent";
  auto controller = test_service("prepull_controller", "swarm-prepull:1");
  controller.id = "s2";
  controller.spec.labels["io.swarm-prepull.component"] = "controller";
  auto other = test_service("my-agents", "swarm-prepull:1");
  other.id = "s3";
  EXPECT_EQ(agent_service_ids({labelled, controller, other}, ""), std::vector<std::string>{"s1"});
  EXPECT_EQ(agent_service_ids({labelled, controller, other}, "my-agents"),
            std::vector<std::string>{"s3"});
  EXPECT_TRUE(agent_service_ids({controller, other}, "").empty());
}

TEST(AgentAddresses, OnlyTheTaskOnThatNodeSpeaksForIt) {
  const AgentAddresses addresses(
      {agent_task("n1", {"10.0.1.5/24", "fd00::0005/64"}), agent_task("n2", {"10.0.1.6/24"}),
       agent_task("", {"10.0.1.7/24"}), agent_task("n3", {"not an address"})});
  EXPECT_FALSE(addresses.refusal("n1", "10.0.1.5"));
  EXPECT_FALSE(addresses.refusal("n1", "fd00::5"));          // one address, two spellings
  EXPECT_FALSE(addresses.refusal("n1", "::ffff:10.0.1.5"));  // IPv4-mapped
  EXPECT_FALSE(addresses.refusal("n2", "10.0.1.6"));
  // Another node's agent, an unscheduled task, garbage, nothing.
  const auto forged = addresses.refusal("n2", "10.0.1.5");
  ASSERT_TRUE(forged);
  EXPECT_EQ(*forged,
            "the status of node n2 is accepted only from the address of its agent task "
            "(10.0.1.6), not from 10.0.1.5");
  EXPECT_TRUE(addresses.refusal("n1", "10.0.1.7"));
  EXPECT_TRUE(addresses.refusal("n1", ""));
  EXPECT_TRUE(addresses.refusal("n1", "10.0.1.5/24"));
  const auto unknown = addresses.refusal("n3", "10.0.1.8");
  ASSERT_TRUE(unknown);
  EXPECT_NE(unknown->find("swarm runs no agent task with an address on that node"),
            std::string::npos);
  EXPECT_TRUE(addresses.refusal("n4", "10.0.1.5"));
}

class ReportBindingTest : public testing::LoopbackControllerTest {
 protected:
  void SetUp() override {
    auto options = loopback_options();
    options.report_binding = ReportBinding::task_address;
    start(std::move(options));
    on_loop([&] {
      controller_->apply_plan(reconcile::desired_images(
          {test_node("id1", "node-1"), test_node("id2", "node-2"), test_node("id3", "node-3")},
          {test_service("web", "registry.test/a:1")}));
      // The test's requests come from 127.0.0.1: it is node-1's agent task.
      controller_->apply_agent_tasks(
          {agent_task("id1", {"127.0.0.1/8"}), agent_task("id2", {"10.0.1.6/24"})});
      return 0;
    });
  }

  static std::string present_report() {
    return R"({"generation": 1, "images": [{"ref": "registry.test/a:1", "state": "present"}]})";
  }
  json images() { return json::parse(http_call(port_, verb::get, "/v1/images", {}, token).body); }
  // What a report may change: readiness and each node's state, not the notes.
  json readiness() {
    json result = json::array();
    const json listing = images();
    for (const auto& image : listing["images"]) {
      json states = json::object();
      for (const auto& node : image["nodes"]) states[node["id"].get<std::string>()] = node["state"];
      result.push_back({image["ref"], image["nodes_present"], states});
    }
    return result;
  }
  std::string agent_note(const std::string& node_id) {
    const json listing = images();
    for (const auto& node : listing["images"][0]["nodes"]) {
      if (node["id"] == node_id) return node.value("agent", "");
    }
    return "(not listed)";
  }
};

TEST_F(ReportBindingTest, AForgedReportForAnotherNodeIsRefusedAndChangesNothing) {
  const auto before = readiness();
  EXPECT_EQ(agent_note("id2"), "no report or poll from its agent since the controller started");
  for (const std::string node : {"id2", "id3"}) {
    const auto reply =
        http_call(port_, verb::post, "/v1/nodes/" + node + "/status", present_report(), token);
    EXPECT_EQ(reply.status, 403) << node << ": " << reply.body;
    const std::string error = json::parse(reply.body)["error"];
    EXPECT_NE(error.find("accepted only from"), std::string::npos) << error;
  }
  EXPECT_EQ(readiness(), before);
  EXPECT_EQ(images()["images"][0]["nodes_present"], 0);
  // What `wait` shows for the nodes it waits on.
  EXPECT_EQ(agent_note("id2"),
            "its agent's requests are refused: 403 (not from the address of the node's agent "
            "task) from 127.0.0.1");

  // The node's own agent task is heard.
  EXPECT_EQ(http_call(port_, verb::post, "/v1/nodes/id1/status", present_report(), token).status,
            204);
  EXPECT_EQ(images()["images"][0]["nodes_present"], 1);
  EXPECT_EQ(images()["images"][0]["nodes_desired"], 3);
}

TEST_F(ReportBindingTest, RefusalsAreCountedByRouteAndCode) {
  http_call(port_, verb::post, "/v1/nodes/id2/status", present_report(), token);
  http_call(port_, verb::post, "/v1/nodes/id2/status", present_report(), token);
  http_call(port_, verb::get, "/v1/nodes/id2/desired", {}, {{"Authorization", "Bearer wrong"}});
  http_call(port_, verb::get, "//v1/images");
  http_call(port_, verb::post, "/v1/nodes/id1/status", present_report(), token);
  const std::string text = metrics_text();
  for (const char* series :
       {R"(swarm_prepull_api_requests_total{code="403",route="/v1/nodes/{node_id}/status"} 2)",
        R"(swarm_prepull_api_requests_total{code="401",route="/v1/nodes/{node_id}/desired"} 1)",
        R"(swarm_prepull_api_requests_total{code="400",route="unmatched"} 1)",
        R"(swarm_prepull_api_requests_total{code="204",route="/v1/nodes/{node_id}/status"} 1)",
        R"(swarm_prepull_engine_requests_total{endpoint="/tasks"} 0)"}) {
    EXPECT_NE(text.find(series), std::string::npos) << series << "\n" << text;
  }
}

}  // namespace
}  // namespace swarm_prepull::controller
