#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "reconcile/swarm.h"

namespace swarm_prepull::reconcile {
namespace {

using nlohmann::json;

TEST(DecodeNode, ReadsTheFieldsPlacementUses) {
  const auto node = decode_node(json::parse(R"({
    "ID": "n1", "Spec": {"Role": "worker", "Availability": "active", "Labels": {"zone": "a"}},
    "Description": {"Hostname": "node-2", "Platform": {"Architecture": "x86_64", "OS": "linux"},
                    "Engine": {"EngineVersion": "20.10.24", "Labels": {"disk": "ssd"}}},
    "Status": {"State": "ready", "Addr": "10.0.0.2"}})"));
  ASSERT_TRUE(node) << node.error().message;
  EXPECT_EQ(node->hostname, "node-2");
  EXPECT_EQ(node->role, "worker");
  EXPECT_EQ(node->platform.architecture, "x86_64");
  EXPECT_EQ(node->labels.at("zone"), "a");
  EXPECT_EQ(node->engine_labels.at("disk"), "ssd");
  EXPECT_EQ(node->addr, "10.0.0.2");
  EXPECT_FALSE(node->leader);
}

TEST(DecodeNode, WrongTypeNamesThePath) {
  const auto node = decode_node(json::parse(R"({"ID": "n1", "Spec": {"Labels": {"zone": 3}}})"));
  ASSERT_FALSE(node);
  EXPECT_NE(node.error().message.find("/Spec/Labels"), std::string::npos) << node.error().message;
}

TEST(DecodeService, ModesPreviousSpecAndRuntimes) {
  const auto service = decode_service(json::parse(R"({
    "ID": "s1", "Version": {"Index": 12},
    "Spec": {"Name": "web", "TaskTemplate": {"ContainerSpec": {"Image": "nginx:1.25"},
             "Placement": {"Constraints": ["node.role==worker"],
                           "Platforms": [{"Architecture": "amd64", "OS": "linux"}]}},
             "Mode": {"Global": {}}},
    "PreviousSpec": {"Name": "web", "TaskTemplate": {"ContainerSpec": {"Image": "nginx:1.24"}},
                     "Mode": {"Replicated": {"Replicas": 3}}},
    "UpdateStatus": {"State": "updating"}})"));
  ASSERT_TRUE(service) << service.error().message;
  EXPECT_EQ(service->version, 12u);
  EXPECT_EQ(service->spec.mode, ServiceMode::global);
  EXPECT_EQ(service->spec.image, "nginx:1.25");
  EXPECT_EQ(service->spec.placement.constraints.size(), 1u);
  EXPECT_EQ(service->spec.placement.platforms.at(0).architecture, "amd64");
  ASSERT_TRUE(service->previous_spec.has_value());
  EXPECT_EQ(service->previous_spec->mode, ServiceMode::replicated);
  EXPECT_EQ(service->previous_spec->replicas, 3u);
  EXPECT_EQ(service->update_status->state, "updating");

  const auto plugin = decode_service(
      json::parse(R"({"ID": "p", "Spec": {"TaskTemplate": {"PluginSpec": {"Name": "x"}}}})"));
  ASSERT_TRUE(plugin);
  EXPECT_EQ(plugin->spec.runtime, TaskRuntime::plugin);
  const auto job = decode_service(
      json::parse(R"({"ID": "j", "Spec": {"Mode": {"ReplicatedJob": {"MaxConcurrent": 1}}}})"));
  ASSERT_TRUE(job);
  EXPECT_EQ(job->spec.mode, ServiceMode::replicated_job);
}

TEST(DecodeTask, ReadsTheAddressesOfEveryNetworkAttachment) {
  const auto task = decode_task(json::parse(R"({
    "ID": "t1", "ServiceID": "s1", "NodeID": "n1", "DesiredState": "running",
    "Status": {"State": "running"},
    "NetworksAttachments": [
      {"Network": {"ID": "ingress"}, "Addresses": ["10.0.0.7/24"]},
      {"Network": {"ID": "prepull"}, "Addresses": ["10.0.1.5/24", "fd00::5/64"]},
      {"Network": {"ID": "empty"}}]})"));
  ASSERT_TRUE(task) << task.error().message;
  EXPECT_EQ(task->addresses,
            (std::vector<std::string>{"10.0.0.7/24", "10.0.1.5/24", "fd00::5/64"}));
}

TEST(DecodeTask, MalformedAttachmentNamesThePath) {
  const auto task =
      decode_task(json::parse(R"({"ID": "t1", "NetworksAttachments": [{"Addresses": [7]}]})"));
  ASSERT_FALSE(task);
  EXPECT_NE(task.error().message.find("/NetworksAttachments: /Addresses"), std::string::npos)
      << task.error().message;
}

TEST(DecodeConfig, DecodesBase64Data) {
  const auto config = decode_config(json::parse(
      R"({"ID": "c", "Spec": {"Name": "set", "Labels": {"swarm-prepull.imageset": "true"},
          "Data": "aW1hZ2VzOiBbcmVkaXNd"}})"));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->data, "images: [redis]");
  EXPECT_FALSE(decode_config(json::parse(R"({"Spec": {"Data": "a$b"}})")));
}

TEST(DecodeImage, NullListsAreEmpty) {
  const auto image = decode_image(json::parse(
      R"({"Id": "sha256:1", "RepoTags": null, "RepoDigests": ["r@sha256:2"], "Size": 10})"));
  ASSERT_TRUE(image);
  EXPECT_TRUE(image->repo_tags.empty());
  EXPECT_EQ(image->repo_digests.at(0), "r@sha256:2");
}

TEST(DecodeList, NamesTheBadElement) {
  const auto nodes = decode_list<Node>(json::parse(R"([{"ID": "a"}, 7])"), decode_node);
  ASSERT_FALSE(nodes);
  EXPECT_NE(nodes.error().message.find("element 1"), std::string::npos);
  EXPECT_FALSE(decode_list<Node>(json::parse(R"({"ID": "a"})"), decode_node));
}

TEST(Base64, RoundTrips) {
  EXPECT_EQ(base64_decode("aGVsbG8="), "hello");
  EXPECT_EQ(base64_decode("aGVsbG8"), "hello");
  EXPECT_EQ(base64_decode(""), "");
  EXPECT_FALSE(base64_decode("a"));
}

}  // namespace
}  // namespace swarm_prepull::reconcile

