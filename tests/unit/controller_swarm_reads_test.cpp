// What a pass reads from the engine (controller/swarm_reads.h): what events
// named, and every list when no event asked or a resync is due.
#include <gtest/gtest.h>

#include <chrono>

#include "controller/swarm_reads.h"

namespace swarm_prepull::controller {
namespace {

using std::chrono::milliseconds;
using Clock = DueReads::Clock;

constexpr milliseconds kResync{30'000};
const Clock::time_point kStart = Clock::time_point{} + std::chrono::hours(1);

SwarmReads services_only() {
  SwarmReads reads;
  reads.services = true;
  return reads;
}

// A DueReads whose first (full) pass started at kStart and succeeded.
DueReads after_a_full_pass() {
  DueReads due(kResync);
  EXPECT_EQ(due.take(kStart, false), SwarmReads::all());
  due.pass_ended(SwarmReads::all(), true);
  return due;
}

TEST(SwarmReads, EachFollowedEventTypeNamesItsList) {
  EXPECT_EQ(SwarmReads::for_event("service"), services_only());
  EXPECT_TRUE(SwarmReads::for_event("node").nodes);
  EXPECT_FALSE(SwarmReads::for_event("node").services);
  EXPECT_TRUE(SwarmReads::for_event("config").configs);
  EXPECT_FALSE(SwarmReads::for_event("config").tasks);
  // A type the controller does not follow could have changed anything.
  EXPECT_EQ(SwarmReads::for_event("secret"), SwarmReads::all());
  EXPECT_EQ(SwarmReads::for_event(""), SwarmReads::all());
}

TEST(SwarmReads, NamesTheListsItReads) {
  EXPECT_EQ(to_string(SwarmReads::all()), "nodes,services,tasks,configs");
  SwarmReads reads = services_only();
  reads |= SwarmReads::for_event("config");
  EXPECT_EQ(to_string(reads), "services,configs");
  EXPECT_EQ(to_string(SwarmReads{}), "");
}

TEST(DueReads, SaysWhetherEventsMarkedReadsNoPassTookYet) {
  // What the controller's debounce counts: a pass that took events' reads.
  DueReads due = after_a_full_pass();
  EXPECT_FALSE(due.marked());
  due.mark(services_only());
  EXPECT_TRUE(due.marked());
  const auto reads = due.take(kStart + milliseconds(500), true);
  EXPECT_FALSE(due.marked());
  due.pass_ended(reads, false);  // a failed pass's reads are due again
  EXPECT_TRUE(due.marked());
}

TEST(DueReads, APassWithoutASnapshotReadsEveryList) {
  // No resync is due: only the missing snapshot makes this pass full.
  DueReads due = after_a_full_pass();
  due.mark(services_only());
  EXPECT_EQ(due.take(kStart + milliseconds(500), false), SwarmReads::all());
}

TEST(DueReads, AnEventsPassReadsOnlyWhatTheEventsNamed) {
  DueReads due = after_a_full_pass();
  due.mark(services_only());
  due.mark(SwarmReads::for_event("node"));
  SwarmReads expected = services_only();
  expected.nodes = true;
  EXPECT_EQ(due.take(kStart + milliseconds(500), true), expected);
  due.pass_ended(expected, true);
  // Nothing is left due: the next pass no one asked for reads everything.
  EXPECT_EQ(due.take(kStart + milliseconds(900), true), SwarmReads::all());
}

TEST(DueReads, APassNoOneAskedForReadsEveryList) {
  // Before the resync is due: only the missing marks make this pass full.
  DueReads due = after_a_full_pass();
  EXPECT_EQ(due.take(kStart + milliseconds(1000), true), SwarmReads::all());
}

TEST(DueReads, AnEventGoesBeforeADueResyncWhichFollowsAtOnce) {
  DueReads due = after_a_full_pass();
  EXPECT_EQ(due.full_read_at(), kStart + kResync);
  due.mark(services_only());
  const auto event_pass = due.take(kStart + kResync, true);
  EXPECT_EQ(event_pass, services_only());
  due.pass_ended(event_pass, true);
  EXPECT_EQ(due.full_read_at(), kStart + kResync);  // still due: the caller's timer fires now
  // Another event meanwhile does not put it off again.
  due.mark(services_only());
  const auto resync = due.take(kStart + kResync + milliseconds(20), true);
  EXPECT_EQ(resync, SwarmReads::all());
  due.pass_ended(resync, true);
  EXPECT_EQ(due.full_read_at(), kStart + kResync + milliseconds(20) + kResync);
  // The next event's pass, the resync no longer due, reads its list alone.
  due.mark(services_only());
  EXPECT_EQ(due.take(kStart + kResync + milliseconds(500), true), services_only());
}

TEST(DueReads, AFailedEventsPassBeforeADueFullReadIsFollowedByTheFullRead) {
  DueReads due = after_a_full_pass();
  due.mark_all_at(kStart + milliseconds(1000));
  due.mark(services_only());
  const auto event_pass = due.take(kStart + milliseconds(1000), true);
  ASSERT_EQ(event_pass, services_only());
  due.pass_ended(event_pass, false);
  EXPECT_EQ(due.take(kStart + milliseconds(1100), true), SwarmReads::all());
}

TEST(DueReads, ATasksReadMakesTheDueFullReadAtOnce) {
  // Listing the tasks is what the full read costs: a pass that lists them
  // anyway puts nothing off.
  DueReads due = after_a_full_pass();
  due.mark_all_at(kStart + milliseconds(1000));
  SwarmReads tasks_only;
  tasks_only.tasks = true;
  due.mark(tasks_only);
  EXPECT_EQ(due.take(kStart + milliseconds(1000), true), SwarmReads::all());
}

TEST(DueReads, AnEventOfAnUnfollowedTypeMakesTheDueFullReadAtOnce) {
  DueReads due = after_a_full_pass();
  due.mark_all_at(kStart + milliseconds(1000));
  due.mark(SwarmReads::for_event("secret"));
  const auto reads = due.take(kStart + milliseconds(1000), true);
  ASSERT_EQ(reads, SwarmReads::all());
  due.pass_ended(reads, true);
  EXPECT_EQ(due.full_read_at(), kStart + milliseconds(1000) + kResync);
}

TEST(DueReads, EventsCannotPutTheFullReadOff) {
  DueReads due = after_a_full_pass();
  // An event every second: the partial passes leave the resync where it was.
  for (int second = 1; second < 30; ++second) {
    due.mark(services_only());
    const auto reads = due.take(kStart + std::chrono::seconds(second), true);
    ASSERT_EQ(reads, services_only()) << second;
    due.pass_ended(reads, true);
    ASSERT_EQ(due.full_read_at(), kStart + kResync) << second;
  }
  // At the resync the event's pass goes first, and the full read follows
  // whatever came meanwhile.
  due.mark(services_only());
  const auto event_pass = due.take(kStart + std::chrono::seconds(30), true);
  ASSERT_EQ(event_pass, services_only());
  due.pass_ended(event_pass, true);
  due.mark(services_only());
  EXPECT_EQ(due.take(kStart + milliseconds(30'010), true), SwarmReads::all());
}

TEST(DueReads, AFullReadAskedForLaterIsDueThenAndNotBefore) {
  DueReads due = after_a_full_pass();
  // A busy swarm's follow-up, a second from now.
  due.mark_all_at(kStart + milliseconds(1000));
  EXPECT_EQ(due.full_read_at(), kStart + milliseconds(1000));
  due.mark(services_only());
  // An event before it still reads only its list,
  const auto event_pass = due.take(kStart + milliseconds(200), true);
  EXPECT_EQ(event_pass, services_only());
  due.pass_ended(event_pass, true);
  // and the follow-up reads everything.
  EXPECT_EQ(due.take(kStart + milliseconds(1000), true), SwarmReads::all());
}

TEST(DueReads, AFailedPassLeavesItsReadsDue) {
  DueReads due = after_a_full_pass();
  due.mark(services_only());
  const auto reads = due.take(kStart + milliseconds(100), true);
  due.pass_ended(reads, false);
  SwarmReads node_event = SwarmReads::for_event("node");
  due.mark(node_event);
  SwarmReads both = services_only();
  both.nodes = true;
  EXPECT_EQ(due.take(kStart + milliseconds(300), true), both);
}

TEST(DueReads, AFailedFullPassIsFollowedByAFullOne) {
  DueReads due(kResync);
  due.pass_ended(due.take(kStart, false), false);
  EXPECT_EQ(due.take(kStart + milliseconds(100), true), SwarmReads::all());
}

TEST(DueReads, AFullReadAskedForDuringAFullPassIsNotLost) {
  DueReads due = after_a_full_pass();
  const auto reads = due.take(kStart + kResync, true);
  ASSERT_EQ(reads, SwarmReads::all());
  // The events stream reconnected while the pass read: events may be lost
  // after the pass's reads began.
  due.mark_all_at(kStart + kResync + milliseconds(50));
  due.pass_ended(reads, true);
  EXPECT_EQ(due.full_read_at(), kStart + kResync + milliseconds(50));
  // An event then goes first; the full read follows it.
  due.mark(services_only());
  const auto event_pass = due.take(kStart + kResync + milliseconds(60), true);
  ASSERT_EQ(event_pass, services_only());
  due.pass_ended(event_pass, true);
  EXPECT_EQ(due.take(kStart + kResync + milliseconds(70), true), SwarmReads::all());
}

TEST(DueReads, AFullPassBeforeAnEventsFollowUpDoesNotStandForIt) {
  DueReads due = after_a_full_pass();
  // A service event 29.5 s in: its own pass, and a full one a second later
  // for the tasks swarm starts after it.
  due.mark(services_only());
  due.mark_all_at(kStart + milliseconds(30'500));
  const auto event_pass = due.take(kStart + milliseconds(29'500), true);
  ASSERT_EQ(event_pass, services_only());
  due.pass_ended(event_pass, true);
  // The resync comes first, before swarm has started the tasks:
  const auto resync = due.take(kStart + kResync, true);
  ASSERT_EQ(resync, SwarmReads::all());
  due.pass_ended(resync, true);
  // the follow-up is still due.
  EXPECT_EQ(due.full_read_at(), kStart + milliseconds(30'500));
  EXPECT_EQ(due.take(kStart + milliseconds(30'500), true), SwarmReads::all());
}

TEST(DueReads, AFailedFullPassKeepsTheFullReadAskedFor) {
  DueReads due = after_a_full_pass();
  due.mark_all_at(kStart + milliseconds(1000));
  const auto reads = due.take(kStart + milliseconds(1000), true);
  ASSERT_EQ(reads, SwarmReads::all());
  due.pass_ended(reads, false);
  EXPECT_EQ(due.full_read_at(), kStart + milliseconds(1000));
  // The failed pass's lists are all due again: an event puts nothing off.
  due.mark(services_only());
  EXPECT_EQ(due.take(kStart + milliseconds(1200), true), SwarmReads::all());
}

TEST(DueReads, EachEventsFollowUpIsMadeThoughAnEarlierOneCameFirst) {
  DueReads due = after_a_full_pass();
  // Event A at 10 s asks for a full read at 11 s, event B at 10.8 s for 11.8 s.
  due.mark_all_at(kStart + milliseconds(11'000));
  due.mark_all_at(kStart + milliseconds(11'800));
  const auto first = due.take(kStart + milliseconds(11'000), true);
  ASSERT_EQ(first, SwarmReads::all());
  due.pass_ended(first, true);
  // A's follow-up made, B's is still due.
  EXPECT_EQ(due.full_read_at(), kStart + milliseconds(11'800));
  due.mark(services_only());
  EXPECT_EQ(due.take(kStart + milliseconds(11'500), true), services_only());
  EXPECT_EQ(due.take(kStart + milliseconds(11'800), true), SwarmReads::all());
}

}  // namespace
}  // namespace swarm_prepull::controller
