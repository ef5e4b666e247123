// What the agent remembers for GC between passes: when it first listed each
// image, when it last saw a container made from it, and its totals.
#include <gtest/gtest.h>

#include "agent/gc_activity.h"

namespace swarm_prepull::agent {
namespace {

using namespace std::chrono_literals;

const WallTime start = WallTime{std::chrono::sys_days{std::chrono::year{2026} / 12 / 2}} + 7h;

reconcile::Image listed(std::string id, std::int64_t created = 1000) {
  return {.id = std::move(id),
          .repo_tags = {"a:" + std::to_string(created)},
          .size = 5,
          .created = created,
          .labels = {{"k", "v"}}};
}

TEST(GcActivity, ImagesOfTheFirstPassHaveNoListingTime) {
  GcActivity activity;
  const std::vector images = {listed("sha256:1")};
  activity.observe(images, {}, start);
  const auto gc = activity.gc_images(images);
  ASSERT_EQ(gc.size(), 1u);
  EXPECT_EQ(gc[0].first_listed, std::nullopt);
  EXPECT_EQ(gc[0].last_used, std::nullopt);
  EXPECT_EQ(gc[0].created, WallTime(1000s));
  EXPECT_EQ(gc[0].labels.at("k"), "v");
}

TEST(GcActivity, AnImageKeepsItsFirstListingAndGetsLaterUses) {
  GcActivity activity;
  std::vector images = {listed("sha256:1")};
  activity.observe(images, {}, start);
  images.push_back(listed("sha256:2"));  // pulled between two passes
  activity.observe(images, {"sha256:1"}, start + 30s);
  activity.observe(images, {}, start + 60s);  // its container was removed
  const auto gc = activity.gc_images(images);
  EXPECT_EQ(gc[0].first_listed, std::nullopt);
  EXPECT_EQ(gc[0].last_used, start + 30s);
  EXPECT_EQ(gc[1].first_listed, start + 30s);
  EXPECT_EQ(gc[1].last_used, std::nullopt);
}

TEST(GcActivity, AnImageThatWentAndCameBackIsNewAgain) {
  GcActivity activity;
  activity.observe({listed("sha256:1")}, {}, start);
  activity.observe({}, {}, start + 10s);
  const std::vector again = {listed("sha256:1")};
  activity.observe(again, {}, start + 20s);
  EXPECT_EQ(activity.gc_images(again)[0].first_listed, start + 20s);
}

TEST(GcActivity, DryRunCountsEachCandidateOnceWhileItIsListed) {
  GcActivity activity;
  activity.observe({listed("sha256:1")}, {}, start);
  EXPECT_TRUE(activity.first_candidacy("sha256:1"));
  EXPECT_FALSE(activity.first_candidacy("sha256:1"));
  activity.observe({}, {}, start + 10s);  // removed by hand: counted again if it comes back
  activity.observe({listed("sha256:1")}, {}, start + 20s);
  EXPECT_TRUE(activity.first_candidacy("sha256:1"));
}

TEST(GcActivity, SummaryAddsUpPasses) {
  GcActivity activity;
  GcPlan plan;
  plan.mode = GcMode::on;
  plan.candidates.resize(2);
  plan.candidate_bytes = 30;
  activity.record_pass(plan, 2, 30);
  plan.candidates.clear();
  plan.candidate_bytes = 0;
  activity.record_pass(plan, 0, 0);
  const auto& summary = activity.summary();
  EXPECT_EQ(summary.mode, "on");
  EXPECT_EQ(summary.candidates, 0u);
  EXPECT_EQ(summary.candidate_bytes, 0u);
  EXPECT_EQ(summary.removed_images, 2u);
  EXPECT_EQ(summary.reclaimed_bytes, 30u);
}

TEST(GcActivity, InUseIsTheContainersImageIds) {
  const auto ids = images_in_use({{.id = "c1", .image_id = "sha256:1", .state = "running"},
                                  {.id = "c2", .image_id = "sha256:2", .state = "exited"},
                                  {.id = "c3", .image_id = "", .state = "created"}});
  EXPECT_EQ(ids, (std::unordered_set<std::string>{"sha256:1", "sha256:2"}));
}

}  // namespace
}  // namespace swarm_prepull::agent
