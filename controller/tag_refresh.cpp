#include "controller/tag_refresh.h"

#include <algorithm>
#include <utility>

#include "reconcile/reference.h"

namespace swarm_prepull::controller {

std::vector<std::string> floating_refs(const reconcile::Plan& plan) {
  std::vector<std::string> refs;
  for (const auto& image : plan.images) {
    const auto reference = reconcile::parse_reference(image.ref);
    if (reference && reference->digest.empty()) refs.push_back(image.ref);
  }
  // Plan images are sorted by ref, but one ref may stand twice (other services).
  refs.erase(std::unique(refs.begin(), refs.end()), refs.end());
  return refs;
}

std::size_t unpinned_services(const std::vector<reconcile::Service>& services) {
  return static_cast<std::size_t>(
      std::count_if(services.begin(), services.end(), [](const reconcile::Service& service) {
        const std::string& image = service.spec.image;
        if (image.empty() || reconcile::is_image_id(image)) return false;
        const auto reference = reconcile::parse_reference(image);
        return reference && reference->digest.empty();
      }));
}

TagOutcome TagDigests::record(const std::string& ref, const std::string& digest,
                              std::uint64_t now_ms) {
  failing_.erase(ref);
  auto [entry, inserted] = tags_.try_emplace(ref);
  TagDigest& tag = entry->second;
  tag.resolved_at_ms = now_ms;
  if (inserted) {
    tag.digest = digest;
    return TagOutcome::first;
  }
  if (tag.digest == digest) return TagOutcome::unchanged;
  tag.previous = std::exchange(tag.digest, digest);
  return TagOutcome::moved;
}

bool TagDigests::record_failure(const std::string& ref) { return failing_.insert(ref).second; }

void TagDigests::retain(const std::vector<std::string>& refs) {
  const std::set<std::string_view> keep(refs.begin(), refs.end());
  std::erase_if(tags_, [&](const auto& item) { return !keep.contains(item.first); });
  std::erase_if(failing_, [&](const std::string& ref) { return !keep.contains(ref); });
}

const TagDigest* TagDigests::find(std::string_view ref) const {
  const auto found = tags_.find(ref);
  return found == tags_.end() ? nullptr : &found->second;
}

std::map<std::string, std::string> TagDigests::digests() const {
  std::map<std::string, std::string> result;
  for (const auto& [ref, tag] : tags_) result.emplace(ref, tag.digest);
  return result;
}

}  // namespace swarm_prepull::controller
