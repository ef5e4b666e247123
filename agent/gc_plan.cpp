#include "agent/gc_plan.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "api/duration.h"
#include "reconcile/reference.h"

namespace swarm_prepull::agent {
namespace {

using reconcile::Error;

// A whole percentage, optionally followed by '%'.
std::optional<unsigned> parse_percent(std::string_view text) {
  if (text.ends_with('%')) text.remove_suffix(1);
  unsigned value = 0;
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc{} || stop != end || value > 100) return std::nullopt;
  return value;
}

bool is_true(std::string_view value) {
  return value.size() == 4 && std::equal(value.begin(), value.end(), "true",
                                         [](char a, char b) { return (a | 0x20) == b; });
}

// floor(total * percent / 100) without overflowing 64 bits.
std::uint64_t percent_of(std::uint64_t total, unsigned percent) {
  return total / 100 * percent + total % 100 * percent / 100;
}

// The engine lists "redis:7"; the desired set holds canonical refs.
std::optional<std::string> canonical_tag(const std::string& text) {
  auto reference = reconcile::parse_reference(text);
  if (!reference || !reference->digest.empty()) return std::nullopt;
  return reference->canonical();
}

std::optional<std::string> canonical_digest(const std::string& text) {
  auto reference = reconcile::parse_reference(text);
  if (!reference || reference->digest.empty()) return std::nullopt;
  return reference->canonical();
}

// Every key a desired image keeps an image by, mapped to its index.
std::unordered_map<std::string, std::size_t> desired_keys(
    const std::vector<api::DesiredImage>& desired) {
  std::unordered_map<std::string, std::size_t> keys;
  keys.reserve(desired.size() * 2);
  for (std::size_t i = 0; i < desired.size(); ++i) {
    auto reference = reconcile::parse_reference(desired[i].ref);
    if (!reference) {
      keys.emplace(desired[i].ref, i);  // kept verbatim: it can still equal nothing, harmlessly
      continue;
    }
    keys.emplace(reference->canonical(), i);
    // The content the controller resolved a tag to: after the tag moved here
    // (a newer pull), that image still serves the set until the tag is pulled
    // again.
    if (reference->digest.empty() && !desired[i].digest.empty()) {
      keys.emplace(reference->name() + "@" + desired[i].digest, i);
    }
  }
  return keys;
}

struct Activity {
  ActivitySource source = ActivitySource::created;
  WallTime time{};
};

// The most recent thing known to have happened to the image on this node.
Activity last_activity(const GcImage& image) {
  Activity activity{ActivitySource::created, image.created};
  if (image.last_used) activity = {ActivitySource::used, *image.last_used};
  if (image.first_listed && (!image.last_used || *image.first_listed > *image.last_used)) {
    activity = {ActivitySource::listed, *image.first_listed};
  }
  return activity;
}

// RFC 3339 in UTC, as the engine writes times.
std::string format_time(WallTime time) {
  const auto day = std::chrono::floor<std::chrono::days>(time);
  const std::chrono::year_month_day date{day};
  const std::chrono::hh_mm_ss clock{time - day};
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(clock.hours().count()), static_cast<int>(clock.minutes().count()),
                static_cast<int>(clock.seconds().count()));
  return text;
}

std::string describe(const Activity& activity) {
  switch (activity.source) {
    case ActivitySource::used:
      return "last used by a container " + format_time(activity.time);
    case ActivitySource::listed:
      return "first listed by this agent " + format_time(activity.time);
    case ActivitySource::created:
      return "created " + format_time(activity.time) + ", nothing later known";
  }
  return {};
}

}  // namespace

std::string_view gc_mode_name(GcMode mode) {
  switch (mode) {
    case GcMode::off:
      return "off";
    case GcMode::dry_run:
      return "dry-run";
    case GcMode::on:
      return "on";
  }
  return "?";
}

std::string_view keep_rule_name(KeepRule rule) {
  switch (rule) {
    case KeepRule::desired:
      return "desired";
    case KeepRule::in_use:
      return "in_use";
    case KeepRule::keep_label:
      return "keep_label";
    case KeepRule::min_age:
      return "min_age";
    case KeepRule::not_needed:
      return "not_needed";
  }
  return "?";
}

std::string_view eligibility_name(Eligibility eligibility) {
  switch (eligibility) {
    case Eligibility::not_desired:
      return "not desired";
    case Eligibility::untagged:
      return "untagged and not desired";
    case Eligibility::dangling:
      return "dangling";
  }
  return "?";
}

reconcile::Expected<GcOptions> parse_gc_options(const GcOptionText& text) {
  GcOptions options;
  if (text.mode == "off") {
    options.mode = GcMode::off;
  } else if (text.mode == "dry-run") {
    options.mode = GcMode::dry_run;
  } else if (text.mode == "on") {
    options.mode = GcMode::on;
  } else {
    return Error{"--gc: expected off, dry-run or on, got '" + text.mode + "'"};
  }
  auto high = parse_percent(text.high);
  if (!high) {
    return Error{"--gc-high: expected a whole percentage from 0 to 100, got '" + text.high + "'"};
  }
  auto low = parse_percent(text.low);
  if (!low) {
    return Error{"--gc-low: expected a whole percentage from 0 to 100, got '" + text.low + "'"};
  }
  if (*low >= *high) {
    return Error{"--gc-low (" + std::to_string(*low) + "%) must be below --gc-high (" +
                 std::to_string(*high) + "%)"};
  }
  options.high_percent = *high;
  options.low_percent = *low;
  auto min_age = api::parse_duration(text.min_age);
  if (!min_age) {
    return Error{"--gc-min-age: expected a duration such as 1h, 30m or 90s, got '" + text.min_age +
                 "'"};
  }
  options.min_age = *min_age;
  return options;
}

