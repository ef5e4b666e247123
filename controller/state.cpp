#include "controller/state.h"

#include <algorithm>
#include <set>

#include "metrics/metrics.h"

namespace swarm_prepull::controller {
namespace {

using nlohmann::json;

std::uint64_t system_wall_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

const std::string& node_label(const NodeDesired& node) {
  return node.hostname.empty() ? node.node_id : node.hostname;
}

}  // namespace

reconcile::Expected<NodeReport> decode_report(const json& body) {
  using reconcile::Error;
  if (!body.is_object()) return Error{"body: expected a JSON object"};
  NodeReport report;
  if (auto found = body.find("generation"); found != body.end()) {
    if (!found->is_number_unsigned()) return Error{"generation: expected a non-negative integer"};
    report.generation = found->get<std::uint64_t>();
  }
  const auto images = body.find("images");
  if (images == body.end() || !images->is_array()) return Error{"images: expected an array"};
  std::set<std::string, std::less<>> seen;
  for (std::size_t i = 0; i < images->size(); ++i) {
    const json& item = (*images)[i];
    const std::string where = "images[" + std::to_string(i) + "]";
    if (!item.is_object()) return Error{where + ": expected an object"};
    ImageReport image;
    const auto ref = item.find("ref");
    if (ref == item.end() || !ref->is_string() || ref->get_ref<const std::string&>().empty()) {
      return Error{where + ".ref: expected a non-empty string"};
    }
    image.ref = ref->get<std::string>();
    if (!seen.insert(image.ref).second)
      return Error{where + ".ref: '" + image.ref + "' listed twice"};
    const auto state = item.find("state");
    if (state == item.end() || !state->is_string())
      return Error{where + ".state: expected a string"};
    const auto parsed = reconcile::parse_image_state(state->get_ref<const std::string&>());
    if (!parsed) {
      return Error{where + ".state: unknown state '" + state->get<std::string>() +
                   "' (expected present, pulling, failed or waiting)"};
    }
    image.state = *parsed;
    if (image.state == ImageState::failed) {
      const auto reason = item.find("reason");
      if (reason == item.end() || !reason->is_string()) {
        return Error{where + ".reason: expected a string for a failed image"};
      }
      image.reason = reason->get<std::string>();
      if (!metrics::is_pull_failure_reason(image.reason)) {
        return Error{where + ".reason: unknown reason '" + image.reason + "'"};
      }
    }
    if (auto message = item.find("message"); message != item.end()) {
      if (!message->is_string()) return Error{where + ".message: expected a string"};
      image.message = message->get<std::string>();
    }
    if (auto attempts = item.find("attempts"); attempts != item.end()) {
      if (!attempts->is_number_unsigned()) {
        return Error{where + ".attempts: expected a non-negative integer"};
      }
      image.attempts = attempts->get<std::uint64_t>();
    }
    if (auto since = item.find("since"); since != item.end()) {
      if (!since->is_number()) return Error{where + ".since: expected a number"};
      image.since = since->get<double>();
    }
    report.images.push_back(std::move(image));
  }
  if (auto agent = body.find("agent"); agent != body.end()) {
    if (!agent->is_object()) return Error{"agent: expected an object"};
    for (auto [key, target] : {std::pair{"version", &report.agent_version},
                               std::pair{"engine_version", &report.engine_version}}) {
      if (auto value = agent->find(key); value != agent->end()) {
        if (!value->is_string()) return Error{std::string("agent.") + key + ": expected a string"};
        *target = value->get<std::string>();
      }
    }
  }
  return report;
}

json to_json(const NodeDesired& desired) {
  json images = json::array();
  for (const auto& image : desired.images) {
    images.push_back({{"ref", image.ref}, {"pull", image.pull}});
  }
  return {{"node_id", desired.node_id},
          {"hostname", desired.hostname},
          {"generation", desired.generation},
          {"images", std::move(images)}};
}

State::State(StateOptions options) : options_(std::move(options)) {
  if (!options_.wall_ms) options_.wall_ms = system_wall_ms;
}

std::uint64_t State::next_generation() {
  last_generation_ = std::max(last_generation_ + 1, options_.wall_ms());
  return last_generation_;
}

State::GrantInput State::grant_input(const ImageReport* state) {
  if (state == nullptr) return GrantInput::other;
  if (state->state == ImageState::present) return GrantInput::present;
  return state->state == ImageState::failed ? GrantInput::failed : GrantInput::other;
}

const ImageReport* State::state_of(const NodeEntry& entry, std::string_view ref) const {
  auto found = entry.by_ref.find(ref);
  return found == entry.by_ref.end() ? nullptr : found->second;
}

Changes State::set_plan(reconcile::Plan plan) {
  plan_ = std::move(plan);
  has_plan_ = true;
  std::set<std::string, std::less<>> in_plan;
  for (const auto& node : plan_.nodes) {
    in_plan.insert(node.node_id);
    auto& entry = nodes_[node.node_id];
    entry.published.node_id = node.node_id;
    entry.published.hostname = node.hostname;
  }
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    it = in_plan.contains(it->first) ? std::next(it) : nodes_.erase(it);
  }
  Changes changes;
  publish(changes);
  return changes;
}

