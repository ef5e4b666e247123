// Pull once per cluster, without I/O: which copies into a cache are due, what
// nodes are told meanwhile (no pull while the copy runs, then `via`), and a
// failed copy leaving the nodes to the origin.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/cache_fills.h"
#include "controller/state.h"
#include "tests/unit/controller_test_support.h"

namespace swarm_prepull::controller {
namespace {

using namespace std::chrono_literals;
using swarm_prepull::testing::test_node;
using swarm_prepull::testing::test_service;
using ::testing::HasSubstr;
using TimePoint = CacheFills::TimePoint;

const std::string kDigest = "sha256:" + std::string(64, 'a');
const std::string kOther = "sha256:" + std::string(64, 'b');
const std::string kPinned = "origin.test/team/app@" + kDigest;
const std::string kTagged = "origin.test/team/web:1";
const std::string kElsewhere = "other.test/tool@" + kOther;

CacheFills fills() {
  return CacheFills({parse_pull_through("origin.test=http://10.0.0.5:5000").value()}, 60s, 5min);
}

TEST(CacheFillsTest, PullThroughNamesBothRegistries) {
  auto route = parse_pull_through("docker.io=http://10.0.0.5:5000");
  ASSERT_TRUE(route) << route.error().message;
  EXPECT_EQ(route->origin.host, "docker.io");
  EXPECT_FALSE(route->origin.plain_http);
  EXPECT_EQ(route->cache.host, "10.0.0.5:5000");
  EXPECT_TRUE(route->cache.plain_http);
  EXPECT_EQ(parse_pull_through("index.docker.io=cache:5000")->origin.host, "docker.io");
  EXPECT_THAT(parse_pull_through("docker.io").error().message, HasSubstr("expected ORIGIN=CACHE"));
  EXPECT_THAT(parse_pull_through("docker.io=a/b").error().message,
              HasSubstr("--pull-through cache: registry \"a/b\""));
  EXPECT_THAT(parse_pull_through("=cache:5000").error().message,
              HasSubstr("--pull-through origin"));
  EXPECT_THAT(parse_pull_through("r:5000=http://r:5000").error().message,
              HasSubstr("the cache is the origin itself"));
}

TEST(CacheFillsTest, TheCacheMustReadAsARegistryInAnImageReference) {
  // "cache/app@..." would be Docker Hub's repository cache/app.
  EXPECT_THAT(parse_pull_through("docker.io=http://cache").error().message,
              HasSubstr("not a registry host an image reference can name"));
  // An agent's decoder would refuse the whole desired set for one such name.
  EXPECT_THAT(parse_pull_through("docker.io=my_cache:5000").error().message,
              HasSubstr("--pull-through cache \"my_cache:5000\""));
  EXPECT_TRUE(parse_pull_through("docker.io=http://cache:5000"));
  EXPECT_TRUE(parse_pull_through("docker.io=cache.internal"));
  EXPECT_TRUE(parse_pull_through("docker.io=http://localhost"));
}

TEST(CacheFillsTest, OnlyImagesOfARoutedOriginWithAKnownDigestAreCopied) {
  auto table = fills();
  const TimePoint now{};
  const CacheWants wanted = {{kPinned, {kDigest}}, {kTagged, {""}}, {kElsewhere, {kOther}}};
  const auto due = table.start_due(wanted, now, 4);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].repository, "team/app");
  EXPECT_EQ(due[0].digest, kDigest);
  EXPECT_TRUE(table.start_due(wanted, now, 4).empty()) << "under way: not started twice";

  auto view = table.view(wanted);
  EXPECT_EQ(view.filling, (std::set<std::string, std::less<>>{kPinned}));
  EXPECT_TRUE(view.via.empty());

  table.finished(due[0], kDigest, now);
  view = table.view(wanted);
  EXPECT_TRUE(view.filling.empty());
  EXPECT_EQ(view.via.at(kPinned), "10.0.0.5:5000/team/app@" + kDigest);
  EXPECT_EQ(table.filled(), 1u);
}

TEST(CacheFillsTest, ATagOfACachedOriginWaitsForItsDigestRatherThanGoingToTheOrigin) {
  auto table = fills();
  const std::string elsewhere_tag = "other.test/tool:2";
  const CacheWants resolving = {{kTagged, {"", reconcile::PullPriority::current, true}},
                                {elsewhere_tag, {"", reconcile::PullPriority::current, true}}};
  EXPECT_TRUE(table.start_due(resolving, TimePoint{}, 4).empty()) << "nothing to copy yet";
  EXPECT_EQ(table.view(resolving).filling, (std::set<std::string, std::less<>>{kTagged}))
      << "held while its digest is asked for; a registry without a cache is not held";
  EXPECT_TRUE(table.routed(kTagged));
  EXPECT_FALSE(table.routed(elsewhere_tag));

  // Resolution failed (or the refresh is off): the origin serves it at once.
  const CacheWants unknown = {{kTagged, {""}}};
  EXPECT_TRUE(table.view(unknown).filling.empty());

  // Resolved: copied, then pulled from the cache by that digest.
  const CacheWants resolved = {{kTagged, {kDigest}}};
  const auto due = table.start_due(resolved, TimePoint{}, 4);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].repository, "team/web");
  table.finished(due[0], kDigest, TimePoint{});
  EXPECT_EQ(table.view(resolved).via.at(kTagged), "10.0.0.5:5000/team/web@" + kDigest);
}

