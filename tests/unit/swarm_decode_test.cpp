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

// A node as `docker node inspect` shows it, with what ResourceFilter and
// PluginFilter read.
TEST(DecodeNode, ReadsTotalResourcesAndEnginePlugins) {
  const auto node = decode_node(json::parse(R"({
    "ID": "n1",
    "Description": {
      "Resources": {"NanoCPUs": 4000000000, "MemoryBytes": 8254390272,
                    "GenericResources": [
                      {"NamedResourceSpec": {"Kind": "gpu", "Value": "GPU-0a1b"}},
                      {"DiscreteResourceSpec": {"Kind": "ssd", "Value": 2}}]},
      "Engine": {"EngineVersion": "26.1.5",
                 "Plugins": [{"Type": "Log", "Name": "json-file"},
                             {"Type": "Volume", "Name": "vieux/sshfs:latest"}]}}})"));
  ASSERT_TRUE(node) << node.error().message;
  EXPECT_EQ(node->resources.nano_cpus, 4'000'000'000);
  EXPECT_EQ(node->resources.memory_bytes, 8'254'390'272);
  EXPECT_EQ(node->resources.generic,
            (std::vector<GenericResource>{{"gpu", true, "GPU-0a1b", 0}, {"ssd", false, "", 2}}));
  ASSERT_TRUE(node->plugins.has_value());
  EXPECT_EQ(*node->plugins, (std::vector<PluginDescription>{{"Log", "json-file"},
                                                            {"Volume", "vieux/sshfs:latest"}}));
}

TEST(DecodeNode, AnEmptyEngineIsNoEngine) {
  // moby writes "Engine": {} for a node whose description has no engine;
  // PluginFilter lets such a node through, unlike one listing no plugin.
  const auto empty = decode_node(json::parse(R"({"ID": "n1", "Description": {"Engine": {}}})"));
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_FALSE(empty->plugins.has_value());
  const auto none = decode_node(json::parse(R"({"ID": "n1"})"));
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_FALSE(none->plugins.has_value());
  const auto listed = decode_node(
      json::parse(R"({"ID": "n1", "Description": {"Engine": {"EngineVersion": "1"}}})"));
  ASSERT_TRUE(listed) << listed.error().message;
  EXPECT_EQ(listed->plugins, std::vector<PluginDescription>{});
}

TEST(DecodeNode, MalformedResourcesNameTheirPath) {
  const auto expect_fault = [](const char* text, const std::string& path) {
    const auto node = decode_node(json::parse(text));
    ASSERT_FALSE(node) << text;
    EXPECT_NE(node.error().message.find(path), std::string::npos) << node.error().message;
  };
  expect_fault(R"({"ID": "n", "Description": {"Resources": {"NanoCPUs": "4"}}})",
               "/Description/Resources/NanoCPUs is not an integer");
  expect_fault(R"({"ID": "n", "Description": {"Resources": {"GenericResources": {}}}})",
               "/Description/Resources/GenericResources is not an array of generic resources");
  expect_fault(R"({"ID": "n", "Description": {"Resources": {"GenericResources": [
                   {"DiscreteResourceSpec": {"Kind": "ssd", "Value": 1}},
                   {"DiscreteResourceSpec": {"Kind": "ssd", "Value": "2"}}]}}})",
               "/Description/Resources/GenericResources/1/DiscreteResourceSpec/Value is not an "
               "integer");
  expect_fault(R"({"ID": "n", "Description": {"Resources": {"GenericResources": [{}]}}})",
               "/Description/Resources/GenericResources/0 has neither DiscreteResourceSpec nor "
               "NamedResourceSpec");
  expect_fault(R"({"ID": "n", "Description": {"Engine": {"Plugins": [{"Type": 1}]}}})",
               "/Description/Engine/Plugins/0/Type is not a string");
  expect_fault(R"({"ID": "n", "Description": {"Engine": {"Plugins": ["Log"]}}})",
               "/Description/Engine/Plugins/0 is not an object");
  expect_fault(R"({"ID": "n", "Description": {"Engine": "docker"}})",
               "/Description/Engine is not an object");
}