std::optional<Changes> State::report(std::string_view node_id, NodeReport report,
                                     Clock::time_point now) {
  auto found = nodes_.find(node_id);
  if (found == nodes_.end()) return std::nullopt;
  auto& entry = found->second;
  // What the grants read of this node's report, before and after it.
  const auto grant_inputs = [&] {
    std::vector<GrantInput> inputs;
    inputs.reserve(entry.published.images.size());
    for (const auto& image : entry.published.images) {
      inputs.push_back(grant_input(state_of(entry, image.ref)));
    }
    return inputs;
  };
  const auto inputs_before = grant_inputs();
  entry.report = std::move(report);
  entry.by_ref.clear();
  for (const auto& image : entry.report->images) entry.by_ref[image.ref] = &image;
  entry.last_seen = now;

  Changes changes;
  // Hits and misses count changes of what is known about a desired pair (its
  // first report included), not every report: agents report every cycle.
  for (const auto& image : entry.published.images) {
    const auto* state = state_of(entry, image.ref);
    const bool present = state != nullptr && state->state == ImageState::present;
    auto [observed, inserted] = entry.observed_present.try_emplace(image.ref, present);
    if (!inserted && observed->second == present) continue;
    observed->second = present;
    ++(present ? changes.cache_hits : changes.cache_misses);
  }
  // Published sets are a function of the plan and, through the grants only,
  // of the reports: without a cap, or when this report leaves every grant
  // input as it was (the steady state: agents report every cycle), publishing
  // would change nothing, and it costs O(nodes x images).
  if (options_.max_parallel_node_pulls > 0 && grant_inputs() != inputs_before) publish(changes);
  return changes;
}

void State::publish(Changes& changes) {
  // node id -> desired refs (sorted, since plan images are sorted by ref).
  std::map<std::string, std::vector<std::string>, std::less<>> wanted;
  // ref -> node ids desiring it, in id order.
  std::map<std::string, std::vector<std::string>, std::less<>> wanters;
  for (const auto& node : plan_.nodes) {
    auto refs = reconcile::desired_refs(plan_, node);
    for (const auto& ref : refs) wanters[ref].push_back(node.node_id);
    wanted[node.node_id] = std::move(refs);
  }
  for (auto& [ref, ids] : wanters) std::sort(ids.begin(), ids.end());

  // Grants, level-triggered from the last published grants and the reports.
  std::set<std::pair<std::string, std::string>> granted;  // (node id, ref)
  const auto cap = options_.max_parallel_node_pulls;
  if (cap > 0) {
    for (const auto& [ref, ids] : wanters) {
      std::vector<std::string> holders, fresh, failed;
      for (const auto& id : ids) {
        const auto& entry = nodes_.at(id);
        const auto input = grant_input(state_of(entry, ref));
        if (input == GrantInput::present) continue;  // needs no slot
        const bool had_grant = std::any_of(
            entry.published.images.begin(), entry.published.images.end(),
            [&](const PublishedImage& image) { return image.ref == ref && image.pull; });
        const bool is_failed = input == GrantInput::failed;
        // A failed pull frees its slot; a node granted before keeps it while
        // it waits, pulls, or has not reported the image yet.
        if (had_grant && !is_failed) {
          holders.push_back(id);
        } else if (is_failed) {
          failed.push_back(id);
        } else {
          fresh.push_back(id);
        }
      }
      std::size_t slots = cap;
      for (const auto* group : {&holders, &fresh, &failed}) {
        for (const auto& id : *group) {
          if (slots == 0) break;
          granted.emplace(id, ref);
          --slots;
        }
      }
    }
  }

  for (auto& [id, entry] : nodes_) {
    std::vector<PublishedImage> images;
    for (const auto& ref : wanted[id]) {
      bool pull = true;
      if (cap > 0) {
        pull = grant_input(state_of(entry, ref)) == GrantInput::present ||
               granted.contains({id, ref});
      }
      images.push_back(PublishedImage{ref, pull});
    }
    if (entry.published.generation != 0 && images == entry.published.images) continue;
    // Forget hit/miss observations of images no longer desired here.
    for (auto it = entry.observed_present.begin(); it != entry.observed_present.end();) {
      const bool still = std::binary_search(wanted[id].begin(), wanted[id].end(), it->first);
      it = still ? std::next(it) : entry.observed_present.erase(it);
    }
    entry.published.images = std::move(images);
    entry.published.generation = next_generation();
    changes.bumped_nodes.push_back(id);
  }
}