TEST(CacheFillsTest, AFailedCopyLeavesNodesToTheOriginAndIsRetriedLater) {
  auto table = fills();
  const TimePoint start{};
  const CacheWants wanted = {{kPinned, {kDigest}}};
  const auto due = table.start_due(wanted, start, 4);
  ASSERT_EQ(due.size(), 1u);
  table.finished(due[0], std::nullopt, start);
  const auto view = table.view(wanted);
  EXPECT_TRUE(view.filling.empty()) << "nodes pull from the origin";
  EXPECT_TRUE(view.via.empty());
  EXPECT_TRUE(table.start_due(wanted, start + 59s, 4).empty());
  EXPECT_EQ(table.start_due(wanted, start + 60s, 4).size(), 1u);
}

TEST(CacheFillsTest, ACopyDoneIsCheckedAgainWhileNodesKeepPullingThroughTheCache) {
  auto table = fills();
  const TimePoint start{};
  const CacheWants wanted = {{kPinned, {kDigest}}};
  const auto first = table.start_due(wanted, start, 4);
  ASSERT_EQ(first.size(), 1u);
  table.finished(first[0], kDigest, start + 10s);
  EXPECT_FALSE(table.checking(first[0]).has_value());
  EXPECT_TRUE(table.start_due(wanted, start + 10s + 299s, 4).empty()) << "not due yet";

  const auto check = table.start_due(wanted, start + 10s + 5min, 4);
  ASSERT_EQ(check.size(), 1u) << "due again 5 min after it was done";
  EXPECT_EQ(check[0], first[0]);
  EXPECT_EQ(table.checking(check[0]), kDigest) << "by the digest the cache holds";
  EXPECT_EQ(table.in_flight(), 1u) << "a check takes a copy's slot";
  EXPECT_TRUE(table.start_due(wanted, start + 20min, 4).empty()) << "under way: not twice";
  const auto view = table.view(wanted);
  EXPECT_TRUE(view.filling.empty()) << "no node is held for a check";
  EXPECT_EQ(view.via.at(kPinned), "10.0.0.5:5000/team/app@" + kDigest);
  EXPECT_EQ(table.filled(), 1u);

  table.finished(check[0], kDigest, start + 20min);
  EXPECT_FALSE(table.checking(check[0]).has_value());
  EXPECT_TRUE(table.start_due(wanted, start + 24min, 4).empty()) << "the next check 5 min on";
  EXPECT_EQ(table.start_due(wanted, start + 25min, 4).size(), 1u);
}

TEST(CacheFillsTest, ACheckThatFailsLeavesNodesToTheOriginUntilACopySucceeds) {
  auto table = fills();
  const TimePoint start{};
  const CacheWants wanted = {{kPinned, {kDigest}}};
  table.finished(table.start_due(wanted, start, 4).at(0), kDigest, start);
  const auto check = table.start_due(wanted, start + 5min, 4);
  ASSERT_EQ(check.size(), 1u);
  table.finished(check[0], std::nullopt, start + 5min);
  const auto view = table.view(wanted);
  EXPECT_TRUE(view.via.empty()) << "the cache failed its check: the origin serves the nodes";
  EXPECT_TRUE(view.filling.empty());
  EXPECT_EQ(table.filled(), 0u);
  EXPECT_EQ(table.retry_in(check[0], start + 5min), 60s);
  const auto retry = table.start_due(wanted, start + 6min, 4);
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_FALSE(table.checking(retry[0]).has_value()) << "a copy again: nodes wait for it";
  EXPECT_EQ(table.view(wanted).filling.size(), 1u);
}

TEST(CacheFillsTest, CopiesFailingInARowWaitLongerEachTime) {
  auto table = fills();
  const CacheWants wanted = {{kPinned, {kDigest}}};
  TimePoint now{};
  std::vector<std::chrono::milliseconds> waits;
  for (int attempt = 0; attempt < 8; ++attempt) {
    const auto due = table.start_due(wanted, now, 4);
    ASSERT_EQ(due.size(), 1u) << "attempt " << attempt;
    table.finished(due[0], std::nullopt, now);
    waits.push_back(*table.retry_in(due[0], now));
    EXPECT_TRUE(table.start_due(wanted, now + waits.back() - 1ms, 4).empty());
    now += waits.back();
  }
  using std::chrono::minutes;
  EXPECT_EQ(waits, (std::vector<std::chrono::milliseconds>{minutes(1), minutes(2), minutes(4),
                                                           minutes(8), minutes(16), minutes(32),
                                                           minutes(32), minutes(32)}));
  const auto due = table.start_due(wanted, now, 4);
  ASSERT_EQ(due.size(), 1u);
  table.finished(due[0], kDigest, now);
  EXPECT_EQ(table.retry_in(due[0], now), std::nullopt);
}

