#include "controller/pull_grants.h"

#include <algorithm>

#include "reconcile/reference.h"

namespace swarm_prepull::controller {
namespace {

bool is_failure(PullGrants::Input input) {
  return input == PullGrants::Input::failed || input == PullGrants::Input::rate_limited;
}

}  // namespace

PullGrants::PullGrants(PullGrantsOptions options) : options_(options) {}

PullGrants::ImageHandle PullGrants::image(const std::string& ref) {
  const auto [found, added] = images_.try_emplace(ref);
  if (added) {
    auto& image = found->second;
    // "" for a ref that does not parse (no plan holds one): a registry of its own.
    const auto reference = reconcile::parse_reference(ref);
    auto& registry = registries_[reference ? reference->domain : std::string()];
    if (registry.next_pause == Clock::duration{}) registry.next_pause = options_.backoff_base;
    registry.images.emplace(ref, &image);
    image.registry = &registry;
  }
  return ImageHandle(&*found);
}

void PullGrants::enqueue(Image& image, const std::string& node, const PairState& pair) {
  if (pair.granted || pair.input == Input::present) return;
  auto& queue = is_failure(pair.input) ? image.failed
                : pair.starting        ? image.starting
                                       : image.waiting;
  queue.insert(node);
  dirty_.insert(image.registry);
}

void PullGrants::dequeue(Image& image, const std::string& node) {
  image.starting.erase(node);
  image.waiting.erase(node);
  image.failed.erase(node);
}

void PullGrants::grant(Image& image, const std::string& ref, const std::string& node,
                       PairState& pair, bool granted) {
  if (pair.granted == granted) return;
  changed_.try_emplace({node, ref}, pair.granted);
  pair.granted = granted;
  if (granted) pair.taken_back = false;
  const int step = granted ? 1 : -1;
  image.grants += step;
  image.registry->grants += step;
  if (!pair.starting) {
    image.warming += step;
    image.registry->warming += step;
  }
  // A slot freed: someone may take it.
  if (!granted) dirty_.insert(image.registry);
}

void PullGrants::set(const std::string& node, const std::string& ref, Input input, bool starting) {
  (void)set(image(ref), node, input, starting);
}

PullGrants::PairHandle PullGrants::set(ImageHandle handle, const std::string& node, Input input,
                                       bool starting) {
  const std::string& ref = handle.entry_->first;
  auto& image = handle.entry_->second;
  auto [it, added] = image.pairs.try_emplace(node);
  auto& pair = it->second;
  if (added || pair.seen_in_pass != pass_) {
    pair.seen_in_pass = pass_;
    ++image.seen;
  }
  const PairHandle handle_of_pair(&pair);
  if (!added && pair.input == input && pair.starting == starting) return handle_of_pair;
  if (pair.granted && pair.starting != starting) {
    const int step = starting ? -1 : 1;
    image.warming += step;
    image.registry->warming += step;
  }
  pair.input = input;
  pair.starting = starting;
  if (input != Input::pulling) pair.taken_back = false;
  dequeue(image, node);
  if (pair.granted && (input == Input::present || is_failure(input))) {
    // A pull granted here that ended with the image: the registry serves
    // again, whatever 429 it answered before.
    if (input == Input::present) {
      auto& registry = *image.registry;
      registry.next_pause = options_.backoff_base;
      registry.paused = false;
    }
    grant(image, ref, node, pair, false);
  }
  enqueue(image, node, pair);
  return handle_of_pair;
}

void PullGrants::rate_limited(const std::string& registry_name, Clock::time_point now) {
  const auto found = registries_.find(registry_name);
  if (found == registries_.end()) return;
  auto& registry = found->second;
  if (registry.paused && now < registry.paused_until) return;
  registry.paused = true;
  registry.paused_until = now + registry.next_pause;
  registry.next_pause = std::min(registry.next_pause * 2, options_.backoff_max);
  // Nodes granted but not pulling yet would each meet the 429 themselves.
  for (auto& [ref, image] : registry.images) {
    for (auto& [node, pair] : image->pairs) {
      if (!pair.granted || pair.input == Input::pulling) continue;
      grant(*image, ref, node, pair, false);
      enqueue(*image, node, pair);
    }
  }
}

void PullGrants::resume(Clock::time_point now) {
  for (auto& [name, registry] : registries_) {
    if (!registry.paused || now < registry.paused_until) continue;
    registry.paused = false;
    dirty_.insert(&registry);
  }
}

void PullGrants::begin_pass() {
  ++pass_;
  for (auto& [ref, image] : images_) image.seen = 0;
}

void PullGrants::end_pass() {
  for (auto image_it = images_.begin(); image_it != images_.end();) {
    auto& image = image_it->second;
    for (auto it = image.pairs.begin(); image.seen != image.pairs.size();) {
      if (it->second.seen_in_pass == pass_) {
        ++it;
        continue;
      }
      grant(image, image_it->first, it->first, it->second, false);
      dequeue(image, it->first);
      it = image.pairs.erase(it);
    }
    if (!image.pairs.empty()) {
      ++image_it;
      continue;
    }
    image.registry->images.erase(image_it->first);
    image_it = images_.erase(image_it);
  }
}

bool PullGrants::has_room(const Image& image) const {
  return options_.per_image == 0 || image.grants < options_.per_image;
}

bool PullGrants::registry_full(const Registry& registry) const {
  return options_.per_registry != 0 && registry.grants >= options_.per_registry;
}

void PullGrants::fill(Registry& registry) {
  if (registry.paused) return;
  for (const auto queue : {&Image::starting, &Image::waiting, &Image::failed}) {
    for (auto& [ref, image] : registry.images) {
      auto& waiting = image->*queue;
      while (!waiting.empty() && has_room(*image) && !registry_full(registry)) {
        const auto node = waiting.extract(waiting.begin());
        grant(*image, ref, node.value(), image->pairs.at(node.value()), true);
      }
    }
  }
  for (auto& [ref, image] : registry.images) {
    while (!image->starting.empty() && take_back_for(registry, *image)) {
      const auto node = image->starting.extract(image->starting.begin());
      grant(*image, ref, node.value(), image->pairs.at(node.value()), true);
    }
  }
}

// A task swarm is starting waits for this pull, and the caps are full: a
// grant that only warms a node gives its slot up, so that the task's pull
// comes first within the registry's budget. (On the sandbox's shared uplink
// this did not measure faster: a cancelled pull's partial layer crosses the
// link again; docs/benchmarks.md.) A grant of the
// same image if the image's cap is what is full, else any of the registry's;
// one whose pull has not started before one that has; never a starting one's.
bool PullGrants::take_back_for(Registry& registry, Image& starting) {
  const bool image_full = !has_room(starting);
  if (!image_full && !registry_full(registry)) return true;  // room: nothing to take back
  // O(1) when every grant is a starting task's, as in a big capped rollout.
  if ((image_full ? starting.warming : registry.warming) == 0) return false;
  const auto victim_in = [](Image& image,
                            bool pulling) -> std::pair<const std::string, PairState>* {
    if (image.warming == 0) return nullptr;
    for (auto& entry : image.pairs) {
      const auto& pair = entry.second;
      if (pair.granted && !pair.starting && (pair.input == Input::pulling) == pulling) {
        return &entry;
      }
    }
    return nullptr;
  };
  for (const bool pulling : {false, true}) {
    for (auto& [ref, image] : registry.images) {
      if (image_full && image != &starting) continue;
      if (auto* victim = victim_in(*image, pulling)) {
        grant(*image, ref, victim->first, victim->second, false);
        victim->second.taken_back = true;  // its node may be pulling: withdraw
        enqueue(*image, victim->first, victim->second);
        return true;
      }
    }
  }
  return false;
}

std::vector<PullGrants::Pair> PullGrants::settle() {
  for (auto* registry : dirty_) fill(*registry);
  dirty_.clear();
  std::vector<Pair> changed;
  for (const auto& [pair, before] : changed_) {
    if (granted(pair.first, pair.second) != before) changed.push_back(pair);
  }
  changed_.clear();
  return changed;
}

const PullGrants::PairState* PullGrants::find_pair(std::string_view node,
                                                   std::string_view ref) const {
  const auto image = images_.find(ref);
  if (image == images_.end()) return nullptr;
  const auto pair = image->second.pairs.find(node);
  return pair == image->second.pairs.end() ? nullptr : &pair->second;
}

bool PullGrants::granted(std::string_view node, std::string_view ref) const {
  const auto* pair = find_pair(node, ref);
  return pair != nullptr && pair->granted;
}

bool PullGrants::granted(PairHandle pair) { return pair.pair_->granted; }

bool PullGrants::taken_back(PairHandle pair) { return pair.pair_->taken_back; }

bool PullGrants::taken_back(std::string_view node, std::string_view ref) const {
  const auto* pair = find_pair(node, ref);
  return pair != nullptr && pair->taken_back;
}

std::map<std::string, RegistryBackoff> PullGrants::backoffs(Clock::time_point now) const {
  std::map<std::string, RegistryBackoff> result;
  for (const auto& [name, registry] : registries_) {
    const bool paused = registry.paused && now < registry.paused_until;
    if (!paused && registry.next_pause <= options_.backoff_base) continue;
    result.emplace(name, RegistryBackoff{paused ? registry.paused_until - now : Clock::duration{},
                                         registry.next_pause});
  }
  return result;
}

std::map<std::string, std::uint32_t> PullGrants::grants_by_registry() const {
  std::map<std::string, std::uint32_t> result;
  for (const auto& [name, registry] : registries_) {
    if (!registry.images.empty()) result.emplace(name, registry.grants);
  }
  return result;
}

}  // namespace swarm_prepull::controller
