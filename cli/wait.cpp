#include "cli/wait.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

namespace swarm_prepull::cli::wait {
namespace {

using nlohmann::json;

std::string string_at(const json& object, const char* key) {
  if (!object.is_object()) return {};
  const auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

std::uint64_t count_at(const json& object, const char* key) {
  if (!object.is_object()) return 0;
  const auto found = object.find(key);
  if (found == object.end() || !found->is_number_integer()) return 0;
  const auto value = found->get<std::int64_t>();
  return value < 0 ? 0 : static_cast<std::uint64_t>(value);
}

std::string join(const std::vector<std::string>& items, std::size_t limit = 0) {
  std::string text;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (limit != 0 && i == limit) {
      text += ", and " + std::to_string(items.size() - limit) + " more";
      break;
    }
    text += (i == 0 ? "" : ", ") + items[i];
  }
  return text;
}

std::string format_seconds(std::chrono::milliseconds duration) {
  const auto ms = duration.count();
  if (ms % 1000 != 0) return std::to_string(ms) + "ms";
  const auto s = ms / 1000;
  if (s >= 60 && s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

std::string describe(const Failure& failure) {
  std::string text = failure.reason;
  if (!failure.message.empty()) text += ": " + failure.message;
  if (failure.at_registry) {
    text += " at the registry (resolved by the manager)";
    if (!failure.nodes.empty()) text += "; not pulled on " + join(failure.nodes, 10);
    return text;
  }
  if (!failure.nodes.empty()) text += " on " + join(failure.nodes);
  return text;
}

}  // namespace

bool is_final_pull_failure(std::string_view reason) {
  return reason == "not_found" || reason == "unauthorized" || reason == "disk_full";
}

reconcile::Expected<std::vector<Tracked>> decode_warm_answer(const json& answer) {
  const auto images = answer.is_object() ? answer.find("images") : answer.end();
  if (!answer.is_object() || images == answer.end() || !images->is_array()) {
    return reconcile::Error{"the controller's answer has no images array"};
  }
  std::vector<Tracked> tracked;
  for (const json& item : *images) {
    Tracked image;
    image.requested = string_at(item, "ref");
    if (image.requested.empty()) return reconcile::Error{"an answer's image has no ref"};
    image.ref = string_at(item, "warm");
    image.nodes_desired = count_at(item, "nodes_desired");
    if (const auto nodes = item.find("nodes"); nodes != item.end() && nodes->is_array()) {
      for (const json& node : *nodes) {
        if (std::string id = string_at(node, "id"); !id.empty()) {
          image.node_ids.push_back(std::move(id));
        }
      }
      std::sort(image.node_ids.begin(), image.node_ids.end());
    }
    if (const auto failure = item.find("failure"); failure != item.end()) {
      Failure refused{string_at(*failure, "reason"), string_at(*failure, "message"), {}, true};
      if (const auto nodes = item.find("nodes"); nodes != item.end() && nodes->is_array()) {
        for (const json& node : *nodes) {
          std::string name = string_at(node, "hostname");
          if (name.empty()) name = string_at(node, "id");
          if (!name.empty()) refused.nodes.push_back(std::move(name));
        }
        std::sort(refused.nodes.begin(), refused.nodes.end());
      }
      image.failures.push_back(std::move(refused));
      image.ref.clear();
    } else if (image.ref.empty()) {
      return reconcile::Error{"an answer's image has neither warm nor failure: " + item.dump()};
    }
    tracked.push_back(std::move(image));
  }
  return tracked;
}

Progress evaluate_answer(const std::vector<Tracked>& tracked) {
  Progress progress;
  bool failed = false;
  for (const auto& image : tracked) {
    ImageProgress item{.requested = image.requested, .ref = image.ref};
    item.listed = !image.ref.empty();
    item.desired = image.nodes_desired;
    item.failures = image.failures;
    failed = failed || !image.failures.empty() || image.nodes_desired == 0;
    progress.images.push_back(std::move(item));
  }
  progress.verdict = failed ? Verdict::failed : Verdict::pending;
  return progress;
}

Progress evaluate(const std::vector<Tracked>& tracked, const json& body) {
  std::map<std::string, const json*> listed;
  if (body.is_object()) {
    if (const auto images = body.find("images"); images != body.end() && images->is_array()) {
      for (const json& item : *images) {
        if (const std::string ref = string_at(item, "ref"); !ref.empty()) listed[ref] = &item;
      }
    }
  }
  Progress progress;
  bool all_ready = true;
  bool failed = false;
  for (const auto& image : tracked) {
    ImageProgress item{.requested = image.requested, .ref = image.ref};
    item.failures = image.failures;
    // A resolution failure the controller still lists under the requested ref.
    const std::string key = image.ref.empty() ? image.requested : image.ref;
    const auto found = listed.find(key);
    if (found != listed.end()) {
      const json& entry = *found->second;
      item.listed = !image.ref.empty();
      item.desired = count_at(entry, "nodes_desired");
      item.present = count_at(entry, "nodes_present");
      // Only the nodes the request selected count, when the answer named them.
      const bool scoped = !image.node_ids.empty();
      const auto selected = [&](const json& node, const char* id_key) {
        return !scoped || std::binary_search(image.node_ids.begin(), image.node_ids.end(),
                                             string_at(node, id_key));
      };
      if (const auto nodes = entry.find("nodes"); nodes != entry.end() && nodes->is_array()) {
        for (const json& node : *nodes) {
          if (!selected(node, "id")) continue;
          std::string name = string_at(node, "hostname");
          if (name.empty()) name = string_at(node, "id");
          item.missing.push_back({std::move(name), string_at(node, "state")});
        }
      }
      std::sort(item.missing.begin(), item.missing.end(),
                [](const NodeState& a, const NodeState& b) { return a.node < b.node; });
      if (scoped) {
        item.desired = image.node_ids.size();
        item.present = item.desired - std::min<std::uint64_t>(item.missing.size(), item.desired);
      }
      // Grouped by (reason, message, stage), in the order first seen.
      std::vector<Failure> groups;
      if (const auto failures = entry.find("failures");
          failures != entry.end() && failures->is_array()) {
        for (const json& failure : *failures) {
          const bool at_registry = string_at(failure, "stage") == "resolve";
          if (at_registry && !item.failures.empty()) continue;  // known from the POST
          if (!at_registry && !selected(failure, "node")) continue;
          const std::string reason = string_at(failure, "reason");
          const std::string message = string_at(failure, "message");
          auto group = std::find_if(groups.begin(), groups.end(), [&](const Failure& known) {
            return known.reason == reason && known.message == message &&
                   known.at_registry == at_registry;
          });
          if (group == groups.end()) {
            groups.push_back({reason, message, {}, at_registry});
            group = std::prev(groups.end());
          }
          std::string name = string_at(failure, "hostname");
          if (name.empty()) name = string_at(failure, "node");
          if (!name.empty()) group->nodes.push_back(std::move(name));
        }
      }
      for (auto& group : groups) {
        std::sort(group.nodes.begin(), group.nodes.end());
        item.failures.push_back(std::move(group));
      }
    } else if (!image.ref.empty()) {
      progress.needs_repost = true;
    }
    for (const auto& failure : item.failures) {
      if (failure.at_registry || is_final_pull_failure(failure.reason)) failed = true;
    }
    if (image.ref.empty()) failed = true;
    all_ready = all_ready && item.ready();
    progress.images.push_back(std::move(item));
  }
  progress.verdict = failed ? Verdict::failed : all_ready ? Verdict::ready : Verdict::pending;
  return progress;
}

std::string progress_line(const ImageProgress& image) {
  std::string line = image.requested + "  " + std::to_string(image.present) + "/" +
                     std::to_string(image.desired) + " nodes";
  if (image.ready()) return line + "  ready";
  if (image.ref.empty()) {
    // Refused at resolution: no node was told; say why on the line itself.
    for (const auto& failure : image.failures) {
      if (failure.at_registry) {
        return image.requested + "  0/" + std::to_string(failure.nodes.size()) +
               " nodes  refused at the registry: " + failure.reason;
      }
    }
    return line + "  refused";
  }
  if (!image.listed) return line + "  (not listed yet)";
  std::vector<std::string> missing;
  for (const auto& node : image.missing) missing.push_back(node.node + " " + node.state);
  if (!missing.empty()) line += "  waiting: " + join(missing, 4);
  return line;
}

std::string failure_message(const Progress& progress) {
  std::string text;
  for (const auto& image : progress.images) {
    std::vector<const Failure*> final;
    for (const auto& failure : image.failures) {
      if (failure.at_registry || is_final_pull_failure(failure.reason)) final.push_back(&failure);
    }
    for (const auto* failure : final) {
      text += "wait: " + image.requested + ": " + describe(*failure) + "\n";
    }
    if (final.empty() && !image.ref.empty() && image.listed && image.desired == 0) {
      text += "wait: " + image.requested + ": no ready, active node matches the placement\n";
    }
  }
  return text;
}

std::string timeout_message(const Progress& progress, std::chrono::milliseconds timeout) {
  std::string text;
  for (const auto& image : progress.images) {
    if (image.ready()) continue;
    text += "wait: timed out after " + format_seconds(timeout) + ": " + image.requested;
    if (!image.listed) {
      text += " is not listed by the controller\n";
      continue;
    }
    text += " " + std::to_string(image.present) + "/" + std::to_string(image.desired) +
            " nodes, missing on ";
    std::vector<std::string> missing;
    for (const auto& node : image.missing) {
      std::string entry = node.node + " (" + node.state;
      for (const auto& failure : image.failures) {
        if (std::find(failure.nodes.begin(), failure.nodes.end(), node.node) !=
            failure.nodes.end()) {
          entry += ": " + failure.reason + ": " + failure.message;
          break;
        }
      }
      missing.push_back(entry + ")");
    }
    text += (missing.empty() ? std::string("unknown nodes") : join(missing)) + "\n";
  }
  return text;
}

}  // namespace swarm_prepull::cli::wait