TEST(CacheFillsTest, TheMostUrgentImagesAreCopiedFirst) {
  auto table = fills();
  using reconcile::PullPriority;
  const std::string declared = "origin.test/a/declared@" + kDigest;
  const std::string previous = "origin.test/b/previous@" + kDigest;
  const std::string updating = "origin.test/z/updating@" + kDigest;
  const CacheWants wanted = {{declared, {kDigest, PullPriority::declared}},
                             {previous, {kDigest, PullPriority::previous}},
                             {updating, {kDigest, PullPriority::urgent}}};
  const auto first = table.start_due(wanted, {}, 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].repository, "z/updating") << "the service being updated, before the names";
  table.finished(first[0], kDigest, {});
  const auto second = table.start_due(wanted, {}, 1);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].repository, "b/previous");
}

TEST(CacheFillsTest, CopiesUnderWayAreBounded) {
  auto table = fills();
  CacheWants wanted;
  for (char c : std::string("abcde")) {
    wanted["origin.test/team/" + std::string(1, c) + "@" + kDigest] = {kDigest};
  }
  const auto first = table.start_due(wanted, {}, 2);
  EXPECT_EQ(first.size(), 2u);
  EXPECT_EQ(table.start_due(wanted, {}, 2).size(), 0u);
  EXPECT_EQ(table.in_flight(), 2u);
  EXPECT_EQ(table.view(wanted).filling.size(), 5u) << "the 3 waiting for a slot are held too";
  table.finished(first[0], kDigest, {});
  EXPECT_EQ(table.start_due(wanted, {}, 2).size(), 1u) << "a slot came free";
}

TEST(CacheFillsTest, ImagesNoLongerWantedAreForgotten) {
  auto table = fills();
  const CacheWants wanted = {{kPinned, {kDigest}}};
  const auto due = table.start_due(wanted, {}, 2);
  ASSERT_EQ(due.size(), 1u);
  table.finished(due[0], kDigest, {});
  EXPECT_EQ(table.filled(), 1u);
  EXPECT_TRUE(table.start_due({}, {}, 2).empty());
  EXPECT_EQ(table.filled(), 0u);
  EXPECT_EQ(table.start_due(wanted, {}, 2).size(), 1u) << "wanted again: copied again (a HEAD)";
}

TEST(CacheFillsTest, NoNodeIsGrantedAnImageBeingCopiedAndThenEveryNodeGetsItsCacheName) {
  State state(StateOptions{.max_parallel_node_pulls = 0,
                           .max_pulls_per_registry = 1,
                           .registry_backoff_base = 5s,
                           .registry_backoff_max = 40s,
                           .agent_stale_after = 90s,
                           .wall_ms = [] { return std::uint64_t{1000}; }});
  std::vector<reconcile::Node> nodes;
  for (int i = 1; i <= 3; ++i) {
    nodes.push_back(test_node("id" + std::to_string(i), "node-" + std::to_string(i)));
  }
  const auto plan = [&] {
    return reconcile::desired_images(nodes, {test_service("app", kPinned)});
  };
  CacheView copying;
  copying.filling.insert(kPinned);
  state.stage_cache_view(copying);
  state.set_plan(plan());
  for (int i = 1; i <= 3; ++i) {
    const auto& image = state.desired("id" + std::to_string(i))->images.at(0);
    EXPECT_FALSE(image.pull) << "node " << i << " waits for the copy";
    EXPECT_TRUE(image.via.empty());
  }

  CacheView copied;
  copied.via[kPinned] = "10.0.0.5:5000/team/app@" + kDigest;
  const auto changes = state.set_cache_view(copied);
  EXPECT_EQ(changes.bumped_nodes.size(), 3u);
  int pulling = 0;
  for (int i = 1; i <= 3; ++i) {
    const auto& image = state.desired("id" + std::to_string(i))->images.at(0);
    EXPECT_EQ(image.via, copied.via[kPinned]);
    pulling += image.pull ? 1 : 0;
  }
  EXPECT_EQ(pulling, 1) << "the registry cap still holds: the copy took no slot";
  EXPECT_TRUE(state.set_cache_view(copied).bumped_nodes.empty()) << "no change, no bump";
}

}  // namespace
}  // namespace swarm_prepull::controller
