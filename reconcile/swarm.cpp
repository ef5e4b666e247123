#include "reconcile/swarm.h"

#include <array>
#include <nlohmann/json.hpp>

namespace swarm_prepull::reconcile {
namespace {

using nlohmann::json;

// Walks one engine object and remembers the first type mismatch with its path,
// so a decoder reads as a list of fields instead of a ladder of checks.
class FieldReader {
 public:
  explicit FieldReader(const json& root) : root_(root) {}

  const json* find(const char* pointer) {
    const json::json_pointer path(pointer);
    if (!root_.contains(path)) return nullptr;
    const json& value = root_.at(path);
    return value.is_null() ? nullptr : &value;
  }

  std::string string(const char* pointer) {
    const json* value = find(pointer);
    if (value == nullptr) return {};
    if (!value->is_string()) return mismatch(pointer, "a string"), std::string{};
    return value->get<std::string>();
  }

  std::uint64_t unsigned_number(const char* pointer) {
    const json* value = find(pointer);
    if (value == nullptr) return 0;
    if (!value->is_number_unsigned()) return mismatch(pointer, "a non-negative integer"), 0;
    return value->get<std::uint64_t>();
  }

  std::int64_t number(const char* pointer) {
    const json* value = find(pointer);
    if (value == nullptr) return 0;
    if (!value->is_number_integer()) return mismatch(pointer, "an integer"), 0;
    return value->get<std::int64_t>();
  }

  bool boolean(const char* pointer) {
    const json* value = find(pointer);
    if (value == nullptr) return false;
    if (!value->is_boolean()) return mismatch(pointer, "a boolean"), false;
    return value->get<bool>();
  }

  Labels labels(const char* pointer) {
    Labels result;
    const json* value = find(pointer);
    if (value == nullptr) return result;
    if (!value->is_object()) return mismatch(pointer, "an object of strings"), result;
    for (const auto& [key, item] : value->items()) {
      if (!item.is_string()) return mismatch(pointer, "an object of strings"), result;
      result.emplace(key, item.get<std::string>());
    }
    return result;
  }

  std::vector<std::string> strings(const char* pointer) {
    std::vector<std::string> result;
    const json* value = find(pointer);
    if (value == nullptr) return result;
    if (!value->is_array()) return mismatch(pointer, "an array of strings"), result;
    for (const auto& item : *value) {
      if (!item.is_string()) return mismatch(pointer, "an array of strings"), result;
      result.push_back(item.get<std::string>());
    }
    return result;
  }

  std::vector<Platform> platforms(const char* pointer) {
    std::vector<Platform> result;
    const json* value = find(pointer);
    if (value == nullptr) return result;
    if (!value->is_array()) return mismatch(pointer, "an array of platforms"), result;
    for (const auto& item : *value) {
      FieldReader entry(item);
      if (!item.is_object()) return mismatch(pointer, "an array of platforms"), result;
      Platform platform{entry.string("/Architecture"), entry.string("/OS")};
      if (entry.failed()) return mismatch(pointer, "an array of platforms"), result;
      result.push_back(std::move(platform));
    }
    return result;
  }

  // NetworksAttachments[].Addresses of a task, every network's, as given.
  std::vector<std::string> attachment_addresses(const char* pointer) {
    std::vector<std::string> result;
    const json* value = find(pointer);
    if (value == nullptr) return result;
    if (!value->is_array()) return mismatch(pointer, "an array of network attachments"), result;
    for (const auto& item : *value) {
      if (!item.is_object()) return mismatch(pointer, "an array of network attachments"), result;
      FieldReader entry(item);
      for (auto& address : entry.strings("/Addresses")) result.push_back(std::move(address));
      if (entry.failed()) return fail(std::string(pointer) + ": " + entry.error_), result;
    }
    return result;
  }

  // Reads each element of the array at `pointer` with `read`, given a reader
  // over that element; a fault is named by the element's own path
  // ("/Description/Resources/GenericResources/1/DiscreteResourceSpec/Value").
  template <class Read>
  void each_object(const char* pointer, const char* expected, Read&& read) {
    const json* value = find(pointer);
    if (value == nullptr) return;
    if (!value->is_array()) return mismatch(pointer, expected);
    for (std::size_t index = 0; index < value->size(); ++index) {
      const std::string at = std::string(pointer) + "/" + std::to_string(index);
      const json& item = (*value)[index];
      if (!item.is_object()) return fail(at + " is not an object");
      FieldReader entry(item);
      read(entry);
      if (entry.failed()) return fail(at + entry.error_);
    }
  }

