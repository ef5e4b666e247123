// Disk admission: the agent starts no pull while its engine's data root has
// less free space than --min-free-disk, so that prepulling never fills the
// disk that running containers also write to (issue 10; kubelet refuses to
// pull under its image filesystem's threshold for the same reason).
//
// The threshold, its parsing and the decision are pure; measure_disk() is the
// one statvfs edge.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "reconcile/expected.h"

namespace swarm_prepull::agent {

// Space of the filesystem holding the engine's data root.
struct DiskSpace {
  // What an unprivileged writer can still use (statvfs f_bavail): the blocks
  // ext4 reserves for root are left as a margin, not counted as free.
  std::uint64_t free_bytes = 0;
  std::uint64_t size_bytes = 0;
  bool operator==(const DiskSpace&) const = default;
};

// --min-free-disk: an absolute amount or a share of the filesystem's size.
struct MinFreeDisk {
  std::uint64_t bytes = 0;  // when !percent
  double percent = 0;       // 0..100, when is_percent
  bool is_percent = false;

  // The free bytes needed on a filesystem of `size_bytes`.
  std::uint64_t required(std::uint64_t size_bytes) const;
  // As given: "10%", "2GiB" (normalized: "2147483648 bytes" is "2GiB").
  std::string to_string() const;
};

inline constexpr std::string_view default_min_free_disk = "10%";

// "10%", "2.5%", "0" (never hold), "500MB", "2GiB", "1048576", "512k".
// Units: B, kB/KB/k, MB/M, GB/G, TB/T (powers of 1000), KiB, MiB, GiB, TiB
// (powers of 1024), case-insensitive. A percentage is from 0 to 100.
reconcile::Expected<MinFreeDisk> parse_min_free_disk(std::string_view text);

// "1.5GiB", "512MiB", "900KiB", "12B": for log lines and `wait`'s message.
std::string format_bytes(std::uint64_t bytes);

struct Admission {
  bool admit = true;
  // The space measured, when it was; nullopt when statvfs failed.
  std::optional<DiskSpace> space{};
  std::uint64_t required_free = 0;  // bytes, when measured
};

// Whether pulls may start now. An unmeasured data root (statvfs failed: the
// data root is not mounted into the agent, say) admits: holding every pull
// on a measurement the operator may not have set up would stop the agent's
// whole job; the failure is logged and the gauges read NaN instead.
Admission admit_pulls(std::optional<DiskSpace> space, const MinFreeDisk& min_free);

// statvfs(path). The error names the path and errno's text.
reconcile::Expected<DiskSpace> measure_disk(const std::string& path);

}  // namespace swarm_prepull::agent