GcPlan plan_gc(const std::vector<GcImage>& images, const std::unordered_set<std::string>& in_use,
               const std::vector<api::DesiredImage>& desired, DiskSpace disk,
               const GcOptions& options, WallTime now) {
  GcPlan plan;
  plan.mode = options.mode;
  plan.disk = disk;
  plan.used_bytes = disk.size_bytes - std::min(disk.free_bytes, disk.size_bytes);
  plan.high_bytes = percent_of(disk.size_bytes, options.high_percent);
  plan.low_bytes = percent_of(disk.size_bytes, options.low_percent);
  plan.used_after_bytes = plan.used_bytes;
  if (options.mode == GcMode::off) return plan;
  // An unknown disk (total 0) never triggers.
  plan.triggered = disk.size_bytes > 0 && plan.used_bytes > plan.high_bytes;
  plan.remove = plan.triggered && options.mode == GcMode::on;

  const auto keys = desired_keys(desired);
  static const std::string keep_label_key(gc_keep_label);  // the map's find takes a std::string
  plan.kept.reserve(images.size());
  std::vector<GcCandidate> eligible;
  for (std::size_t i = 0; i < images.size(); ++i) {
    const GcImage& image = images[i];
    std::optional<std::size_t> wanted;
    bool tagged = false;
    for (const std::string& tag : image.repo_tags) {
      auto key = canonical_tag(tag);
      if (!key) continue;  // "<none>:<none>"
      tagged = true;
      if (auto found = keys.find(*key); found != keys.end()) {
        wanted = found->second;
        break;
      }
    }
    bool digested = false;
    for (const std::string& digest : image.repo_digests) {
      if (wanted) break;
      auto key = canonical_digest(digest);
      if (!key) continue;  // "<none>@<none>"
      digested = true;
      if (auto found = keys.find(*key); found != keys.end()) wanted = found->second;
    }
    if (wanted) {
      plan.kept.push_back({.image = i, .rule = KeepRule::desired, .desired = *wanted});
      continue;
    }
    if (in_use.contains(image.id)) {
      plan.kept.push_back({.image = i, .rule = KeepRule::in_use});
      continue;
    }
    if (auto label = image.labels.find(keep_label_key);
        label != image.labels.end() && is_true(label->second)) {
      plan.kept.push_back({.image = i, .rule = KeepRule::keep_label});
      continue;
    }
    const Activity activity = last_activity(image);
    if (now - activity.time < options.min_age) {
      plan.kept.push_back({.image = i, .rule = KeepRule::min_age});
      continue;
    }
    const Eligibility eligibility = tagged     ? Eligibility::not_desired
                                    : digested ? Eligibility::untagged
                                               : Eligibility::dangling;
    eligible.push_back({.image = i,
                        .eligibility = eligibility,
                        .source = activity.source,
                        .last_activity = activity.time});
  }

  // Least recently active first; Created, then the ID, make the order total
  // so that every pass over the same input plans the same removals.
  std::sort(eligible.begin(), eligible.end(), [&](const GcCandidate& a, const GcCandidate& b) {
    const GcImage& x = images[a.image];
    const GcImage& y = images[b.image];
    return std::tie(a.last_activity, x.created, x.id) < std::tie(b.last_activity, y.created, y.id);
  });
  std::size_t taken = 0;
  if (plan.triggered) {
    for (; taken < eligible.size() && plan.used_after_bytes >= plan.low_bytes; ++taken) {
      const auto size =
          static_cast<std::uint64_t>(std::max<std::int64_t>(images[eligible[taken].image].size, 0));
      plan.candidate_bytes += size;
      plan.used_after_bytes -= std::min(size, plan.used_after_bytes);
    }
  }
  plan.candidates.assign(eligible.begin(), eligible.begin() + static_cast<std::ptrdiff_t>(taken));
  for (std::size_t i = taken; i < eligible.size(); ++i) {
    plan.kept.push_back({.image = eligible[i].image, .rule = KeepRule::not_needed});
  }
  // Back to the order given, as documented.
  std::sort(plan.kept.begin(), plan.kept.end(),
            [](const GcKept& a, const GcKept& b) { return a.image < b.image; });
  return plan;
}

std::string explain(const GcKept& kept, const GcPlan& plan, const std::vector<GcImage>& images,
                    const std::vector<api::DesiredImage>& desired, const GcOptions& options) {
  switch (kept.rule) {
    case KeepRule::desired:
      return "desired: " + (kept.desired < desired.size() ? desired[kept.desired].ref : "?");
    case KeepRule::in_use:
      return "in use by a container";
    case KeepRule::keep_label:
      return "labelled " + std::string(gc_keep_label) + "=true";
    case KeepRule::min_age:
      return "younger than --gc-min-age " + api::format_duration(options.min_age) + " (" +
             describe(last_activity(images[kept.image])) + ")";
    case KeepRule::not_needed:
      if (!plan.triggered) {
        return "not needed: usage " + format_bytes(plan.used_bytes) + " of " +
               format_bytes(plan.disk.size_bytes) + " is not above --gc-high " +
               std::to_string(options.high_percent) + "%";
      }
      return "not needed: removing less recently active candidates brings usage below --gc-low " +
             std::to_string(options.low_percent) + "%";
  }
  return {};
}

std::string explain(const GcCandidate& candidate, const std::vector<GcImage>& images) {
  return std::string(eligibility_name(candidate.eligibility)) +
         "; least recently active: " + describe(last_activity(images[candidate.image]));
}

}  // namespace swarm_prepull::agent
