// `plan --explain IMAGE` (reconcile/explain.h): for every node, whether the
// image goes there and, if not, the first of swarm's rules that keeps it away.
#include "reconcile/explain.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "generated_swarm.h"
#include "reconcile/imageset.h"
#include "reconcile/reference.h"
#include "reconcile/snapshot.h"
#include "tests/unit/swarm_builders.h"

namespace swarm_prepull::reconcile {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

using testing::make_node;
using testing::make_service;

Explanation explain(std::string_view image, const std::vector<Node>& nodes,
                    const std::vector<Service>& services,
                    const std::vector<NamedImageSet>& sets = {}) {
  auto explanation = explain_image(image, nodes, services, sets);
  EXPECT_TRUE(explanation) << explanation.error().message;
  return explanation ? *explanation : Explanation{};
}

// hostname -> "placed" or the reason.
std::map<std::string, std::string> verdicts(const Explanation& explanation) {
  std::map<std::string, std::string> out;
  for (const NodeExplanation& node : explanation.nodes) {
    out[node.hostname] = node.placed ? "placed" : node.reason;
  }
  return out;
}

TEST(ExplainImage, NormalizesTheImage) {
  EXPECT_EQ(explain("redis", {}, {}).image, "docker.io/library/redis:latest");
  EXPECT_EQ(explain("127.0.0.1:5000/bb:1@sha256:" + std::string(64, 'a'), {}, {}).image,
            "127.0.0.1:5000/bb@sha256:" + std::string(64, 'a'));
}

TEST(ExplainImage, AnInvalidImageIsAnError) {
  auto explanation = explain_image("Redis", {make_node("n1", "a")}, {});
  ASSERT_FALSE(explanation);
  EXPECT_THAT(explanation.error().message, ::testing::StartsWith("image 'Redis': "));
}

TEST(ExplainImage, AnImageNobodyWantsIsPlacedNowhere) {
  const auto explanation = explain("busybox", {make_node("n1", "a"), make_node("n2", "b")},
                                   {make_service("cache", "redis")});
  EXPECT_THAT(verdicts(explanation), (std::map<std::string, std::string>{
                                         {"a", "no service or image set wants this image"},
                                         {"b", "no service or image set wants this image"}}));
}

TEST(ExplainImage, ThePlacedNodesAndTheFirstRuleOnTheOthers) {
  Node drained = make_node("n4", "node-4", {{"zone", "a"}});
  drained.availability = "drain";
  Node down = make_node("n5", "node-5", {{"zone", "a"}});
  down.state = "down";
  const auto explanation = explain("redis:latest",
                                   {make_node("n1", "node-1", {{"zone", "a"}}),
                                    make_node("n3", "node-3", {{"zone", "b"}}), drained, down},
                                   {make_service("cache", "redis", {"node.labels.zone==a"})});
  EXPECT_THAT(verdicts(explanation),
              (std::map<std::string, std::string>{
                  {"node-1", "placed"},
                  {"node-3", "constraint node.labels.zone==a (node has zone=b)"},
                  {"node-4", "node is drained"},
                  {"node-5", "node is not ready (down)"}}));
}

// Resources and plugins come after readiness and before constraints, as in
// swarmkit's pipeline.
TEST(ExplainImage, ResourcesAndPluginsAreReasonsInSwarmsOrder) {
  Node small = make_node("n1", "small", {{"zone", "b"}});
  small.resources = {testing::nano_cpus_per_cpu, 512 << 20, {}};
  Node no_plugin = make_node("n2", "no-plugin", {{"zone", "b"}});
  no_plugin.resources = {4 * testing::nano_cpus_per_cpu, 8LL << 30, {}};
  no_plugin.plugins = std::vector<PluginDescription>{{"Volume", "local"}};
  Node other_zone = no_plugin;
  other_zone.id = "n3";
  other_zone.hostname = "other-zone";
  other_zone.plugins->push_back({"Volume", "rexray/ebs:latest"});
  Node fits = other_zone;
  fits.id = "n4";
  fits.hostname = "z-fits";
  fits.labels["zone"] = "a";
  Node no_gpu = fits;
  no_gpu.id = "n5";
  no_gpu.hostname = "z-no-gpu";
  Service db = make_service("db", "postgres:16", {"node.labels.zone==a"});
  db.spec.needs.reservations = {testing::nano_cpus_per_cpu, 1 << 30, {}};
  db.spec.needs.volume_drivers = {"rexray/ebs"};
  Service gpu = make_service("gpu", "postgres:16");
  gpu.spec.needs.reservations.generic = {testing::discrete_resource("gpu", 1)};
  fits.resources.generic = {testing::discrete_resource("gpu", 1)};
  EXPECT_THAT(verdicts(explain("postgres:16", {small, no_plugin, other_zone, fits, no_gpu}, {db})),
              (std::map<std::string, std::string>{
                  {"small", "node has 512 MiB memory, the service reserves 1 GiB"},
                  {"no-plugin", "node has no volume plugin rexray/ebs"},
                  {"other-zone", "constraint node.labels.zone==a (node has zone=b)"},
                  {"z-fits", "placed"},
                  {"z-no-gpu", "placed"}}));
  EXPECT_EQ(verdicts(explain("postgres:16", {no_gpu, fits}, {gpu}))["z-no-gpu"],
            "node has no generic resource gpu (the service reserves 1)");
}

TEST(ExplainImage, AnImageIdGoesNowhere) {
  const std::string id = "sha256:" + std::string(64, 'c');
  const auto explanation =
      explain(id, {make_node("n1", "a")}, {make_service("pinned", id), make_service("c", "redis")});
  EXPECT_EQ(explanation.image, id);
  EXPECT_THAT(verdicts(explanation),
              (std::map<std::string, std::string>{{"a", std::string(image_id_never_pulled)}}));
  // Nor does the service with that ID want the repository it would parse as.
  EXPECT_EQ(verdicts(explain("docker.io/library/sha256:" + std::string(64, 'c'),
                             {make_node("n1", "a")}, {make_service("pinned", id)}))["a"],
            "no service or image set wants this image");
}

TEST(ExplainImage, EachSpecIsJudgedOnItsOwnPlacement) {
  Service service = make_service("web", "nginx:1.25", {"node.labels.zone==b"});
  service.previous_spec = service.spec;
  service.previous_spec->placement.constraints = {"node.labels.zone==a"};
  const auto explanation = explain(
      "nginx:1.25", {make_node("n1", "a", {{"zone", "a"}}), make_node("n2", "b")}, {service});
  ASSERT_EQ(explanation.nodes.size(), 2u);
  EXPECT_TRUE(explanation.nodes[0].placed);
  EXPECT_THAT(explanation.nodes[0].sources,
              ElementsAre(SourceVerdict{"web", "previous spec", true, ""},
                          SourceVerdict{"web", "spec", false,
                                        "constraint node.labels.zone==b (node has zone=a)"}));
  EXPECT_FALSE(explanation.nodes[1].placed);
  EXPECT_EQ(explanation.nodes[1].reason,
            "web (previous spec): constraint node.labels.zone==a (node has no label zone); "
            "web: constraint node.labels.zone==b (node has no label zone)");
}

TEST(ExplainImage, ASharedReasonIsGivenOnce) {
  Node paused = make_node("n1", "a");
  paused.availability = "pause";
  const auto explanation = explain(
      "redis", {paused}, {make_service("one", "redis"), make_service("two", "redis:latest")});
  EXPECT_EQ(explanation.nodes[0].reason, "node is paused");
  EXPECT_EQ(explanation.nodes[0].sources.size(), 2u);
}

TEST(ExplainImage, TheImagesLabelCountsLikeTheSpecsImage) {
  Service service = make_service("web", "nginx:1.25", {"node.role==worker"});
  service.spec.labels["swarm-prepull.images"] = "alpine:3, redis";
  const auto explanation = explain("redis", {make_node("n1", "a")}, {service});
  EXPECT_TRUE(explanation.nodes[0].placed);
}

TEST(ExplainImage, SkippedServicesAndPluginsWantNothing) {
  Service skipped = make_service("skipped", "redis");
  skipped.spec.labels["swarm-prepull.skip"] = "true";
  Service plugin = make_service("plugin", "redis");
  plugin.spec.runtime = TaskRuntime::plugin;
  const auto explanation = explain("redis", {make_node("n1", "a")}, {skipped, plugin});
  EXPECT_EQ(explanation.nodes[0].reason, "no service or image set wants this image");
}

TEST(ExplainImage, AnInvalidConstraintPlacesTheSpecNowhere) {
  const auto explanation =
      explain("redis", {make_node("n1", "a")}, {make_service("web", "redis", {"node.role=x"})});
  EXPECT_EQ(explanation.nodes[0].reason,
            "invalid placement: constraint 'node.role=x': constraint expected one operator from "
            "==, !=");
}

TEST(ExplainImage, ImageSetsArePlacedLikeServices) {
  NamedImageSet set;
  set.source = "config:arm";
  set.set.images = {"docker.io/library/redis:latest"};
  set.set.placement.platforms = {{"arm64", "linux"}};
  NamedImageSet broken = set;
  broken.source = "config:broken";
  broken.error = Error{"line 1, column 1: bad"};
  Node arm = make_node("n2", "b");
  arm.platform = {"aarch64", "linux"};
  const auto explanation = explain("redis", {make_node("n1", "a"), arm}, {}, {set, broken});
  EXPECT_THAT(
      verdicts(explanation),
      (std::map<std::string, std::string>{
          {"a", "platform linux/arm64 not supported by node (linux/x86_64)"}, {"b", "placed"}}));
  EXPECT_EQ(explanation.nodes[1].sources.size(), 1u);  // the broken set wants nothing
}

TEST(ExplainImage, NodesInThePlansOrder) {
  const auto explanation =
      explain("redis", {make_node("z9", "b"), make_node("n2", "a"), make_node("n1", "b")}, {});
  std::vector<std::string> order;
  for (const auto& node : explanation.nodes) order.push_back(node.hostname + "/" + node.node_id);
  EXPECT_THAT(order, ElementsAre("a/n2", "b/n1", "b/z9"));
}

// --- agreement with the plan -------------------------------------------------------

// Every node of every image the snapshot names (and one it does not): placed
// exactly when the plan lists the image there, and a reason otherwise.
void expect_agrees_with_plan(const std::vector<Node>& nodes, const std::vector<Service>& services,
                             const std::vector<NamedImageSet>& sets,
                             const std::vector<std::string>& images) {
  const Plan plan = desired_images(nodes, services, sets);
  for (const std::string& image : images) {
    const Explanation explanation = explain(image, nodes, services, sets);
    ASSERT_EQ(explanation.nodes.size(), plan.nodes.size());
    for (std::size_t n = 0; n < plan.nodes.size(); ++n) {
      const auto refs = desired_refs(plan, plan.nodes[n]);
      const bool planned = std::find(refs.begin(), refs.end(), explanation.image) != refs.end();
      EXPECT_EQ(explanation.nodes[n].placed, planned) << image << " on " << plan.nodes[n].node_id;
      if (!planned) {
        EXPECT_FALSE(explanation.nodes[n].reason.empty());
      }
    }
  }
}

// What the engine of a three-node sandbox swarm returns (trimmed to the
// fields that count), with a rollback target, an image set and a drained node.
constexpr const char* sandbox_snapshot = R"({
  "nodes": [
    {"ID": "m1", "Spec": {"Role": "manager", "Availability": "active", "Labels": {"zone": "a"}},
     "Description": {"Hostname": "manager-1", "Platform": {"Architecture": "x86_64", "OS": "linux"},
                     "Engine": {"Labels": {"disk": "ssd"}}},
     "Status": {"State": "ready", "Addr": "10.213.37.2"}},
    {"ID": "w1", "Spec": {"Role": "worker", "Availability": "active", "Labels": {"zone": "b"}},
     "Description": {"Hostname": "worker-1", "Platform": {"Architecture": "aarch64", "OS": "linux"}},
     "Status": {"State": "ready", "Addr": "10.213.37.3"}},
    {"ID": "w2", "Spec": {"Role": "worker", "Availability": "drain", "Labels": {}},
     "Description": {"Hostname": "worker-2", "Platform": {"Architecture": "x86_64", "OS": "linux"}},
     "Status": {"State": "ready", "Addr": "10.213.37.4"}}
  ],
  "services": [
    {"ID": "s1", "Spec": {"Name": "web", "Labels": {"swarm-prepull.images": "nginx:1.26"},
      "TaskTemplate": {"ContainerSpec": {"Image": "nginx:1.25"},
                       "Placement": {"Constraints": ["node.role==worker"]}},
      "Mode": {"Replicated": {"Replicas": 2}}},
     "PreviousSpec": {"Name": "web",
      "TaskTemplate": {"ContainerSpec": {"Image": "nginx:1.24"},
                       "Placement": {"Constraints": ["node.labels.zone==a"]}},
      "Mode": {"Replicated": {"Replicas": 2}}}},
    {"ID": "s2", "Spec": {"Name": "cache",
      "TaskTemplate": {"ContainerSpec": {"Image": "redis:7"},
                       "Placement": {"Platforms": [{"Architecture": "amd64", "OS": "linux"}]}},
      "Mode": {"Global": {}}}},
    {"ID": "s3", "Spec": {"Name": "tools",
      "TaskTemplate": {"ContainerSpec": {"Image": "redis:7"},
                       "Placement": {"Constraints": ["engine.labels.disk==ssd"]}},
      "Mode": {"Replicated": {"Replicas": 0}}}}
  ],
  "configs": []
})";