const NodeDesired* State::desired(std::string_view node_id, std::optional<Clock::time_point> now) {
  auto found = nodes_.find(node_id);
  if (found == nodes_.end()) return nullptr;
  if (now) found->second.last_seen = *now;
  return &found->second.published;
}

Readiness State::readiness() const {
  Readiness readiness;
  std::map<std::string, ImageReadiness, std::less<>> images;
  for (const auto& [id, entry] : nodes_) {
    std::uint64_t missing = 0;
    for (const auto& image : entry.published.images) {
      auto& counts = images[image.ref];
      counts.ref = image.ref;
      ++counts.nodes_desired;
      ++readiness.pairs_desired;
      const auto* state = state_of(entry, image.ref);
      if (state != nullptr && state->state == ImageState::present) {
        ++counts.nodes_present;
        ++readiness.pairs_present;
      } else {
        ++missing;
      }
    }
    readiness.node_missing[node_label(entry.published)] += missing;
  }
  for (auto& [ref, counts] : images) readiness.images.push_back(std::move(counts));
  return readiness;
}

std::pair<std::size_t, std::size_t> State::agent_counts(Clock::time_point now) const {
  std::size_t connected = 0, stale = 0;
  for (const auto& [id, entry] : nodes_) {
    if (!entry.last_seen) continue;
    ++(now - *entry.last_seen <= options_.agent_stale_after ? connected : stale);
  }
  return {connected, stale};
}

std::vector<AgentTransition> State::agent_transitions(Clock::time_point now) {
  std::vector<AgentTransition> transitions;
  for (auto& [id, entry] : nodes_) {
    if (!entry.last_seen) continue;
    const bool connected = now - *entry.last_seen <= options_.agent_stale_after;
    if (connected == entry.reported_connected) continue;
    entry.reported_connected = connected;
    transitions.push_back({id, entry.published.hostname, connected});
  }
  return transitions;
}

json State::images_json(const std::vector<ResolveFailure>& resolve_failures) const {
  std::map<std::string, json, std::less<>> images;
  const auto item_of = [&](const std::string& ref) -> json& {
    auto& item = images[ref];
    if (item.is_null()) {
      item = {{"ref", ref},
              {"nodes_desired", 0},
              {"nodes_present", 0},
              {"nodes", json::array()},
              {"failures", json::array()}};
    }
    return item;
  };
  for (const auto& failure : resolve_failures) {
    item_of(failure.ref)["failures"].push_back({{"node", ""},
                                                {"hostname", ""},
                                                {"reason", failure.reason},
                                                {"message", failure.message},
                                                {"stage", "resolve"}});
  }
  for (const auto& [id, entry] : nodes_) {
    for (const auto& image : entry.published.images) {
      auto& item = item_of(image.ref);
      item["nodes_desired"] = item["nodes_desired"].get<std::uint64_t>() + 1;
      const auto* state = state_of(entry, image.ref);
      if (state != nullptr && state->state == ImageState::present) {
        item["nodes_present"] = item["nodes_present"].get<std::uint64_t>() + 1;
        continue;
      }
      item["nodes"].push_back({{"id", id},
                               {"hostname", entry.published.hostname},
                               {"state", state == nullptr ? "unknown" : to_string(state->state)}});
      if (state != nullptr && state->state == ImageState::failed) {
        item["failures"].push_back({{"node", id},
                                    {"hostname", entry.published.hostname},
                                    {"reason", state->reason},
                                    {"message", state->message},
                                    {"stage", "pull"}});
      }
    }
  }
  json list = json::array();
  for (auto& [ref, item] : images) list.push_back(std::move(item));
  return {{"generation", last_generation_}, {"images", std::move(list)}};
}

}  // namespace swarm_prepull::controller
