#include "controller/state.h"

#include <algorithm>
#include <set>

#include "reconcile/reference.h"

namespace swarm_prepull::controller {
namespace {

// What a node is published for a ref. No node pulls an image being copied
// into the cache: the origin then serves its layers to the copy alone. A
// present image is always pull: true; any other as the grants say.
bool pull_flag(bool filling, PullGrants::Input input, bool granted) {
  return !filling && (input == PullGrants::Input::present || granted);
}

// The registry a canonical reference is pulled from ("docker.io",
// "10.0.0.1:5000"); "" for one that does not parse (no plan holds such a ref).
std::string registry_of(std::string_view ref) {
  auto reference = reconcile::parse_reference(ref);
  return reference ? reference->domain : std::string();
}

std::uint64_t system_wall_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// A published set's entry for `ref`; sets are sorted by ref.
template <typename Images>
auto find_image(Images& images, std::string_view ref) -> decltype(images.data()) {
  const auto found = std::lower_bound(images.begin(), images.end(), ref,
                                      [](const api::DesiredImage& image, std::string_view wanted) {
                                        return std::string_view(image.ref) < wanted;
                                      });
  if (found == images.end() || found->ref != ref) return nullptr;
  return &*found;
}

const std::string& node_label(const NodeDesired& node) {
  return node.hostname.empty() ? node.node_id : node.hostname;
}

}  // namespace

State::State(StateOptions options)
    : options_(std::move(options)),
      grants_(PullGrantsOptions{.per_image = options_.max_parallel_node_pulls,
                                .per_registry = options_.max_pulls_per_registry,
                                .backoff_base = options_.registry_backoff_base,
                                .backoff_max = options_.registry_backoff_max}) {
  if (!options_.wall_ms) options_.wall_ms = system_wall_ms;
}

std::uint64_t State::next_generation() {
  last_generation_ = std::max(last_generation_ + 1, options_.wall_ms());
  return last_generation_;
}

bool State::is_present(const NodeEntry& entry, std::string_view ref,
                       std::string_view expected_digest) const {
  return is_present(entry, state_of(entry, ref), ref, expected_digest);
}

bool State::is_present(const NodeEntry& entry, const api::ImageStatus* state, std::string_view ref,
                       std::string_view expected_digest) const {
  if (state == nullptr || state->state != ImageState::present) return false;
  if (expected_digest.empty()) return true;
  if (!state->digest.empty()) return state->digest == expected_digest;
  const auto since = entry.digest_since.find(ref);
  return since == entry.digest_since.end() || entry.report->generation >= since->second;
}

PullGrants::Input State::grant_input(const NodeEntry& entry, std::string_view ref,
                                     std::string_view expected_digest) const {
  return grant_input(entry, ref, expected_digest, cache_.filling.contains(ref));
}

PullGrants::Input State::grant_input(const NodeEntry& entry, std::string_view ref,
                                     std::string_view expected_digest, bool filling) const {
  using Input = PullGrants::Input;
  // Waiting for the cache's copy, the pair takes no grant (no slot of a cap).
  if (filling) return Input::present;
  const auto* state = state_of(entry, ref);
  if (state == nullptr) return Input::other;
  if (is_present(entry, state, ref, expected_digest)) return Input::present;
  switch (state->state) {
    case ImageState::failed:
      return state->reason == api::FailureReason::rate_limited ? Input::rate_limited
                                                               : Input::failed;
    case ImageState::pulling:
      return Input::pulling;
    default:
      return Input::other;
  }
}

bool State::may_pull(const std::string& node_id, const NodeEntry& entry, std::string_view ref,
                     std::string_view expected_digest) const {
  return pull_flag(cache_.filling.contains(ref), grant_input(entry, ref, expected_digest),
                   grants_.granted(node_id, ref));
}

std::string_view State::expected_digest(std::string_view ref) const {
  const auto found = tag_digests_.find(ref);
  return found == tag_digests_.end() ? std::string_view() : std::string_view(found->second);
}

const api::ImageStatus* State::state_of(const NodeEntry& entry, std::string_view ref) const {
  auto found = entry.by_ref.find(ref);
  return found == entry.by_ref.end() ? nullptr : found->second;
}

const api::ImageStatus* State::reported(std::string_view node_id, std::string_view ref) const {
  const auto entry = nodes_.find(node_id);
  return entry == nodes_.end() ? nullptr : state_of(entry->second, ref);
}

const NodeReport* State::last_report(std::string_view node_id) const {
  const auto entry = nodes_.find(node_id);
  if (entry == nodes_.end() || !entry->second.report) return nullptr;
  return &*entry->second.report;
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
  const std::string& id = found->first;
  auto& entry = found->second;
  // What the grants read of this node's report, before it.
  std::vector<PullGrants::Input> inputs_before;
  inputs_before.reserve(entry.published.images.size());
  for (const auto& image : entry.published.images) {
    inputs_before.push_back(grant_input(entry, image.ref, image.digest));
  }
  entry.report = std::move(report);
  entry.by_ref.clear();
  for (const auto& image : entry.report->images) entry.by_ref[image.ref] = &image;
  entry.last_seen = now;

  Changes changes;
  // Hits and misses count changes of what is known about a desired pair (its
  // first report included), not every report: agents report every cycle.
  for (const auto& image : entry.published.images) {
    const bool present = is_present(entry, image.ref, image.digest);
    auto [observed, inserted] = entry.observed_present.try_emplace(image.ref, present);
    if (!inserted && observed->second == present) continue;
    observed->second = present;
    ++(present ? changes.cache_hits : changes.cache_misses);
  }
  // Published sets depend on reports only through the grants' inputs; the
  // steady state (agents report every cycle) changes none of them.
  grants_.resume(now);
  std::vector<PullGrants::Pair> touched;
  for (std::size_t i = 0; i < entry.published.images.size(); ++i) {
    const auto& image = entry.published.images[i];
    const auto input = grant_input(entry, image.ref, image.digest);
    if (input == inputs_before[i]) continue;
    grants_.set(id, image.ref, input, image.starting);
    if (input == PullGrants::Input::rate_limited) grants_.rate_limited(registry_of(image.ref), now);
    touched.emplace_back(id, image.ref);
  }
  publish_grants(std::move(touched), changes);
  return changes;
}

Changes State::resume_registries(Clock::time_point now) {
  Changes changes;
  grants_.resume(now);
  publish_grants({}, changes);
  return changes;
}

void State::publish_grants(std::vector<PullGrants::Pair> touched, Changes& changes) {
  auto changed = grants_.settle();
  touched.insert(touched.end(), std::make_move_iterator(changed.begin()),
                 std::make_move_iterator(changed.end()));
  std::set<std::string> bumped;
  for (const auto& [node_id, ref] : touched) {
    const auto entry = nodes_.find(node_id);
    if (entry == nodes_.end()) continue;
    auto* image = find_image(entry->second.published.images, ref);
    if (image == nullptr) continue;
    const bool pull = may_pull(node_id, entry->second, ref, image->digest);
    const bool withdraw = !pull && grants_.taken_back(node_id, ref);
    if (pull == image->pull && withdraw == image->withdraw) continue;
    image->pull = pull;
    image->withdraw = withdraw;
    bumped.insert(node_id);
  }
  for (const auto& node_id : bumped) {
    nodes_.find(node_id)->second.published.generation = next_generation();
    changes.bumped_nodes.push_back(node_id);
  }
}

void State::publish(Changes& changes) {
  // What holds for a plan image on every node, looked up once per image
  // rather than once per node and image: 1,000 nodes share each, and refs are
  // long and share their prefixes.
  struct ImageFacts {
    std::string_view digest;  // the tag's resolved digest, or empty
    bool filling = false;     // being copied into the cache: no node pulls it
    std::uint64_t retry = 0;  // its registry's retry epoch (none while all answered)
    std::string_view via;     // its cache reference, or empty
    PullGrants::ImageHandle grants;
  };
  std::vector<std::optional<ImageFacts>> facts(plan_.images.size());
  const auto facts_of = [&](std::uint32_t id) -> const ImageFacts& {
    auto& fact = facts[id];
    if (fact) return *fact;
    const std::string& ref = plan_.images[id].ref;
    fact.emplace(
        ImageFacts{expected_digest(ref), cache_.filling.contains(ref), 0, {}, grants_.image(ref)});
    if (!retry_epochs_.empty()) {
      const auto epoch = retry_epochs_.find(registry_of(ref));
      if (epoch != retry_epochs_.end()) fact->retry = epoch->second;
    }
    if (const auto via = cache_.via.find(ref); via != cache_.via.end()) fact->via = via->second;
    return *fact;
  };

  // What each node wants (plan images are sorted by ref, so are its sets),
  // each pair set in the grants level-triggered from the reports.
  struct WantedImage {
    PullGrants::Input input;
    bool starting;  // a task swarm is starting there needs it
    PullGrants::PairHandle grant;
  };
  struct Wanted {
    const reconcile::NodePlan* node;
    NodeEntry* entry;
    std::vector<WantedImage> images;  // one per node->images
  };
  std::vector<Wanted> wanted;
  wanted.reserve(plan_.nodes.size());
  grants_.begin_pass();
  for (const auto& node : plan_.nodes) {
    auto& want = wanted.emplace_back(Wanted{&node, &nodes_.at(node.node_id), {}});
    want.images.reserve(node.images.size());
    for (const std::uint32_t id : node.images) {
      const ImageFacts& fact = facts_of(id);
      const bool starting = std::binary_search(node.starting.begin(), node.starting.end(), id);
      const auto input = grant_input(*want.entry, plan_.images[id].ref, fact.digest, fact.filling);
      want.images.push_back(
          WantedImage{input, starting, grants_.set(fact.grants, node.node_id, input, starting)});
    }
  }
  grants_.end_pass();
  grants_.settle();  // every node's set is compared below

  for (const auto& want : wanted) {
    const auto& node = *want.node;
    auto& entry = *want.entry;
    std::vector<api::DesiredImage> images;
    images.reserve(node.images.size());
    for (std::size_t i = 0; i < node.images.size(); ++i) {
      const auto& image = plan_.images[node.images[i]];
      const ImageFacts& fact = *facts[node.images[i]];
      const WantedImage& wanted_image = want.images[i];
      const bool pull =
          pull_flag(fact.filling, wanted_image.input, PullGrants::granted(wanted_image.grant));
      images.push_back(api::DesiredImage{image.ref, pull, fact.retry, std::string(fact.digest),
                                         image.priority, wanted_image.starting,
                                         std::string(fact.via),
                                         !pull && PullGrants::taken_back(wanted_image.grant)});
    }
    if (entry.published.generation != 0 && images == entry.published.images) continue;
    // Forget hit/miss observations of images no longer desired here.
    for (auto it = entry.observed_present.begin(); it != entry.observed_present.end();) {
      it = find_image(images, it->first) != nullptr ? std::next(it)
                                                    : entry.observed_present.erase(it);
    }
    const auto generation = next_generation();
    std::map<std::string, std::uint64_t, std::less<>> digest_since;
    for (const auto& image : images) {
      if (image.digest.empty()) continue;
      const auto* before = find_image(entry.published.images, image.ref);
      const auto since = entry.digest_since.find(image.ref);
      const bool same =
          before != nullptr && before->digest == image.digest && since != entry.digest_since.end();
      digest_since.emplace(image.ref, same ? since->second : generation);
    }
    entry.digest_since = std::move(digest_since);
    entry.published.images = std::move(images);
    entry.published.generation = generation;
    changes.bumped_nodes.push_back(node.node_id);
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
      if (is_present(entry, image.ref, image.digest)) {
        ++counts.nodes_present;
        ++readiness.pairs_present;
      } else {
        ++missing;
      }
    }
    readiness.node_missing[node_label(entry.published)] += missing;
    if (entry.report && entry.report->disk_free_bytes && entry.report->disk_size_bytes) {
      readiness.node_disk_free[node_label(entry.published)] =
          static_cast<double>(*entry.report->disk_free_bytes);
      readiness.node_disk_size[node_label(entry.published)] =
          static_cast<double>(*entry.report->disk_size_bytes);
    }
    if (entry.report && entry.report->gc) {
      readiness.node_gc_candidate_bytes[node_label(entry.published)] =
          static_cast<double>(entry.report->gc->candidate_bytes);
      readiness.node_gc_reclaimed_bytes[node_label(entry.published)] =
          static_cast<double>(entry.report->gc->reclaimed_bytes);
    }
  }
  for (auto& [ref, counts] : images) readiness.images.push_back(std::move(counts));
  return readiness;
}

