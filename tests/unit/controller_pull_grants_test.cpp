// Pull grants' full passes (controller/pull_grants.h): a pass keeps the pairs
// it set and drops the rest with their grants, whether the pair was added by
// a pass or by a report between passes; handles read the grant that settle()
// left; a starting task's pull takes a warming grant back when the caps are
// full. StateTest.IncrementalGrantsEqualGrantsFromScratch covers the caps'
// order through controller::State.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "controller/pull_grants.h"

namespace swarm_prepull::controller {
namespace {

using Input = PullGrants::Input;
using Pair = PullGrants::Pair;

const std::string kApp = "registry.example.com/team/app:1.0";
const std::string kDb = "registry.example.com/team/db:2.0";

PullGrants one_per_image() {
  PullGrantsOptions options;
  options.per_image = 1;
  return PullGrants(options);
}

TEST(PullGrants, APassDropsThePairsItDidNotSetAndHandsTheirGrantsOn) {
  auto grants = one_per_image();
  grants.begin_pass();
  grants.set("node-a", kApp, Input::other, false);
  grants.set("node-b", kApp, Input::other, false);
  grants.set("node-a", kDb, Input::other, false);
  grants.end_pass();
  EXPECT_EQ(grants.settle(), (std::vector<Pair>{{"node-a", kApp}, {"node-a", kDb}}));

  // node-a no longer wants app: its grant goes, and node-b takes the slot.
  grants.begin_pass();
  grants.set("node-b", kApp, Input::other, false);
  grants.set("node-a", kDb, Input::other, false);
  grants.end_pass();
  EXPECT_EQ(grants.settle(), (std::vector<Pair>{{"node-a", kApp}, {"node-b", kApp}}));
  EXPECT_FALSE(grants.granted("node-a", kApp));
  EXPECT_TRUE(grants.granted("node-b", kApp));
  EXPECT_TRUE(grants.granted("node-a", kDb));
}

TEST(PullGrants, APairSetTwiceInOnePassIsKeptAndTheOthersStillDropped) {
  auto grants = one_per_image();
  grants.begin_pass();
  grants.set("node-a", kApp, Input::other, false);
  grants.set("node-b", kApp, Input::other, false);
  grants.end_pass();
  grants.settle();

  grants.begin_pass();
  grants.set("node-b", kApp, Input::other, false);
  grants.set("node-b", kApp, Input::pulling, false);
  grants.end_pass();
  grants.settle();
  EXPECT_FALSE(grants.granted("node-a", kApp));
  EXPECT_TRUE(grants.granted("node-b", kApp));
  EXPECT_EQ(grants.grants_by_registry().at("registry.example.com"), 1U);
}

TEST(PullGrants, APairAddedBetweenPassesIsDroppedByAPassThatDoesNotSetIt) {
  auto grants = one_per_image();
  grants.begin_pass();
  grants.set("node-a", kApp, Input::present, false);
  grants.end_pass();
  grants.settle();
  grants.set("node-b", kApp, Input::other, false);  // as a report would
  grants.settle();
  EXPECT_TRUE(grants.granted("node-b", kApp));

  grants.begin_pass();
  grants.set("node-a", kApp, Input::present, false);
  grants.end_pass();
  EXPECT_EQ(grants.settle(), (std::vector<Pair>{{"node-b", kApp}}));
  EXPECT_FALSE(grants.granted("node-b", kApp));
  EXPECT_EQ(grants.grants_by_registry().at("registry.example.com"), 0U);
}

TEST(PullGrants, AnImageNoPassSetsIsForgotten) {
  auto grants = one_per_image();
  grants.begin_pass();
  grants.set("node-a", kApp, Input::other, false);
  grants.end_pass();
  grants.settle();
  grants.begin_pass();
  grants.end_pass();
  grants.settle();
  EXPECT_FALSE(grants.granted("node-a", kApp));
  EXPECT_TRUE(grants.grants_by_registry().empty());
}

TEST(PullGrants, AHandleReadsTheGrantSettleLeft) {
  auto grants = one_per_image();
  grants.begin_pass();
  const auto app = grants.image(kApp);
  EXPECT_EQ(app.ref(), kApp);
  const auto first = grants.set(app, "node-a", Input::other, false);
  const auto second = grants.set(app, "node-b", Input::other, false);
  grants.end_pass();
  EXPECT_FALSE(PullGrants::granted(first));  // nothing is handed out before settle()
  grants.settle();
  EXPECT_TRUE(PullGrants::granted(first));
  EXPECT_FALSE(PullGrants::granted(second));

  // A report of node-a's pull ending present hands the slot to node-b.
  grants.set("node-a", kApp, Input::present, false);
  grants.settle();
  EXPECT_FALSE(PullGrants::granted(first));
  EXPECT_TRUE(PullGrants::granted(second));
}

PullGrants capped(std::uint32_t per_image, std::uint32_t per_registry) {
  PullGrantsOptions options;
  options.per_image = per_image;
  options.per_registry = per_registry;
  return PullGrants(options);
}

// A rolling update on a capped registry: the first grant went to a node
// before swarm placed the first new task elsewhere. The task's pull takes the
// slot (its node's engine pulls anyway, and would share the registry with
// ours), the warming node waits, and gets the slot back when the task's image
// is in.
TEST(PullGrants, AStartingTaskTakesTheSlotOfAWarmingPull) {
  auto grants = capped(0, 1);
  grants.set("node-a", kApp, Input::pulling, false);
  grants.set("node-b", kApp, Input::other, false);
  grants.settle();
  ASSERT_TRUE(grants.granted("node-a", kApp));

  grants.set("node-b", kApp, Input::other, true);
  EXPECT_EQ(grants.settle(), (std::vector<Pair>{{"node-a", kApp}, {"node-b", kApp}}));
  EXPECT_FALSE(grants.granted("node-a", kApp));
  EXPECT_TRUE(grants.granted("node-b", kApp));
  EXPECT_EQ(grants.grants_by_registry().at("registry.example.com"), 1U);

  grants.set("node-b", kApp, Input::present, true);
  EXPECT_EQ(grants.settle(), (std::vector<Pair>{{"node-a", kApp}, {"node-b", kApp}}));
  EXPECT_TRUE(grants.granted("node-a", kApp));
}

TEST(PullGrants, APullNotStartedYetGivesItsSlotUpFirst) {
  auto grants = capped(0, 2);
  grants.set("node-a", kApp, Input::pulling, false);
  grants.set("node-b", kDb, Input::other, false);  // granted, not reported pulling yet
  grants.settle();
  grants.set("node-c", kApp, Input::other, true);
  grants.settle();
  EXPECT_TRUE(grants.granted("node-a", kApp));
  EXPECT_FALSE(grants.granted("node-b", kDb));
  EXPECT_TRUE(grants.granted("node-c", kApp));
}

TEST(PullGrants, AStartingTasksGrantIsNeverTakenBack) {
  auto grants = capped(0, 1);
  grants.set("node-a", kApp, Input::pulling, true);
  grants.settle();
  grants.set("node-b", kApp, Input::other, true);
  EXPECT_TRUE(grants.settle().empty());
  EXPECT_TRUE(grants.granted("node-a", kApp));
  EXPECT_FALSE(grants.granted("node-b", kApp));
}

// Under the image's own cap only a grant of that image frees a slot for it.
TEST(PullGrants, UnderTheImageCapOnlyThatImagesGrantIsTakenBack) {
  auto grants = capped(1, 0);
  grants.set("node-a", kApp, Input::pulling, false);
  grants.set("node-a", kDb, Input::other, false);
  grants.set("node-b", kApp, Input::other, false);
  grants.settle();
  grants.set("node-b", kApp, Input::other, true);
  grants.settle();
  EXPECT_FALSE(grants.granted("node-a", kApp));
  EXPECT_TRUE(grants.granted("node-a", kDb));
  EXPECT_TRUE(grants.granted("node-b", kApp));
}

}  // namespace
}  // namespace swarm_prepull::controller