  // A Resources object: Description.Resources or Resources.Reservations.
  Resources resources(const std::string& pointer) {
    Resources result;
    result.nano_cpus = number((pointer + "/NanoCPUs").c_str());
    result.memory_bytes = number((pointer + "/MemoryBytes").c_str());
    const std::string generic = pointer + "/GenericResources";
    each_object(generic.c_str(), "an array of generic resources", [&](FieldReader& entry) {
      GenericResource resource;
      // The engine hands swarmkit the discrete spec when an entry holds both
      // (daemon/cluster/convert GenericResourcesToGRPC).
      if (entry.find("/DiscreteResourceSpec") != nullptr) {
        resource.kind = entry.string("/DiscreteResourceSpec/Kind");
        resource.amount = entry.number("/DiscreteResourceSpec/Value");
      } else if (entry.find("/NamedResourceSpec") != nullptr) {
        resource.named = true;
        resource.kind = entry.string("/NamedResourceSpec/Kind");
        resource.value = entry.string("/NamedResourceSpec/Value");
      } else {
        return entry.fail(" has neither DiscreteResourceSpec nor NamedResourceSpec");
      }
      result.generic.push_back(std::move(resource));
    });
    return result;
  }

  void mismatch(const char* pointer, const char* expected) {
    if (error_.empty()) error_ = std::string(pointer) + " is not " + expected;
  }
  void fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }
  bool failed() const { return !error_.empty(); }
  Error error(const char* what) const {
    return Error{std::string("malformed ") + what + ": " + error_};
  }

 private:
  const json& root_;
  std::string error_;
};

Error not_an_object(const char* what) {
  return Error{std::string("malformed ") + what + ": not a JSON object"};
}

// What swarmkit's ResourceFilter and PluginFilter read of a task template.
TaskNeeds read_needs(FieldReader& reader) {
  TaskNeeds needs;
  needs.reservations = reader.resources("/TaskTemplate/Resources/Reservations");
  reader.each_object("/TaskTemplate/ContainerSpec/Mounts", "an array of mounts",
                     [&](FieldReader& mount) {
                       const std::string type = mount.string("/Type");
                       const std::string driver = mount.string("/VolumeOptions/DriverConfig/Name");
                       // swarmkit's referencesVolumePlugin: bind, tmpfs and
                       // cluster mounts, and local volumes, need no plugin.
                       if (type == "volume" && !driver.empty() && driver != "local") {
                         needs.volume_drivers.push_back(driver);
                       }
                     });
  needs.log_driver = reader.string("/TaskTemplate/LogDriver/Name");
  return needs;
}

void read_mode(FieldReader& reader, ServiceSpec& out) {
  const json* mode = reader.find("/Mode");
  if (mode == nullptr) return;  // the engine defaults an absent mode to one replica
  if (!mode->is_object()) return reader.mismatch("/Mode", "an object");
  if (mode->contains("Global")) {
    out.mode = ServiceMode::global;
  } else if (mode->contains("ReplicatedJob")) {
    out.mode = ServiceMode::replicated_job;
  } else if (mode->contains("GlobalJob")) {
    out.mode = ServiceMode::global_job;
  } else {
    out.mode = ServiceMode::replicated;
    out.replicas = reader.unsigned_number("/Mode/Replicated/Replicas");
  }
}

}  // namespace

Expected<ServiceSpec> decode_service_spec(const json& spec) {
  if (!spec.is_object()) return not_an_object("service spec");
  FieldReader reader(spec);
  ServiceSpec out;
  out.name = reader.string("/Name");
  out.labels = reader.labels("/Labels");
  if (reader.find("/TaskTemplate/PluginSpec") != nullptr) {
    out.runtime = TaskRuntime::plugin;
  } else if (reader.find("/TaskTemplate/NetworkAttachmentSpec") != nullptr) {
    out.runtime = TaskRuntime::attachment;
  } else {
    const std::string runtime = reader.string("/TaskTemplate/Runtime");
    if (runtime == "plugin") out.runtime = TaskRuntime::plugin;
    if (runtime == "attachment") out.runtime = TaskRuntime::attachment;
  }
  out.image = reader.string("/TaskTemplate/ContainerSpec/Image");
  out.placement.constraints = reader.strings("/TaskTemplate/Placement/Constraints");
  out.placement.platforms = reader.platforms("/TaskTemplate/Placement/Platforms");
  out.needs = read_needs(reader);
  read_mode(reader, out);
  if (reader.failed()) return reader.error("service spec");
  return out;
}