#include "reconcile/snapshot.h"

namespace swarm_prepull::reconcile {
namespace {

TEST(Snapshot, ConfigsAreOptional) {
  const auto snapshot = parse_snapshot(R"({"nodes": [{"ID": "n"}], "services": []})");
  ASSERT_TRUE(snapshot) << snapshot.error().message;
  EXPECT_EQ(snapshot->nodes.size(), 1u);
  EXPECT_TRUE(snapshot->configs.empty());
}

TEST(Snapshot, ErrorsSayWhere) {
  const auto syntax = parse_snapshot("{\"nodes\": [\n  {\"ID\": }]}");
  ASSERT_FALSE(syntax);
  EXPECT_NE(syntax.error().message.find("line 2"), std::string::npos) << syntax.error().message;

  const auto missing = parse_snapshot(R"({"nodes": []})");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("\"services\" is missing"), std::string::npos);

  const auto bad = parse_snapshot(R"({"nodes": [], "services": [{"ID": "s", "Spec": []}]})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("services: element 0"), std::string::npos)
      << bad.error().message;

  EXPECT_FALSE(parse_snapshot(R"({"nodes": 1E400, "services": []})"));
  EXPECT_FALSE(parse_snapshot("[]"));
  EXPECT_FALSE(parse_snapshot(""));
}

}  // namespace
}  // namespace swarm_prepull::reconcile
