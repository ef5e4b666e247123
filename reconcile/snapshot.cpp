#include "reconcile/snapshot.h"

#include <nlohmann/json.hpp>

namespace swarm_prepull::reconcile {
namespace {

using nlohmann::json;

template <class T>
std::optional<Error> decode_member(const json& document, const char* key, bool required,
                                   Decoder<T> decode, std::vector<T>& out) {
  auto found = document.find(key);
  if (found == document.end() || found->is_null()) {
    if (required) return Error{std::string("\"") + key + "\" is missing"};
    return std::nullopt;
  }
  auto decoded = decode_list<T>(*found, decode);
  if (!decoded) return Error{std::string(key) + ": " + decoded.error().message};
  out = std::move(decoded).value();
  return std::nullopt;
}

}  // namespace

Expected<Snapshot> decode_snapshot(const json& document) {
  if (!document.is_object()) {
    return Error{std::string("expected a JSON object with \"nodes\" and \"services\", got ") +
                 document.type_name()};
  }
  Snapshot snapshot;
  if (auto error = decode_member<Node>(document, "nodes", true, decode_node, snapshot.nodes)) {
    return *error;
  }
  if (auto error =
          decode_member<Service>(document, "services", true, decode_service, snapshot.services)) {
    return *error;
  }
  if (auto error =
          decode_member<Config>(document, "configs", false, decode_config, snapshot.configs)) {
    return *error;
  }
  if (auto error = decode_member<Task>(document, "tasks", false, decode_task, snapshot.tasks)) {
    return *error;
  }
  return snapshot;
}

Expected<Snapshot> parse_snapshot(std::string_view text) {
  // nlohmann's parse errors say "at line L, column C"; out_of_range (a number
  // such as 1E400) is a json::exception too, and just as much bad input.
  json document;
  try {
    document = json::parse(text);
  } catch (const json::exception& error) {
    return Error{std::string("invalid JSON: ") + error.what()};
  }
  return decode_snapshot(document);
}

}  // namespace swarm_prepull::reconcile
