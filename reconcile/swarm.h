// The swarm objects that swarm-prepull reasons about, as plain values, and
// their decoding from the Engine API's JSON (GET /nodes, /services, /tasks,
// /configs, /images/json, /events). Decoding is the one place that knows the
// engine's field names; everything downstream works on these structs.
//
// Absent fields decode to their empty value (engines omit empty maps and
// lists); a field of the wrong type is an error naming its JSON path.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reconcile/expected.h"

namespace swarm_prepull::reconcile {

using Labels = std::map<std::string, std::string>;

struct Platform {
  std::string architecture;  // as reported: a node says "x86_64", a service spec "amd64"
  std::string os;
  bool operator==(const Platform&) const = default;
};

// One entry of a GenericResources list (swarmkit api.GenericResource). A
// NamedResourceSpec is one unit of its kind, told apart by its value (a node
// lists one per GPU, by UUID); a DiscreteResourceSpec is an amount of it.
struct GenericResource {
  std::string kind;
  bool named = false;       // NamedResourceSpec; else DiscreteResourceSpec
  std::string value;        // NamedResourceSpec.Value
  std::int64_t amount = 0;  // DiscreteResourceSpec.Value
  bool operator==(const GenericResource&) const = default;
};

// A node's Description.Resources (what it has in all) or a task's
// Resources.Reservations (what it needs of a node).
struct Resources {
  std::int64_t nano_cpus = 0;
  std::int64_t memory_bytes = 0;
  std::vector<GenericResource> generic;  // GenericResources, in the engine's order
  bool empty() const { return nano_cpus == 0 && memory_bytes == 0 && generic.empty(); }
  bool operator==(const Resources&) const = default;
};

// One entry of Description.Engine.Plugins: Type "Volume", "Network", "Log",
// "Authorization"; the engine lists its built-in drivers there too.
struct PluginDescription {
  std::string type;
  std::string name;  // "local", "json-file", "vieux/sshfs:latest"
  bool operator==(const PluginDescription&) const = default;
};

struct Node {
  std::string id;
  std::string hostname;      // Description.Hostname
  std::string role;          // Spec.Role: "manager" or "worker"
  std::string availability;  // Spec.Availability: "active", "pause", "drain"
  std::string state;         // Status.State: "ready", "down", "disconnected", "unknown"
  std::string addr;          // Status.Addr
  Platform platform;         // Description.Platform
  Labels labels;             // Spec.Labels, set by operators
  Labels engine_labels;      // Description.Engine.Labels, from the node's daemon.json
  std::string engine_version;
  bool leader = false;  // ManagerStatus.Leader
  Resources resources;  // Description.Resources: the totals, not what is free now
  // Description.Engine.Plugins; nullopt when the node reported no engine at
  // all, which swarmkit's PluginFilter lets through.
  std::optional<std::vector<PluginDescription>> plugins;
};

enum class ServiceMode { replicated, global, replicated_job, global_job };

struct Placement {
  std::vector<std::string> constraints;
  std::vector<Platform> platforms;
};

// What a task needs of a node besides its Placement, read from the task
// template as swarmkit's ResourceFilter and PluginFilter read the task spec.
struct TaskNeeds {
  Resources reservations;  // TaskTemplate.Resources.Reservations
  // ContainerSpec.Mounts[] of Type "volume" whose VolumeOptions.DriverConfig
  // names a driver other than "local", in mount order, as written.
  std::vector<std::string> volume_drivers;
  std::string log_driver;  // TaskTemplate.LogDriver.Name; empty when none is set
  bool operator==(const TaskNeeds&) const = default;
};

// Which kind of task a service runs. Only container tasks pull images.
enum class TaskRuntime { container, plugin, attachment };

struct ServiceSpec {
  std::string name;
  Labels labels;
  TaskRuntime runtime = TaskRuntime::container;
  std::string image;  // TaskTemplate.ContainerSpec.Image, empty for other runtimes
  Placement placement;
  TaskNeeds needs;
  ServiceMode mode = ServiceMode::replicated;
  std::uint64_t replicas = 0;  // Replicated only
};

struct UpdateStatus {
  std::string state;  // "updating", "paused", "completed", "rollback_started", ...
  std::string message;
};

struct Service {
  std::string id;
  std::uint64_t version = 0;  // Version.Index
  ServiceSpec spec;
  std::optional<ServiceSpec> previous_spec;
  std::optional<UpdateStatus> update_status;
};

struct Task {
  std::string id;
  std::string service_id;
  std::string node_id;
  std::uint64_t slot = 0;
  std::string desired_state;
  std::string state;  // Status.State
  std::string error;  // Status.Err
  std::string image;  // Spec.ContainerSpec.Image
  // NetworksAttachments[].Addresses of every network, as the engine gives
  // them: CIDR ("10.0.1.5/24"). What ties an agent's request to its task.
  std::vector<std::string> addresses;
};

struct Config {
  std::string id;
  std::string name;
  Labels labels;
  std::string data;  // Spec.Data, base64-decoded
};

// One entry of GET /images/json.
struct Image {
  std::string id;
  std::vector<std::string> repo_tags;     // "repo:tag"; absent for digest-pulled images
  std::vector<std::string> repo_digests;  // "repo@sha256:..."
  std::int64_t size = 0;
  // GET /images/json only (image inspect has them elsewhere, in other forms):
  // when the image's config was written (unix seconds), and its build labels.
  std::int64_t created = 0;
  Labels labels;
};

// One container of GET /containers/json?all=true: which image it was made
// from, whatever its state (a stopped container still holds its image).
struct Container {
  std::string id;
  std::string image_id;  // ImageID: "sha256:..."
  std::string state;     // "running", "exited", "created", ...
};

// One line of GET /events.
struct Event {
  std::string type;    // "service", "node", "config", "image", ...
  std::string action;  // "create", "update", "remove", "pull", ...
  std::string actor_id;
  Labels actor_attributes;
  std::int64_t time_nano = 0;
};

Expected<Node> decode_node(const nlohmann::json& object);
Expected<Service> decode_service(const nlohmann::json& object);
Expected<ServiceSpec> decode_service_spec(const nlohmann::json& spec);
Expected<Task> decode_task(const nlohmann::json& object);
// The members decode_task reads, as paths from the task object ("*": every
// element of an array). A swarm's task list runs to kilobytes of spec per
// task, of which these few are needed: a list can be parsed keeping only them.
extern const std::vector<std::vector<std::string_view>> task_members;
Expected<Config> decode_config(const nlohmann::json& object);
Expected<Image> decode_image(const nlohmann::json& object);
Expected<Container> decode_container(const nlohmann::json& object);
Expected<Event> decode_event(const nlohmann::json& object);

// Decodes a JSON array of objects, failing on the first bad element and naming
// its index: the engine either sends a list we understand or we stop.
template <class T>
using Decoder = Expected<T> (*)(const nlohmann::json&);
template <class T>
Expected<std::vector<T>> decode_list(const nlohmann::json& array, Decoder<T> decode);
// The two errors of a list, for every reader of one (decode_list, and the
// engine client's, which decodes elements as it reads them).
Error not_a_list(const nlohmann::json& value);
Error in_element(std::size_t index, const Error& error);

// RFC 4648 base64 (the engine's encoding of config data); nullopt when invalid.
std::optional<std::string> base64_decode(std::string_view text);

std::string_view to_string(ServiceMode mode);

}  // namespace swarm_prepull::reconcile