TEST(ExplainAgreesWithPlan, OnTheSandboxSnapshot) {
  auto snapshot = parse_snapshot(sandbox_snapshot);
  ASSERT_TRUE(snapshot) << snapshot.error().message;
  NamedImageSet warm;
  warm.source = "config:edge";
  auto decoded = decode_imageset(nlohmann::json::parse(
      R"({"images": ["busybox:1", "nginx:1.26"], "placement": {"constraints": ["node.labels.zone!=a"]}})"));
  ASSERT_TRUE(decoded) << decoded.error().message;
  warm.set = *decoded;
  expect_agrees_with_plan(
      snapshot->nodes, snapshot->services, {warm},
      {"nginx:1.25", "nginx:1.26", "nginx:1.24", "redis:7", "busybox:1", "alpine"});
  const auto explanation = explain("nginx:1.24", snapshot->nodes, snapshot->services, {warm});
  EXPECT_THAT(verdicts(explanation),
              (std::map<std::string, std::string>{
                  {"manager-1", "placed"},
                  {"worker-1", "constraint node.labels.zone==a (node has zone=b)"},
                  {"worker-2", "node is drained"}}));
}

TEST(ExplainAgreesWithPlan, OnGeneratedSwarms) {
  for (std::uint32_t seed = 500; seed < 700; ++seed) {
    auto swarm = testing::SwarmGenerator(seed).generate(10, 10, 3);
    swarm.images.push_back("never-wanted:1");
    expect_agrees_with_plan(swarm.nodes, swarm.services, swarm.sets, {});
    std::vector<std::string> valid;
    for (const auto& image : swarm.images) {
      if (parse_reference(image)) valid.push_back(image);
    }
    expect_agrees_with_plan(swarm.nodes, swarm.services, swarm.sets, valid);
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "seed " << seed;
      break;
    }
  }
}

}  // namespace
}  // namespace swarm_prepull::reconcile