std::optional<bool> State::holds_running_images(std::string_view node_id) const {
  const auto found = nodes_.find(node_id);
  if (found == nodes_.end() || !found->second.report) return std::nullopt;
  const auto& entry = found->second;
  return std::ranges::all_of(entry.published.images, [&](const api::DesiredImage& image) {
    return image.priority > reconcile::PullPriority::current ||
           is_present(entry, image.ref, image.digest);
  });
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

std::map<std::string, std::string> State::registries_failing() const {
  std::map<std::string, std::string> failing;
  for (const auto& [id, entry] : nodes_) {
    for (const auto& image : entry.published.images) {
      const auto* state = state_of(entry, image.ref);
      if (state == nullptr || state->state != ImageState::failed) continue;
      if (state->reason != api::FailureReason::network &&
          state->reason != api::FailureReason::timeout) {
        continue;
      }
      failing.emplace(registry_of(image.ref), image.ref);
    }
  }
  return failing;
}

Changes State::set_retry_epochs(std::map<std::string, std::uint64_t> epochs) {
  Changes changes;
  if (epochs == retry_epochs_) return changes;
  retry_epochs_ = std::move(epochs);
  publish(changes);
  return changes;
}

Changes State::set_tag_digests(std::map<std::string, std::string> digests) {
  Changes changes;
  if (std::equal(digests.begin(), digests.end(), tag_digests_.begin(), tag_digests_.end())) {
    return changes;
  }
  tag_digests_ = {digests.begin(), digests.end()};
  publish(changes);
  return changes;
}

Changes State::set_cache_view(CacheView view) {
  Changes changes;
  if (view == cache_) return changes;
  cache_ = std::move(view);
  publish(changes);
  return changes;
}

std::optional<Clock::time_point> State::last_heard(std::string_view node_id) const {
  const auto entry = nodes_.find(node_id);
  return entry == nodes_.end() ? std::nullopt : entry->second.last_seen;
}

api::ImagesListing State::images(const std::vector<ResolveFailure>& resolve_failures,
                                 const RefSet* only) const {
  std::map<std::string, api::ListedImage, std::less<>> by_ref;
  const auto item_of = [&](const std::string& ref) -> api::ListedImage& {
    auto& item = by_ref[ref];
    item.ref = ref;
    return item;
  };
  for (const auto& failure : resolve_failures) {
    if (!filter_lists(only, failure.ref)) continue;
    item_of(failure.ref)
        .failures.push_back({.node = "",
                             .hostname = "",
                             .reason = failure.reason,
                             .message = failure.message,
                             .stage = api::FailureStage::resolve});
  }
  for (const auto& [id, entry] : nodes_) {
    for (const auto& image : entry.published.images) {
      if (!filter_lists(only, image.ref)) continue;
      auto& item = item_of(image.ref);
      ++item.nodes_desired;
      const auto* state = state_of(entry, image.ref);
      if (is_present(entry, state, image.ref, image.digest)) {
        ++item.nodes_present;
        continue;
      }
      std::optional<ImageState> shown;
      if (state != nullptr) {
        // Present with content the tag no longer names: the agent pulls it anew.
        shown = state->state == ImageState::present ? ImageState::waiting : state->state;
      }
      item.nodes.push_back({.id = id, .hostname = entry.published.hostname, .state = shown});
      if (shown == ImageState::held) item.nodes.back().message = state->message;
      if (state != nullptr && state->state == ImageState::failed) {
        item.failures.push_back({.node = id,
                                 .hostname = entry.published.hostname,
                                 .reason = state->reason,
                                 .message = state->message,
                                 .stage = api::FailureStage::pull});
      }
    }
  }
  api::ImagesListing listing{.generation = last_generation_, .images = {}};
  listing.images.reserve(by_ref.size());
  for (auto& [ref, item] : by_ref) listing.images.push_back(std::move(item));
  return listing;
}

}  // namespace swarm_prepull::controller
