// Recovery as soon as a registry answers again. An agent backs off a pull that
// failed with network or timeout, doubling up to minutes, so after an outage
// nodes would wait out their backoff long after the registry is back. The
// controller watches for that instead: while some node's last try of an image
// failed that way, it asks the image's registry itself (through the manager's
// engine, GET /distribution/{ref}/json, one probe per registry at a time),
// and when a registry it saw unreachable answers again it bumps that
// registry's retry epoch. Every desired image carries its registry's epoch
// (api::DesiredImage::retry); a new epoch wakes the agents' long polls and
// cuts their backoff for that registry short.
//
// Only a transition counts: a registry the manager reaches while a node does
// not (the node's own network) gets no new epoch, so such a node keeps its
// backoff instead of retrying at every probe. Pure: the controller does the
// probing and hands the outcomes in.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace swarm_prepull::controller {

class RegistryRecovery {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RegistryRecovery(Clock::duration probe_interval) : probe_interval_(probe_interval) {}

  // The probes to start now, (registry, ref to resolve): one per registry in
  // `failing` (State::registries_failing) not probed within probe_interval and
  // with no probe in flight. Registries no longer failing are forgotten
  // (their epochs stay: agents compare them).
  std::vector<std::pair<std::string, std::string>> due(
      const std::map<std::string, std::string>& failing, Clock::time_point now);

  // A probe's outcome: `answered` when the registry answered at all (an
  // image found, or not found, or refused: anything but network and
  // timeout). True when this bumped the registry's epoch.
  bool finished(const std::string& registry, bool answered);

  const std::map<std::string, std::uint64_t>& epochs() const { return epochs_; }

 private:
  struct Watch {
    Clock::time_point last_probe{};
    bool in_flight = false;
    bool seen_unreachable = false;
  };
  Clock::duration probe_interval_;
  std::map<std::string, Watch> watched_;
  std::map<std::string, std::uint64_t> epochs_;
};

}  // namespace swarm_prepull::controller
