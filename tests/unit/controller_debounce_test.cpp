// When an event's pass runs: the leading edge of the debounce (issue 15,
// "React at once").
#include <gtest/gtest.h>

#include <chrono>

#include "controller/controller.h"

namespace swarm_prepull::controller {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kDebounce{150};
const Clock::time_point kStart = Clock::time_point{} + std::chrono::hours(1);

TEST(EventPassDue, AnEventAfterAQuietSpellIsReconciledAtOnce) {
  const auto last_pass = kStart;
  const auto now = kStart + milliseconds(400);
  EXPECT_EQ(event_pass_due(now, last_pass, kDebounce), now);
}

TEST(EventPassDue, AnEventExactlyAWindowAfterThePassIsAlsoAtOnce) {
  const auto now = kStart + kDebounce;
  EXPECT_EQ(event_pass_due(now, kStart, kDebounce), now);
}

TEST(EventPassDue, EventsWithinTheWindowCoalesceIntoOnePassAtItsEnd) {
  // The pass that the burst's first event started began at kStart.
  const auto window_end = kStart + kDebounce;
  for (const auto offset :
       {milliseconds(0), milliseconds(1), milliseconds(80), milliseconds(149)}) {
    EXPECT_EQ(event_pass_due(kStart + offset, kStart, kDebounce), window_end) << offset.count();
  }
}

TEST(EventPassDue, ControllerThatHasNotReconciledYetReactsAtOnce) {
  // last_event_pass_started_ starts at the clock's epoch.
  EXPECT_EQ(event_pass_due(kStart, Clock::time_point{}, kDebounce), kStart);
}

}  // namespace
}  // namespace swarm_prepull::controller