TEST(DecodeService, ReadsReservationsVolumeDriversAndTheLogDriver) {
  const auto service = decode_service(json::parse(R"({
    "ID": "s1",
    "Spec": {"Name": "db", "TaskTemplate": {
      "ContainerSpec": {"Image": "postgres:16", "Mounts": [
        {"Type": "bind", "Source": "/srv", "Target": "/srv"},
        {"Type": "volume", "Source": "data", "Target": "/data",
         "VolumeOptions": {"DriverConfig": {"Name": "rexray/ebs"}}},
        {"Type": "volume", "Source": "cache", "Target": "/cache",
         "VolumeOptions": {"DriverConfig": {"Name": "local"}}},
        {"Type": "volume", "Source": "plain", "Target": "/plain"},
        {"Type": "tmpfs", "Target": "/tmp"}]},
      "Resources": {"Limits": {"NanoCPUs": 4000000000},
                    "Reservations": {"NanoCPUs": 2000000000, "MemoryBytes": 1073741824,
                                     "GenericResources": [
                                       {"DiscreteResourceSpec": {"Kind": "gpu", "Value": 1}}]}},
      "LogDriver": {"Name": "gelf", "Options": {"gelf-address": "udp://log:12201"}}}}})"));
  ASSERT_TRUE(service) << service.error().message;
  const TaskNeeds& needs = service->spec.needs;
  EXPECT_EQ(needs.reservations, (Resources{2'000'000'000, 1 << 30, {{"gpu", false, "", 1}}}));
  EXPECT_EQ(needs.volume_drivers, std::vector<std::string>{"rexray/ebs"});
  EXPECT_EQ(needs.log_driver, "gelf");
}

TEST(DecodeService, ATaskTemplateWithoutNeedsNeedsNothing) {
  const auto service = decode_service(
      json::parse(R"({"ID": "s1", "Spec": {"TaskTemplate": {"ContainerSpec": {"Image": "r"},
                      "LogDriver": {"Options": {"max-size": "50k"}}}}})"));
  ASSERT_TRUE(service) << service.error().message;
  EXPECT_EQ(service->spec.needs, TaskNeeds{});
}

TEST(DecodeService, MalformedNeedsNameTheirPath) {
  const auto expect_fault = [](const char* spec, const std::string& path) {
    const auto service =
        decode_service(json::parse(std::string(R"({"ID": "s1", "Spec": )") + spec + "}"));
    ASSERT_FALSE(service) << spec;
    EXPECT_NE(service.error().message.find(path), std::string::npos) << service.error().message;
  };
  expect_fault(R"({"TaskTemplate": {"Resources": {"Reservations": {"MemoryBytes": 1.5}}}})",
               "/TaskTemplate/Resources/Reservations/MemoryBytes is not an integer");
  expect_fault(R"({"TaskTemplate": {"Resources": {"Reservations": {"GenericResources": [
                   {"NamedResourceSpec": {"Kind": ["gpu"]}}]}}}})",
               "/TaskTemplate/Resources/Reservations/GenericResources/0/NamedResourceSpec/Kind "
               "is not a string");
  expect_fault(R"({"TaskTemplate": {"ContainerSpec": {"Mounts": [{"Type": "volume",
                   "VolumeOptions": {"DriverConfig": {"Name": 7}}}]}}})",
               "/TaskTemplate/ContainerSpec/Mounts/0/VolumeOptions/DriverConfig/Name is not a "
               "string");
  expect_fault(R"({"TaskTemplate": {"ContainerSpec": {"Mounts": {}}}})",
               "/TaskTemplate/ContainerSpec/Mounts is not an array of mounts");
  expect_fault(R"({"TaskTemplate": {"LogDriver": {"Name": false}}})",
               "/TaskTemplate/LogDriver/Name is not a string");
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

// GC reads Created and Labels from the list; inspect's Created is a string
// and its labels live elsewhere, which must not fail the decode.
TEST(DecodeImage, ReadsCreatedAndLabelsOfTheList) {
  const auto listed = decode_image(json::parse(
      R"({"Id": "sha256:1", "RepoTags": ["a:1"], "Created": 1764658800, "Size": 10,
          "Labels": {"swarm-prepull.keep": "true"}})"));
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->created, 1764658800);
  EXPECT_EQ(listed->labels.at("swarm-prepull.keep"), "true");
  const auto inspected = decode_image(json::parse(
      R"({"Id": "sha256:1", "Created": "2025-12-02T07:00:00Z", "Config": {"Labels": null},
          "Labels": null})"));
  ASSERT_TRUE(inspected);
  EXPECT_EQ(inspected->created, 0);
  EXPECT_TRUE(inspected->labels.empty());
}

TEST(DecodeContainer, ReadsItsImageIdAndState) {
  const auto container = decode_container(
      json::parse(R"({"Id": "c1", "Image": "a:1", "ImageID": "sha256:1", "State": "exited"})"));
  ASSERT_TRUE(container);
  EXPECT_EQ(container->image_id, "sha256:1");
  EXPECT_EQ(container->state, "exited");
  const auto bad = decode_container(json::parse(R"({"Id": "c1", "ImageID": 7})"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("ImageID"), std::string::npos) << bad.error().message;
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
