// Image garbage collection as a pure plan: one case per keep rule, per
// ordering rule, the thresholds, the modes, and the options' errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/gc_plan.h"

namespace swarm_prepull::agent {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const WallTime now = WallTime{std::chrono::sys_days{std::chrono::year{2026} / 12 / 2}} + 7h;
constexpr std::uint64_t gib = 1024ULL * 1024 * 1024;
const std::string digest_a = "sha256:" + std::string(64, 'a');
const std::string digest_b = "sha256:" + std::string(64, 'b');

std::string image_id(char c) { return "sha256:" + std::string(64, c); }

// An image created long ago, with nothing else known: eligible by default.
GcImage image(char id, std::vector<std::string> tags, std::int64_t size = 1 * gib) {
  return {.id = image_id(id),
          .repo_tags = std::move(tags),
          .repo_digests = {},
          .size = size,
          .created = now - 24h * 30,
          .labels = {},
          .last_used = std::nullopt,
          .first_listed = std::nullopt};
}

DiskSpace used(std::uint64_t used_bytes, std::uint64_t size_bytes) {
  return {.free_bytes = size_bytes - used_bytes, .size_bytes = size_bytes};
}

// 90 of 100 GiB used: above the default 85%, 15 GiB to free to get below 75%.
const DiskSpace full = used(90 * gib, 100 * gib);

std::vector<std::string> candidate_ids(const GcPlan& plan, const std::vector<GcImage>& images) {
  std::vector<std::string> ids;
  for (const GcCandidate& candidate : plan.candidates) ids.push_back(images[candidate.image].id);
  return ids;
}

// The rule that kept each image, by its id's letter.
std::map<char, KeepRule> kept_rules(const GcPlan& plan, const std::vector<GcImage>& images) {
  std::map<char, KeepRule> rules;
  for (const GcKept& kept : plan.kept) rules[images[kept.image].id.back()] = kept.rule;
  return rules;
}

GcPlan plan_of(const std::vector<GcImage>& images, const std::vector<api::DesiredImage>& desired,
               DiskSpace disk = full, GcOptions options = {},
               const std::unordered_set<std::string>& in_use = {}) {
  return plan_gc(images, in_use, desired, disk, options, now);
}

// --- keep rules -------------------------------------------------------------

TEST(GcKeepRules, DesiredByTagInTheEnginesShortForm) {
  std::vector<GcImage> images{image('a', {"redis:7"}), image('b', {"redis:6"})};
  GcPlan plan = plan_of(images, {{.ref = "docker.io/library/redis:7"}});
  EXPECT_THAT(candidate_ids(plan, images), ElementsAre(image_id('b')));
  ASSERT_EQ(plan.kept.size(), 1u);
  EXPECT_EQ(plan.kept[0].rule, KeepRule::desired);
  EXPECT_EQ(explain(plan.kept[0], plan, images, {{.ref = "docker.io/library/redis:7"}}, {}),
            "desired: docker.io/library/redis:7");
}

TEST(GcKeepRules, DesiredByDigestWithoutTags) {
  // Swarm pulls a pinned image by digest and leaves RepoTags empty.
  GcImage pinned = image('a', {});
  pinned.repo_digests = {"10.0.0.1:5000/app@" + digest_a};
  std::vector<GcImage> images{pinned};
  GcPlan plan = plan_of(images, {{.ref = "10.0.0.1:5000/app@" + digest_a}});
  EXPECT_THAT(plan.candidates, IsEmpty());
  EXPECT_EQ(kept_rules(plan, images).at('a'), KeepRule::desired);
}

TEST(GcKeepRules, PreviousContentOfAResolvedTagIsKeptByItsDigest) {
  // The set says app:1 is at digest_a; this node's app:1 already moved to
  // digest_b, and the old content, untagged now, is what the set names.
  GcImage old = image('a', {});
  old.repo_digests = {"10.0.0.1:5000/app@" + digest_a};
  GcImage moved = image('b', {"10.0.0.1:5000/app:1"});
  moved.repo_digests = {"10.0.0.1:5000/app@" + digest_b};
  std::vector<GcImage> images{old, moved};
  GcPlan plan = plan_of(images, {{.ref = "10.0.0.1:5000/app:1", .digest = digest_a}});
  EXPECT_THAT(plan.candidates, IsEmpty());
  EXPECT_EQ(kept_rules(plan, images).at('a'), KeepRule::desired);
  EXPECT_EQ(kept_rules(plan, images).at('b'), KeepRule::desired);
}

TEST(GcKeepRules, ATagDoesNotKeepAnotherRepositorysDigest) {
  GcImage other = image('a', {});
  other.repo_digests = {"10.0.0.1:5000/other@" + digest_a};
  std::vector<GcImage> images{other};
  GcPlan plan = plan_of(images, {{.ref = "10.0.0.1:5000/app:1", .digest = digest_a}});
  EXPECT_THAT(candidate_ids(plan, images), ElementsAre(image_id('a')));
}

TEST(GcKeepRules, InUseByAContainerRunningOrStopped) {
  std::vector<GcImage> images{image('a', {"old:1"}), image('b', {})};
  GcPlan plan = plan_of(images, {}, full, {}, {image_id('a'), image_id('b')});
  EXPECT_THAT(plan.candidates, IsEmpty());
  EXPECT_EQ(kept_rules(plan, images).at('a'), KeepRule::in_use);
  EXPECT_EQ(kept_rules(plan, images).at('b'), KeepRule::in_use);
}

TEST(GcKeepRules, KeepLabelInAnyCase) {
  GcImage kept = image('a', {"tools:1"});
  kept.labels = {{"swarm-prepull.keep", "True"}};
  GcImage not_kept = image('b', {"tools:2"});
  not_kept.labels = {{"swarm-prepull.keep", "false"}};
  std::vector<GcImage> images{kept, not_kept};
  GcPlan plan = plan_of(images, {});
  EXPECT_EQ(kept_rules(plan, images).at('a'), KeepRule::keep_label);
  EXPECT_THAT(candidate_ids(plan, images), ElementsAre(image_id('b')));
}

TEST(GcKeepRules, YoungerThanMinAgeByLastUse) {
  GcImage fresh = image('a', {"app:1"});
  fresh.last_used = now - 59min;
  GcImage aged = image('b', {"app:2"});
  aged.last_used = now - 61min;
  std::vector<GcImage> images{fresh, aged};
  GcPlan plan = plan_of(images, {});
  EXPECT_EQ(kept_rules(plan, images).at('a'), KeepRule::min_age);
  EXPECT_THAT(candidate_ids(plan, images), ElementsAre(image_id('b')));
  EXPECT_EQ(explain(plan.kept[0], plan, images, {}, {}),
            "younger than --gc-min-age 1h (last used by a container 2026-12-02T06:01:00Z)");
}

TEST(GcKeepRules, YoungerThanMinAgeByCreatedWhenNothingElseIsKnown) {
  GcImage built = image('a', {"local:dev"});
  built.created = now - 10min;
  std::vector<GcImage> images{built};
  GcPlan plan = plan_of(images, {});
  EXPECT_EQ(kept_rules(plan, images).at('a'), KeepRule::min_age);
}

TEST(GcKeepRules, ActivityInTheFutureCountsAsYoung) {
  // A node's clock behind the registry's build time: never removed for it.
  GcImage ahead = image('a', {"app:1"});
  ahead.created = now + 2h;
  std::vector<GcImage> images{ahead};
  GcPlan plan = plan_of(images, {});
  EXPECT_EQ(kept_rules(plan, images).at('a'), KeepRule::min_age);
}

TEST(GcKeepRules, NotNeededOnceUsageWouldBeBelowLow) {
  // 15 GiB to free: a 10 GiB and a 6 GiB image are enough; the third stays.
  std::vector<GcImage> images{image('a', {"a:1"}, 10 * gib), image('b', {"b:1"}, 6 * gib),
                              image('c', {"c:1"}, 10 * gib)};
  images[0].last_used = now - 72h;
  images[1].last_used = now - 48h;
  images[2].last_used = now - 24h;
  GcPlan plan = plan_of(images, {});
  EXPECT_THAT(candidate_ids(plan, images), ElementsAre(image_id('a'), image_id('b')));
  EXPECT_EQ(kept_rules(plan, images).at('c'), KeepRule::not_needed);
  EXPECT_EQ(plan.candidate_bytes, 16 * gib);
  EXPECT_EQ(plan.used_after_bytes, 74 * gib);
  EXPECT_LT(plan.used_after_bytes, plan.low_bytes);
}

TEST(GcKeepRules, TheFirstRuleInOrderIsReported) {
  GcImage all = image('a', {"redis:7"});
  all.labels = {{"swarm-prepull.keep", "true"}};
  all.last_used = now;
  std::vector<GcImage> images{all};
  GcPlan plan = plan_of(images, {{.ref = "docker.io/library/redis:7"}}, full, {}, {image_id('a')});
  EXPECT_EQ(kept_rules(plan, images).at('a'), KeepRule::desired);
  images[0].repo_tags = {"redis:6"};
  plan = plan_of(images, {{.ref = "docker.io/library/redis:7"}}, full, {}, {image_id('a')});
  EXPECT_EQ(kept_rules(plan, images).at('a'), KeepRule::in_use);
}

// --- eligibility ------------------------------------------------------------

TEST(GcEligibility, DanglingUntaggedAndNotDesired) {
  GcImage dangling = image('a', {"<none>:<none>"});
  dangling.repo_digests = {"<none>@<none>"};
  GcImage untagged = image('b', {});
  untagged.repo_digests = {"app@" + digest_a};
  GcImage tagged = image('c', {"app:1"});
  std::vector<GcImage> images{dangling, untagged, tagged};
  GcPlan plan = plan_of(images, {}, full, {.low_percent = 0});  // free everything eligible
  ASSERT_EQ(plan.candidates.size(), 3u);
  std::map<char, Eligibility> by_id;
  for (const GcCandidate& c : plan.candidates) by_id[images[c.image].id.back()] = c.eligibility;
  EXPECT_EQ(by_id.at('a'), Eligibility::dangling);
  EXPECT_EQ(by_id.at('b'), Eligibility::untagged);
  EXPECT_EQ(by_id.at('c'), Eligibility::not_desired);
  EXPECT_THAT(explain(plan.candidates[0], images), HasSubstr("least recently active: created"));
}

// --- ordering ---------------------------------------------------------------

TEST(GcOrdering, LeastRecentlyUsedFirst) {
  std::vector<GcImage> images{image('a', {"a:1"}), image('b', {"b:1"}), image('c', {"c:1"})};
  images[0].last_used = now - 2h;
  images[1].last_used = now - 200h;
  images[2].last_used = now - 20h;
  GcPlan plan = plan_of(images, {}, full, {.low_percent = 0});
  EXPECT_THAT(candidate_ids(plan, images),
              ElementsAre(image_id('b'), image_id('c'), image_id('a')));
  EXPECT_EQ(plan.candidates[0].source, ActivitySource::used);
}

TEST(GcOrdering, CreatedWhenNothingBetterIsKnown) {
  // b was built long ago and nothing since is known: it goes before a, which
  // was used more recently than b was built.
  std::vector<GcImage> images{image('a', {"a:1"}), image('b', {"b:1"})};
  images[0].created = now - 1000h;
  images[0].last_used = now - 100h;
  images[1].created = now - 500h;
  GcPlan plan = plan_of(images, {}, full, {.low_percent = 0});
  EXPECT_THAT(candidate_ids(plan, images), ElementsAre(image_id('b'), image_id('a')));
  EXPECT_EQ(plan.candidates[0].source, ActivitySource::created);
}

TEST(GcOrdering, FirstListedCountsWhenLaterThanLastUse) {
  std::vector<GcImage> images{image('a', {"a:1"}), image('b', {"b:1"})};
  images[0].last_used = now - 300h;
  images[0].first_listed = now - 10h;
  images[1].last_used = now - 100h;
  GcPlan plan = plan_of(images, {}, full, {.low_percent = 0});
  EXPECT_THAT(candidate_ids(plan, images), ElementsAre(image_id('b'), image_id('a')));
  EXPECT_EQ(plan.candidates[1].source, ActivitySource::listed);
}

TEST(GcOrdering, TiesByCreatedThenId) {
  std::vector<GcImage> images{image('c', {"c:1"}), image('b', {"b:1"}), image('a', {"a:1"})};
  for (GcImage& i : images) i.last_used = now - 10h;
  images[0].created = now - 900h;  // c: built first
  GcPlan plan = plan_of(images, {}, full, {.low_percent = 0});
  EXPECT_THAT(candidate_ids(plan, images),
              ElementsAre(image_id('c'), image_id('a'), image_id('b')));
}

// --- thresholds -------------------------------------------------------------

TEST(GcThresholds, AtHighDoesNotTrigger) {
  std::vector<GcImage> images{image('a', {"a:1"})};
  GcPlan plan = plan_of(images, {}, used(85 * gib, 100 * gib));
  EXPECT_FALSE(plan.triggered);
  EXPECT_THAT(plan.candidates, IsEmpty());
  EXPECT_EQ(kept_rules(plan, images).at('a'), KeepRule::not_needed);
  EXPECT_THAT(explain(plan.kept[0], plan, images, {}, {}),
              HasSubstr("usage 85GiB of 100GiB is not above --gc-high 85%"));
}

TEST(GcThresholds, OneByteAboveHighTriggers) {
  std::vector<GcImage> images{image('a', {"a:1"})};
  GcPlan plan = plan_of(images, {}, used(85 * gib + 1, 100 * gib));
  EXPECT_TRUE(plan.triggered);
  EXPECT_THAT(candidate_ids(plan, images), ElementsAre(image_id('a')));
}

TEST(GcThresholds, CustomThresholds) {
  std::vector<GcImage> images{image('a', {"a:1"}, 5 * gib), image('b', {"b:1"}, 5 * gib)};
  GcOptions options;
  options.high_percent = 50;
  options.low_percent = 48;
  GcPlan plan = plan_of(images, {}, used(51 * gib, 100 * gib), options);
  EXPECT_TRUE(plan.triggered);
  EXPECT_EQ(plan.candidates.size(), 1u);
  EXPECT_EQ(plan.used_after_bytes, 46 * gib);
}

TEST(GcThresholds, NotEnoughEligibleSaysSo) {
  std::vector<GcImage> images{image('a', {"a:1"}, 1 * gib)};
  GcPlan plan = plan_of(images, {});
  EXPECT_EQ(plan.candidates.size(), 1u);
  EXPECT_EQ(plan.used_after_bytes, 89 * gib);
  EXPECT_GE(plan.used_after_bytes, plan.low_bytes);
}

TEST(GcThresholds, UnknownDiskNeverTriggers) {
  std::vector<GcImage> images{image('a', {"a:1"})};
  GcPlan plan = plan_of(images, {}, used(0, 0));
  EXPECT_FALSE(plan.triggered);
}

TEST(GcThresholds, MoreFreeThanSizeIsNoUsage) {
  std::vector<GcImage> images{image('a', {"a:1"})};
  GcPlan plan = plan_of(images, {}, {.free_bytes = 200 * gib, .size_bytes = 100 * gib});
  EXPECT_EQ(plan.used_bytes, 0u);
  EXPECT_FALSE(plan.triggered);
}

TEST(GcThresholds, HugeDisksDoNotOverflow) {
  const std::uint64_t total = 18'000'000'000'000'000'000ULL;
  std::vector<GcImage> images{image('a', {"a:1"})};
  GcPlan plan = plan_of(images, {}, used(total, total));
  EXPECT_EQ(plan.high_bytes, 15'300'000'000'000'000'000ULL);
  EXPECT_TRUE(plan.triggered);
}

// --- modes ------------------------------------------------------------------

TEST(GcModes, DryRunPlansButDoesNotRemove) {
  std::vector<GcImage> images{image('a', {"a:1"})};
  GcPlan plan = plan_of(images, {});
  EXPECT_TRUE(plan.triggered);
  EXPECT_FALSE(plan.remove);
  EXPECT_EQ(plan.candidates.size(), 1u);
}

TEST(GcModes, OnRemoves) {
  std::vector<GcImage> images{image('a', {"a:1"})};
  GcOptions options;
  options.mode = GcMode::on;
  GcPlan plan = plan_of(images, {}, full, options);
  EXPECT_TRUE(plan.remove);
}

TEST(GcModes, OffPlansNothing) {
  std::vector<GcImage> images{image('a', {"a:1"})};
  GcOptions options;
  options.mode = GcMode::off;
  GcPlan plan = plan_of(images, {}, full, options);
  EXPECT_FALSE(plan.triggered);
  EXPECT_FALSE(plan.remove);
  EXPECT_THAT(plan.candidates, IsEmpty());
  EXPECT_THAT(plan.kept, IsEmpty());
}

// --- options ----------------------------------------------------------------

TEST(GcOptionsParse, Defaults) {
  auto options = parse_gc_options({});
  ASSERT_TRUE(options) << options.error().message;
  EXPECT_EQ(options->mode, GcMode::dry_run);
  EXPECT_EQ(options->high_percent, 85u);
  EXPECT_EQ(options->low_percent, 75u);
  EXPECT_EQ(options->min_age, std::chrono::milliseconds(1h));
}

TEST(GcOptionsParse, Values) {
  auto options = parse_gc_options({.mode = "on", .high = "90%", .low = "0", .min_age = "30m"});
  ASSERT_TRUE(options) << options.error().message;
  EXPECT_EQ(options->mode, GcMode::on);
  EXPECT_EQ(options->high_percent, 90u);
  EXPECT_EQ(options->low_percent, 0u);
  EXPECT_EQ(options->min_age, std::chrono::milliseconds(30min));
  EXPECT_EQ(gc_mode_name(options->mode), "on");
}

std::string error_of(GcOptionText text) {
  auto options = parse_gc_options(text);
  return options ? "" : options.error().message;
}

TEST(GcOptionsParse, Errors) {
  EXPECT_EQ(error_of({.mode = "yes"}), "--gc: expected off, dry-run or on, got 'yes'");
  EXPECT_EQ(error_of({.high = "101"}),
            "--gc-high: expected a whole percentage from 0 to 100, got '101'");
  EXPECT_EQ(error_of({.high = "8.5"}),
            "--gc-high: expected a whole percentage from 0 to 100, got '8.5'");
  EXPECT_EQ(error_of({.low = ""}), "--gc-low: expected a whole percentage from 0 to 100, got ''");
  EXPECT_EQ(error_of({.low = "-1"}),
            "--gc-low: expected a whole percentage from 0 to 100, got '-1'");
  EXPECT_EQ(error_of({.high = "75", .low = "75"}), "--gc-low (75%) must be below --gc-high (75%)");
  EXPECT_EQ(error_of({.high = "70"}), "--gc-low (75%) must be below --gc-high (70%)");
  EXPECT_EQ(error_of({.min_age = "an hour"}),
            "--gc-min-age: expected a duration such as 1h, 30m or 90s, got 'an hour'");
}

}  // namespace
}  // namespace swarm_prepull::agent