Expected<Node> decode_node(const json& object) {
  if (!object.is_object()) return not_an_object("node");
  FieldReader reader(object);
  Node node;
  node.id = reader.string("/ID");
  node.hostname = reader.string("/Description/Hostname");
  node.role = reader.string("/Spec/Role");
  node.availability = reader.string("/Spec/Availability");
  node.state = reader.string("/Status/State");
  node.addr = reader.string("/Status/Addr");
  node.platform.architecture = reader.string("/Description/Platform/Architecture");
  node.platform.os = reader.string("/Description/Platform/OS");
  node.labels = reader.labels("/Spec/Labels");
  node.engine_labels = reader.labels("/Description/Engine/Labels");
  node.engine_version = reader.string("/Description/Engine/EngineVersion");
  node.leader = reader.boolean("/ManagerStatus/Leader");
  node.resources = reader.resources("/Description/Resources");
  // The engine writes "Engine": {} for a node that described no engine
  // (moby's NodeDescription.Engine is not a pointer), so only an engine that
  // says something counts as one.
  const json* engine = reader.find("/Description/Engine");
  if (engine != nullptr && !engine->is_object())
    reader.mismatch("/Description/Engine", "an object");
  if (engine != nullptr && engine->is_object() && !engine->empty()) {
    std::vector<PluginDescription> plugins;
    reader.each_object("/Description/Engine/Plugins", "an array of plugins",
                       [&](FieldReader& entry) {
                         plugins.push_back({entry.string("/Type"), entry.string("/Name")});
                       });
    node.plugins = std::move(plugins);
  }
  if (node.id.empty()) reader.fail("/ID is missing");
  if (reader.failed()) return reader.error("node");
  return node;
}

Expected<Service> decode_service(const json& object) {
  if (!object.is_object()) return not_an_object("service");
  FieldReader reader(object);
  Service service;
  service.id = reader.string("/ID");
  service.version = reader.unsigned_number("/Version/Index");
  if (service.id.empty()) reader.fail("/ID is missing");
  if (reader.failed()) return reader.error("service");

  auto spec = decode_service_spec(object.contains("Spec") ? object["Spec"] : json::object());
  if (!spec) return Error{"service " + service.id + ": " + spec.error().message};
  service.spec = std::move(spec).value();

  if (const json* previous = reader.find("/PreviousSpec")) {
    auto decoded = decode_service_spec(*previous);
    if (!decoded)
      return Error{"service " + service.id + " previous spec: " + decoded.error().message};
    service.previous_spec = std::move(decoded).value();
  }
  if (reader.find("/UpdateStatus") != nullptr) {
    service.update_status =
        UpdateStatus{reader.string("/UpdateStatus/State"), reader.string("/UpdateStatus/Message")};
  }
  if (reader.failed()) return reader.error("service");
  return service;
}

const std::vector<std::vector<std::string_view>> task_members = {
    {"ID"},
    {"ServiceID"},
    {"NodeID"},
    {"Slot"},
    {"DesiredState"},
    {"Status", "State"},
    {"Status", "Err"},
    {"Spec", "ContainerSpec", "Image"},
    {"NetworksAttachments", "*", "Addresses"}};

Expected<Task> decode_task(const json& object) {
  if (!object.is_object()) return not_an_object("task");
  FieldReader reader(object);
  Task task;
  task.id = reader.string("/ID");
  task.service_id = reader.string("/ServiceID");
  task.node_id = reader.string("/NodeID");
  task.slot = reader.unsigned_number("/Slot");
  task.desired_state = reader.string("/DesiredState");
  task.state = reader.string("/Status/State");
  task.error = reader.string("/Status/Err");
  task.image = reader.string("/Spec/ContainerSpec/Image");
  task.addresses = reader.attachment_addresses("/NetworksAttachments");
  if (reader.failed()) return reader.error("task");
  return task;
}

