#include "agent/gc_activity.h"

namespace swarm_prepull::agent {

std::unordered_set<std::string> images_in_use(const std::vector<reconcile::Container>& containers) {
  std::unordered_set<std::string> ids;
  ids.reserve(containers.size());
  for (const auto& container : containers) {
    if (!container.image_id.empty()) ids.insert(container.image_id);
  }
  return ids;
}

void GcActivity::observe(const std::vector<reconcile::Image>& images,
                         const std::unordered_set<std::string>& in_use, WallTime now) {
  std::unordered_map<std::string, Seen> seen;
  seen.reserve(images.size());
  for (const auto& image : images) {
    auto found = seen_.find(image.id);
    Seen entry = found != seen_.end() ? found->second
                 : first_pass_done_   ? Seen{.first_listed = now, .last_used = std::nullopt}
                                      : Seen{};
    if (in_use.contains(image.id)) entry.last_used = now;
    seen.emplace(image.id, entry);
  }
  seen_ = std::move(seen);
  first_pass_done_ = true;
  std::erase_if(counted_, [&](const std::string& id) { return !seen_.contains(id); });
}

std::vector<GcImage> GcActivity::gc_images(const std::vector<reconcile::Image>& images) const {
  std::vector<GcImage> result;
  result.reserve(images.size());
  for (const auto& image : images) {
    GcImage entry{.id = image.id,
                  .repo_tags = image.repo_tags,
                  .repo_digests = image.repo_digests,
                  .size = image.size,
                  .created = WallTime(std::chrono::seconds(image.created)),
                  .labels = image.labels,
                  .last_used = std::nullopt,
                  .first_listed = std::nullopt};
    if (auto found = seen_.find(image.id); found != seen_.end()) {
      entry.first_listed = found->second.first_listed;
      entry.last_used = found->second.last_used;
    }
    result.push_back(std::move(entry));
  }
  return result;
}

void GcActivity::record_pass(const GcPlan& plan, std::uint64_t removed,
                             std::uint64_t reclaimed_bytes) {
  summary_.mode = std::string(gc_mode_name(plan.mode));
  summary_.candidates = plan.candidates.size();
  summary_.candidate_bytes = plan.candidate_bytes;
  summary_.removed_images += removed;
  summary_.reclaimed_bytes += reclaimed_bytes;
}

bool GcActivity::first_candidacy(const std::string& id) { return counted_.insert(id).second; }

}  // namespace swarm_prepull::agent
