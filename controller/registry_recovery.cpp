#include "controller/registry_recovery.h"

namespace swarm_prepull::controller {

std::vector<std::pair<std::string, std::string>> RegistryRecovery::due(
    const std::map<std::string, std::string>& failing, Clock::time_point now) {
  for (auto it = watched_.begin(); it != watched_.end();) {
    // A probe in flight ends in finished(), which still needs its entry.
    it = failing.contains(it->first) || it->second.in_flight ? std::next(it) : watched_.erase(it);
  }
  std::vector<std::pair<std::string, std::string>> probes;
  for (const auto& [registry, ref] : failing) {
    auto& watch = watched_[registry];
    if (watch.in_flight) continue;
    if (watch.last_probe != Clock::time_point{} && now - watch.last_probe < probe_interval_) {
      continue;
    }
    watch.in_flight = true;
    watch.last_probe = now;
    probes.emplace_back(registry, ref);
  }
  return probes;
}

bool RegistryRecovery::finished(const std::string& registry, bool answered) {
  const auto watch = watched_.find(registry);
  if (watch == watched_.end()) return false;
  watch->second.in_flight = false;
  if (!answered) {
    watch->second.seen_unreachable = true;
    return false;
  }
  if (!watch->second.seen_unreachable) return false;
  watch->second.seen_unreachable = false;
  ++epochs_[registry];
  return true;
}

}  // namespace swarm_prepull::controller