Expected<Config> decode_config(const json& object) {
  if (!object.is_object()) return not_an_object("config");
  FieldReader reader(object);
  Config config;
  config.id = reader.string("/ID");
  config.name = reader.string("/Spec/Name");
  config.labels = reader.labels("/Spec/Labels");
  const std::string encoded = reader.string("/Spec/Data");
  if (reader.failed()) return reader.error("config");
  auto data = base64_decode(encoded);
  if (!data) return Error{"malformed config " + config.name + ": /Spec/Data is not base64"};
  config.data = std::move(*data);
  return config;
}

Expected<Image> decode_image(const json& object) {
  if (!object.is_object()) return not_an_object("image");
  FieldReader reader(object);
  Image image;
  image.id = reader.string("/Id");
  image.repo_tags = reader.strings("/RepoTags");
  image.repo_digests = reader.strings("/RepoDigests");
  image.size = reader.number("/Size");
  // The list gives Created in unix seconds and Labels at the top; inspect
  // gives an RFC 3339 string and Config.Labels, which nothing here needs.
  if (const auto* created = reader.find("/Created"); created && created->is_number_integer()) {
    image.created = created->get<std::int64_t>();
  }
  if (const auto* labels = reader.find("/Labels"); labels && labels->is_object()) {
    image.labels = reader.labels("/Labels");
  }
  if (reader.failed()) return reader.error("image");
  return image;
}

Expected<Container> decode_container(const json& object) {
  if (!object.is_object()) return not_an_object("container");
  FieldReader reader(object);
  Container container;
  container.id = reader.string("/Id");
  container.image_id = reader.string("/ImageID");
  container.state = reader.string("/State");
  if (reader.failed()) return reader.error("container");
  return container;
}

Expected<Event> decode_event(const json& object) {
  if (!object.is_object()) return not_an_object("event");
  FieldReader reader(object);
  Event event;
  event.type = reader.string("/Type");
  event.action = reader.string("/Action");
  event.actor_id = reader.string("/Actor/ID");
  event.actor_attributes = reader.labels("/Actor/Attributes");
  event.time_nano = reader.number("/timeNano");
  if (reader.failed()) return reader.error("event");
  return event;
}

Error not_a_list(const json& value) {
  return Error{"expected a JSON array, got " + std::string(value.type_name())};
}

Error in_element(std::size_t index, const Error& error) {
  return Error{"element " + std::to_string(index) + ": " + error.message};
}

template <class T>
Expected<std::vector<T>> decode_list(const json& array, Decoder<T> decode) {
  if (!array.is_array()) return not_a_list(array);
  std::vector<T> result;
  result.reserve(array.size());
  for (std::size_t index = 0; index < array.size(); ++index) {
    auto item = decode(array[index]);
    if (!item) return in_element(index, item.error());
    result.push_back(std::move(item).value());
  }
  return result;
}

template Expected<std::vector<Node>> decode_list(const json&, Decoder<Node>);
template Expected<std::vector<Service>> decode_list(const json&, Decoder<Service>);
template Expected<std::vector<Task>> decode_list(const json&, Decoder<Task>);
template Expected<std::vector<Config>> decode_list(const json&, Decoder<Config>);
template Expected<std::vector<Image>> decode_list(const json&, Decoder<Image>);
template Expected<std::vector<Container>> decode_list(const json&, Decoder<Container>);

std::optional<std::string> base64_decode(std::string_view text) {
  static constexpr auto table = [] {
    std::array<int, 256> values{};
    values.fill(-1);
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) values[static_cast<unsigned char>(alphabet[i])] = i;
    return values;
  }();
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const int value = table[static_cast<unsigned char>(c)];
    if (value < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

std::string_view to_string(ServiceMode mode) {
  switch (mode) {
    case ServiceMode::replicated:
      return "replicated";
    case ServiceMode::global:
      return "global";
    case ServiceMode::replicated_job:
      return "replicated-job";
    case ServiceMode::global_job:
      return "global-job";
  }
  return "unknown";
}

}  // namespace swarm_prepull::reconcile
