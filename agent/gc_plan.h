// Image garbage collection on a node, as a pure decision (issue 10): given
// the node's images, what its containers use, its desired set, the data
// root's usage, the options and the time, which images to remove and in which
// order, and for every image kept the rule that kept it. No I/O, no clock, no
// logging: the agent's loop gathers the input and carries the plan out
// (docs/gc.md).
//
// The model is kubelet's image GC (pkg/kubelet/images/image_gc_manager.go):
// a high threshold that starts a pass, a low one it frees down to, a minimum
// age, least recently used first, never an image a container uses. Unlike
// kubelet, the desired set is kept too: it holds the previous spec of every
// service, so `docker service rollback` never waits for a pull (moby #31254).
//
// When an image was last pulled or used: the engine (20.10, API v1.41) keeps
// no such time. `Created` is when the image's config was written at build
// time, a lower bound of when it reached the node; `Metadata.LastTagTime` is
// set only by local tagging; the events stream keeps 256 events and none
// across engine restarts. So the agent remembers what it sees itself
// (agent/gc_activity.h): when it first listed each image (within one check
// of a pull, or its own start for what was there before) and when it last
// saw a container made from it. docs/gc.md has the whole argument.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "agent/disk.h"
#include "api/messages.h"
#include "reconcile/expected.h"

namespace swarm_prepull::agent {

using WallTime = std::chrono::sys_seconds;

// An image label, set at build time (Dockerfile LABEL), that keeps the image
// whatever else holds; "true" in any case, as reconcile::skip_label reads.
inline constexpr std::string_view gc_keep_label = "swarm-prepull.keep";

enum class GcMode {
  off,      // no plan
  dry_run,  // plan and report, remove nothing (the default)
  on,       // plan and remove
};

struct GcOptions {
  GcMode mode = GcMode::dry_run;
  // Percentages of the data root's total size: a pass starts when usage is
  // above high and removes candidates until usage would be below low.
  unsigned high_percent = 85;
  unsigned low_percent = 75;
  // An image whose last known activity (pulled, used, tagged; else created)
  // is more recent than this is kept: it may have been pulled for a task
  // that has not created its container yet.
  std::chrono::milliseconds min_age = std::chrono::hours(1);
};

// The flags as written; an absent flag keeps its default text.
struct GcOptionText {
  std::string mode = "dry-run";
  std::string high = "85";
  std::string low = "75";
  std::string min_age = "1h";
};

// `--gc off|dry-run|on`, `--gc-high` / `--gc-low` (whole percentages 0-100,
// a trailing '%' allowed, low below high), `--gc-min-age` (api::parse_duration).
// The error names the flag and quotes what was given.
reconcile::Expected<GcOptions> parse_gc_options(const GcOptionText& text);

std::string_view gc_mode_name(GcMode mode);  // "off", "dry-run", "on"

// One image of the node. engine::Client's reconcile::Image lacks Created and
// Labels (both in GET /images/json) and the times only the agent knows, so
// the loop fills this from the listing plus its own records.
struct GcImage {
  std::string id;                         // "sha256:..."
  std::vector<std::string> repo_tags;     // "redis:7"; "<none>:<none>" is ignored
  std::vector<std::string> repo_digests;  // "redis@sha256:..."
  std::int64_t size = 0;                  // Size
  WallTime created{};                     // Created
  std::map<std::string, std::string> labels;
  // The last time the agent saw a container made from this image.
  std::optional<WallTime> last_used;
  // When the agent first listed it: within one check of its pull, or the
  // agent's start for an image that was there before.
  std::optional<WallTime> first_listed;
};

// Why an image is not removed, in the order the rules are checked: an image
// that several rules keep is reported under the first.
enum class KeepRule {
  desired,     // a ref of the node's desired set names it, by tag or digest
  in_use,      // a container (running or stopped) was made from it
  keep_label,  // swarm-prepull.keep=true
  min_age,     // its last activity is more recent than min_age
  not_needed,  // eligible, but usage is not above high, or already reaches below low
};

// Why a candidate may be removed.
enum class Eligibility {
  not_desired,  // tagged, but no tag or digest of it is desired
  untagged,     // no tag, only digests (pulled by digest, or its tag moved), none desired
  dangling,     // neither tag nor digest
};

// What the ordering went by.
enum class ActivitySource {
  used,     // GcImage::last_used
  listed,   // GcImage::first_listed
  created,  // nothing better known
};

std::string_view keep_rule_name(KeepRule rule);  // "desired", "in_use", ... for logs
std::string_view eligibility_name(Eligibility eligibility);

struct GcKept {
  std::size_t image = 0;  // index into the images given
  KeepRule rule = KeepRule::desired;
  // KeepRule::desired: index into the desired images of the ref that matched.
  std::size_t desired = 0;
};

struct GcCandidate {
  std::size_t image = 0;  // index into the images given
  Eligibility eligibility = Eligibility::not_desired;
  ActivitySource source = ActivitySource::created;
  WallTime last_activity{};
};

struct GcPlan {
  GcMode mode = GcMode::dry_run;
  bool triggered = false;  // usage above high (never with mode off)
  bool remove = false;     // triggered and mode on: the loop removes the candidates
  DiskSpace disk{};
  // size - free: like kubelet's capacity - available, the blocks reserved for
  // root count as used, so a pass starts before unprivileged writers fail.
  std::uint64_t used_bytes = 0;
  // The thresholds in bytes, rounded down.
  std::uint64_t high_bytes = 0;
  std::uint64_t low_bytes = 0;
  // Sum of the candidates' Size. Layers shared between images are counted in
  // each image's Size, so this is an upper bound of what removal reclaims: a
  // layer is freed only with the last image that holds it.
  std::uint64_t candidate_bytes = 0;
  // Usage if every candidate's Size were reclaimed; below low_bytes unless the
  // eligible images do not suffice.
  std::uint64_t used_after_bytes = 0;
  // Least recently active first: the order to remove in.
  std::vector<GcCandidate> candidates;
  // Every other image, in the order given (empty with mode off).
  std::vector<GcKept> kept;
};

// The plan. `disk` is measure_disk(--data-root). `in_use` holds the ImageID of every container of
// the node (GET /containers/json?all=true). `desired` is the node's desired set as the agent holds
// it (current and previous specs, image sets, warm requests): an image is desired when one of its
// RepoTags or RepoDigests, normalized by reconcile::parse_reference, equals a desired ref, or, for
// a desired tag the controller resolved, equals name@digest.
GcPlan plan_gc(const std::vector<GcImage>& images, const std::unordered_set<std::string>& in_use,
               const std::vector<api::DesiredImage>& desired, DiskSpace disk,
               const GcOptions& options, WallTime now);

// One log line's reason: "desired: docker.io/library/redis:7",
// "younger than --gc-min-age 1h (first listed by this agent 2026-12-02T07:00:00Z)".
std::string explain(const GcKept& kept, const GcPlan& plan, const std::vector<GcImage>& images,
                    const std::vector<api::DesiredImage>& desired, const GcOptions& options);
// "not desired; least recently active: last used by a container 2026-11-01T10:00:00Z".
std::string explain(const GcCandidate& candidate, const std::vector<GcImage>& images);

}  // namespace swarm_prepull::agent
