// How `swarm-prepull plan` prints a plan and an explanation (cli/plan_output.h).
#include "cli/plan_output.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/swarm_builders.h"

namespace swarm_prepull::cli {
namespace {

using reconcile::Node;
using reconcile::Plan;
using reconcile::Service;

using testing::make_node;
using testing::make_service;

TEST(PlanToJson, HasExactlyTheDocumentedShapeAndOrder) {
  Node drained = make_node("n0", "c");
  drained.availability = "drain";
  const Plan plan = reconcile::desired_images(
      {drained, make_node("n2", "b"), make_node("n1", "a", {{"zone", "a"}})},
      {make_service("web", "nginx:1.25"), make_service("cache", "redis", {"node.labels.zone==a"}),
       make_service("api", "nginx:1.25", {"node.labels.zone==a"}), make_service("bad", "Bad")});
  nlohmann::ordered_json expected = nlohmann::ordered_json::parse(R"({
    "nodes": [
      {"id": "n1", "hostname": "a", "images": [
        {"ref": "docker.io/library/nginx:1.25", "services": ["api", "web"]},
        {"ref": "docker.io/library/redis:latest", "services": ["cache"]}]},
      {"id": "n2", "hostname": "b", "images": [
        {"ref": "docker.io/library/nginx:1.25", "services": ["web"]}]},
      {"id": "n0", "hostname": "c", "images": []}
    ]
  })");
  ASSERT_EQ(plan.errors.size(), 1u);
  expected["errors"] = nlohmann::ordered_json::array(
      {nlohmann::ordered_json{{"service", "bad"}, {"message", plan.errors[0].message}}});
  EXPECT_EQ(plan_to_json(plan), expected);
  EXPECT_EQ(plan_to_json(plan).dump().rfind(R"({"nodes":[{"id":"n1","hostname":"a","images":)", 0),
            0u);
  EXPECT_EQ(plan.images.size(), 3u);  // nginx twice (two service sets), redis once
}

TEST(FormatPlanTable, AlignsColumnsAndListsErrors) {
  Node drained = make_node("n3", "node-3");
  drained.availability = "drain";
  const Plan plan = reconcile::desired_images(
      {make_node("n1", "node-1", {{"zone", "a"}}), drained},
      {make_service("web", "nginx:1.25"), make_service("cache", "redis", {"node.labels.zone==a"}),
       make_service("bad", "nginx", {"1x==y"})});
  EXPECT_EQ(format_plan_table(plan),
            "NODE     ID   IMAGE                            SERVICES\n"
            "node-1   n1   docker.io/library/nginx:1.25     web\n"
            "              docker.io/library/redis:latest   cache\n"
            "node-3   n3   -                                -\n"
            "\n"
            "SERVICE   ERROR\n"
            "bad       constraint '1x==y': key '1x' is invalid\n");
}

reconcile::Explanation explained(const std::string& image) {
  Node drained = make_node("n4", "node-4");
  drained.availability = "drain";
  Service rollback = make_service("cache", "redis:7", {"node.labels.zone==b"});
  rollback.previous_spec = rollback.spec;
  rollback.previous_spec->placement.constraints.clear();
  auto explanation =
      reconcile::explain_image(image,
                               {make_node("n1", "node-1", {{"zone", "a"}}),
                                make_node("n3", "node-3", {{"zone", "b"}}), drained},
                               {make_service("web", "redis", {"node.labels.zone==a"}), rollback});
  EXPECT_TRUE(explanation) << explanation.error().message;
  return explanation ? *explanation : reconcile::Explanation{};
}

TEST(FormatExplanationTable, PlacedWithItsServicesOrTheFirstRuleThatRefuses) {
  EXPECT_EQ(format_explanation_table(explained("redis")),
            "IMAGE docker.io/library/redis:latest\n"
            "NODE     ID   PLACEMENT\n"
            "node-1   n1   placed (web)\n"
            "node-3   n3   not placed: constraint node.labels.zone==a (node has zone=b)\n"
            "node-4   n4   not placed: node is drained\n");
  EXPECT_EQ(format_explanation_table(explained("redis:7")),
            "IMAGE docker.io/library/redis:7\n"
            "NODE     ID   PLACEMENT\n"
            "node-1   n1   placed (cache (previous spec))\n"
            "node-3   n3   placed (cache)\n"
            "node-4   n4   not placed: node is drained\n");
}

TEST(ExplanationToJson, HasTheDocumentedShape) {
  const auto json = explanation_to_json(explained("redis"));
  EXPECT_EQ(json.dump(),
            R"j({"image":"docker.io/library/redis:latest","nodes":[)j"
            R"j({"id":"n1","hostname":"node-1","placed":true,"reason":"","services":[)j"
            R"j({"name":"web","spec":"spec","placed":true,"reason":""}]},)j"
            R"j({"id":"n3","hostname":"node-3","placed":false,)j"
            R"j("reason":"constraint node.labels.zone==a (node has zone=b)","services":[)j"
            R"j({"name":"web","spec":"spec","placed":false,)j"
            R"j("reason":"constraint node.labels.zone==a (node has zone=b)"}]},)j"
            R"j({"id":"n4","hostname":"node-4","placed":false,"reason":"node is drained",)j"
            R"j("services":[{"name":"web","spec":"spec","placed":false,)j"
            R"j("reason":"node is drained"}]}]})j");
}

TEST(ExplanationToJson, ImageNobodyWants) {
  const auto json = explanation_to_json(explained("busybox"));
  ASSERT_EQ(json["nodes"].size(), 3u);
  for (const auto& node : json["nodes"]) {
    EXPECT_EQ(node["placed"], false);
    EXPECT_EQ(node["reason"], "no service or image set wants this image");
    EXPECT_TRUE(node["services"].empty());
  }
}

}  // namespace
}  // namespace swarm_prepull::cli
