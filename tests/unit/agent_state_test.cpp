// The agent's decisions without I/O: what to pull, when to retry, what to report.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "agent/state.h"
#include "reconcile/plan.h"

namespace swarm_prepull::agent {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

class FixedRandom final : public RandomSource {
 public:
  double uniform01() override { return 0.0; }  // the lower bound: c/2
};

const std::string small = "10.0.0.1:5000/prepull/small:1";
const std::string medium = "10.0.0.1:5000/prepull/medium:1";
const std::string large = "10.0.0.1:5000/prepull/large:1";
const std::string pinned =
    "10.0.0.1:5000/prepull/pinned@sha256:"
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

DesiredSet set_of(std::uint64_t generation, std::vector<DesiredImage> images) {
  return {.node_id = "id1",
          .hostname = "node-1",
          .generation = generation,
          .images = std::move(images)};
}

class AgentStateTest : public ::testing::Test {
 protected:
  FixedRandom random_;
  AgentState state_{{.max_concurrent_pulls = 2}, random_};
  TimePoint t0_ = TimePoint{} + 1h;
  std::unordered_set<std::string> none_;
};

TEST_F(AgentStateTest, PullsOnlyWhatIsMissingAtMostTwoAtATime) {
  ASSERT_TRUE(state_.set_desired(
      set_of(1, {{small, true}, {medium, true}, {large, true}, {pinned, true}})));
  const auto counts = state_.observe_present({medium});
  EXPECT_EQ(counts.desired, 4u);
  EXPECT_EQ(counts.present, 1u);
  EXPECT_EQ(counts.missing, 3u);
  EXPECT_DOUBLE_EQ(state_.hit_ratio(), 0.25);

  EXPECT_THAT(state_.start_pulls(t0_, 100.0), ElementsAre(small, large));
  EXPECT_THAT(state_.start_pulls(t0_, 100.0), IsEmpty());  // the bound holds
  EXPECT_EQ(state_.in_flight(), 2u);

  const auto statuses = state_.statuses();
  ASSERT_EQ(statuses.size(), 4u);
  EXPECT_EQ(statuses[0].state, ImageState::pulling);
  EXPECT_EQ(statuses[0].since, 100.0);
  EXPECT_EQ(statuses[1].state, ImageState::present);
  EXPECT_EQ(statuses[3].state, ImageState::waiting);

  EXPECT_TRUE(state_.finish_pull(small, std::nullopt, {small, medium}, t0_).success);
  EXPECT_THAT(state_.start_pulls(t0_, 101.0), ElementsAre(pinned));
}

// When not every missing image can start, the most urgent go first; the
// set's order decides among equals.
TEST_F(AgentStateTest, PullsStartByPriorityThenInTheSetsOrder) {
  using reconcile::PullPriority;
  ASSERT_TRUE(state_.set_desired(set_of(1, {{.ref = large, .priority = PullPriority::declared},
                                            {.ref = medium, .priority = PullPriority::previous},
                                            {.ref = pinned, .priority = PullPriority::urgent},
                                            {.ref = small, .priority = PullPriority::current}})));
  state_.observe_present(none_);
  EXPECT_THAT(state_.start_pulls(t0_, 100.0), ElementsAre(pinned, small));
  EXPECT_TRUE(state_.finish_pull(pinned, std::nullopt, {pinned}, t0_).success);
  EXPECT_THAT(state_.start_pulls(t0_, 101.0), ElementsAre(medium));
}

// Live pulls first (issue 15): while swarm is starting a task here whose
// image is missing, nothing of lower priority starts; what it needs goes
// first among its equals.
TEST_F(AgentStateTest, AStartingTasksImageHoldsBackPullsOfLowerPriority) {
  using reconcile::PullPriority;
  ASSERT_TRUE(state_.set_desired(
      set_of(1, {{.ref = large, .priority = PullPriority::previous},
                 {.ref = medium, .priority = PullPriority::current},
                 {.ref = small, .priority = PullPriority::current, .starting = true},
                 {.ref = pinned, .priority = PullPriority::current}})));
  state_.observe_present(none_);
  EXPECT_THAT(state_.start_pulls(t0_, 100.0), ElementsAre(small, medium));
  EXPECT_TRUE(state_.finish_pull(medium, std::nullopt, {medium}, t0_).success);
  EXPECT_THAT(state_.start_pulls(t0_, 101.0), ElementsAre(pinned));
  EXPECT_TRUE(state_.finish_pull(pinned, std::nullopt, {medium, pinned}, t0_).success);
  // A slot is free, but the starting task's image is still on its way.
  EXPECT_THAT(state_.start_pulls(t0_, 102.0), IsEmpty());
  EXPECT_TRUE(state_.finish_pull(small, std::nullopt, {small, medium, pinned}, t0_).success);
  EXPECT_THAT(state_.start_pulls(t0_, 103.0), ElementsAre(large));
}

// Swarm's own pull is what the node waits for, so an image the controller
// does not grant this node yet holds the others back just the same.
TEST_F(AgentStateTest, AStartingImageWithoutAGrantStillHoldsBackLowerPriorities) {
  using reconcile::PullPriority;
  ASSERT_TRUE(state_.set_desired(
      set_of(1, {{.ref = small, .pull = false, .priority = PullPriority::urgent, .starting = true},
                 {.ref = medium, .priority = PullPriority::urgent},
                 {.ref = large, .priority = PullPriority::declared}})));
  state_.observe_present(none_);
  EXPECT_THAT(state_.start_pulls(t0_, 100.0), ElementsAre(medium));
  state_.observe_present({small});
  EXPECT_THAT(state_.start_pulls(t0_, 101.0), ElementsAre(large));
}

TEST_F(AgentStateTest, PinnedRefIsPresentByDigestNotByTag) {
  state_.set_desired(set_of(1, {{pinned, true}}));
  // The tag of the same repository says nothing about the digest.
  EXPECT_EQ(state_.observe_present({"10.0.0.1:5000/prepull/pinned:1"}).missing, 1u);
  EXPECT_EQ(state_.observe_present({pinned}).present, 1u);
  EXPECT_THAT(state_.start_pulls(t0_, 0), IsEmpty());
}

const std::string digest_a = "sha256:" + std::string(64, 'a');
const std::string digest_b = "sha256:" + std::string(64, 'b');
const std::string digest_c = "sha256:" + std::string(64, 'c');

// Tags that move: a tag the controller resolved counts only with that content.
TEST_F(AgentStateTest, TagWithADigestIsPresentOnlyWithThatContent) {
  state_.set_desired(set_of(1, {{.ref = small, .digest = digest_a}}));
  // The tag is here, but its image was pulled as another digest.
  EXPECT_EQ(state_.observe_present({small, reconcile::tag_at_digest(small, digest_b)}).missing, 1u);
  ASSERT_THAT(state_.start_pulls(t0_, 0), ElementsAre(small));  // by tag, as swarm runs it
  EXPECT_TRUE(
      state_
          .finish_pull(small, std::nullopt, {small, reconcile::tag_at_digest(small, digest_a)}, t0_)
          .success);
  const auto status = state_.statuses().at(0);
  EXPECT_EQ(status.state, ImageState::present);
  EXPECT_EQ(status.digest, digest_a);  // what the controller's readiness checks
  // Without a digest any image of the tag counts, and none is reported.
  state_.set_desired(set_of(2, {{.ref = small}}));
  EXPECT_EQ(state_.observe_present({small}).present, 1u);
  EXPECT_EQ(state_.statuses().at(0).digest, "");
}

TEST_F(AgentStateTest, AMovedTagIsPulledAtOnceAndAnotherMoveIsNoFailure) {
  state_.set_desired(set_of(1, {{.ref = small, .digest = digest_a}}));
  const std::unordered_set<std::string> held_a = {small, reconcile::tag_at_digest(small, digest_a)};
  ASSERT_EQ(state_.observe_present(held_a).present, 1u);
  // The controller resolved the tag to b: pulled now, no backoff from the success before.
  EXPECT_TRUE(state_.set_desired(set_of(2, {{.ref = small, .digest = digest_b}})));
  EXPECT_EQ(state_.observe_present(held_a).missing, 1u);
  ASSERT_THAT(state_.start_pulls(t0_, 0), ElementsAre(small));
  // Meanwhile it moved again, to c: the pull got c. Not a failure, and not
  // pulled again at once (the pull's own wake would repeat it in a loop).
  const auto outcome = state_.finish_pull(small, std::nullopt,
                                          {small, reconcile::tag_at_digest(small, digest_c)}, t0_);
  EXPECT_TRUE(outcome.success);
  EXPECT_TRUE(outcome.other_digest);
  EXPECT_GT(outcome.retry_in, 0ms);
  EXPECT_EQ(state_.statuses().at(0).state, ImageState::waiting);
  EXPECT_EQ(state_.statuses().at(0).attempts, 0u);
  EXPECT_THAT(state_.start_pulls(t0_, 0), IsEmpty());
  ASSERT_TRUE(state_.next_retry(t0_));
  EXPECT_EQ(*state_.next_retry(t0_), t0_ + outcome.retry_in);
  // The controller catches up with c: present, nothing failed.
  EXPECT_TRUE(state_.set_desired(set_of(3, {{.ref = small, .digest = digest_c}})));
  EXPECT_EQ(state_.observe_present({small, reconcile::tag_at_digest(small, digest_c)}).present, 1u);
  EXPECT_EQ(state_.statuses().at(0).state, ImageState::present);
}

TEST_F(AgentStateTest, ANewDigestEndsTheBackoffOfTheOldContent) {
  state_.set_desired(set_of(1, {{.ref = small, .digest = digest_a}}));
  state_.observe_present(none_);
  ASSERT_THAT(state_.start_pulls(t0_, 0), ElementsAre(small));
  EXPECT_TRUE(
      state_.finish_pull(small, PullFailure{Reason::not_found, "manifest unknown"}, none_, t0_)
          .permanent);
  EXPECT_THAT(state_.start_pulls(t0_, 0), IsEmpty());
  // The registry has the tag again, as other content: tried at once.
  state_.set_desired(set_of(2, {{.ref = small, .digest = digest_b}}));
  EXPECT_THAT(state_.start_pulls(t0_, 0), ElementsAre(small));
}

TEST_F(AgentStateTest, PullFlagFalseHoldsTheImageAsWaiting) {
  state_.set_desired(set_of(1, {{small, false}, {medium, true}}));
  state_.observe_present(none_);
  EXPECT_THAT(state_.start_pulls(t0_, 0), ElementsAre(medium));
  EXPECT_EQ(state_.statuses()[0].state, ImageState::waiting);
  // The grant arrives: a new generation with pull true.
  EXPECT_TRUE(state_.set_desired(set_of(2, {{small, true}, {medium, true}})));
  EXPECT_THAT(state_.start_pulls(t0_, 0), ElementsAre(small));
}

DesiredImage withdrawn(const std::string& ref) {
  DesiredImage image;
  image.ref = ref;
  image.pull = false;
  image.withdraw = true;
  return image;
}

// The controller took the grant back for a task swarm starts elsewhere: the
// pull is to be cancelled, is no failure, and starts again once granted.
TEST_F(AgentStateTest, AGrantTakenBackWithdrawsThePullWithoutAFailure) {
  state_.set_desired(set_of(1, {{small, true}, {medium, true}}));
  state_.observe_present(none_);
  EXPECT_THAT(state_.start_pulls(t0_, 0), ElementsAre(small, medium));
  EXPECT_THAT(state_.withdrawn_grants(), IsEmpty());

  // Pull false alone (a restarted controller's first grants, a cache fill)
  // leaves a pull under way alone.
  state_.set_desired(set_of(2, {{small, false}, {medium, true}}));
  EXPECT_THAT(state_.withdrawn_grants(), IsEmpty());

  state_.set_desired(set_of(3, {withdrawn(small), {medium, true}}));
  EXPECT_THAT(state_.withdrawn_grants(), ElementsAre(small));
  state_.withdraw_pull(small);
  EXPECT_THAT(state_.withdrawn_grants(), IsEmpty());
  EXPECT_EQ(state_.in_flight(), 1u);
  EXPECT_EQ(state_.statuses()[0].state, ImageState::waiting);
  EXPECT_EQ(state_.next_retry(t0_), std::nullopt);  // no backoff
  EXPECT_THAT(state_.start_pulls(t0_, 0), IsEmpty());

  state_.set_desired(set_of(4, {{small, true}, {medium, true}}));
  EXPECT_THAT(state_.start_pulls(t0_, 0), ElementsAre(small));
}

// A retry after a 429, withdrawn: reported waiting, not failed rate_limited
// again (the controller would read that as a new 429 and pause the registry).
TEST_F(AgentStateTest, AWithdrawnRetryIsReportedWaitingNotWithItsOldFailure) {
  state_.set_desired(set_of(1, {{small, true}}));
  state_.observe_present(none_);
  ASSERT_THAT(state_.start_pulls(t0_, 0), ElementsAre(small));
  state_.finish_pull(small, PullFailure{Reason::rate_limited, "toomanyrequests"}, none_, t0_);
  const auto due = state_.next_retry(t0_);
  ASSERT_TRUE(due);
  ASSERT_THAT(state_.start_pulls(*due, 0), ElementsAre(small));

  state_.set_desired(set_of(2, {withdrawn(small)}));
  state_.withdraw_pull(small);
  EXPECT_EQ(state_.statuses()[0].state, ImageState::waiting);
}

TEST_F(AgentStateTest, SameSetWithNewGenerationIsNoChange) {
  EXPECT_TRUE(state_.set_desired(set_of(1, {{small, true}})));
  EXPECT_FALSE(state_.set_desired(set_of(2, {{small, true}})));
  EXPECT_EQ(state_.generation(), 2u);
}

TEST_F(AgentStateTest, SuccessThatLeavesNothingListedIsAFailure) {
  state_.set_desired(set_of(1, {{small, true}}));
  state_.observe_present(none_);
  ASSERT_THAT(state_.start_pulls(t0_, 0), ElementsAre(small));
  const auto outcome = state_.finish_pull(small, std::nullopt, none_, t0_);
  EXPECT_FALSE(outcome.success);
  EXPECT_EQ(outcome.failure.reason, Reason::other);
  EXPECT_EQ(outcome.failure.message, pull_not_listed_message);
  EXPECT_FALSE(outcome.permanent);
  EXPECT_EQ(outcome.retry_in, 500ms);
  const auto status = state_.statuses().at(0);
  EXPECT_EQ(status.state, ImageState::failed);
  EXPECT_EQ(status.reason, Reason::other);
  EXPECT_EQ(status.attempts, 1u);
}

TEST_F(AgentStateTest, ANewRetryEpochCutsANetworkBackoffShort) {
  state_.set_desired(set_of(1, {{small, true}, {medium, true}}));
  state_.observe_present(none_);
  ASSERT_THAT(state_.start_pulls(t0_, 0), ElementsAre(small, medium));
  auto now = t0_;
  // Both failed a few times: small's registry unreachable, medium's tag unknown to a proxy
  // that answers 429; both in backoff.
  for (int attempt = 0; attempt < 3; ++attempt) {
    const auto network =
        state_.finish_pull(small, PullFailure{Reason::network, "connection refused"}, none_, now);
    const auto limited = state_.finish_pull(
        medium, PullFailure{Reason::rate_limited, "toomanyrequests"}, none_, now);
    now += std::max(network.retry_in, limited.retry_in);
    ASSERT_THAT(state_.start_pulls(now, 0), ElementsAre(small, medium));
  }
  state_.finish_pull(small, PullFailure{Reason::network, "connection refused"}, none_, now);
  state_.finish_pull(medium, PullFailure{Reason::rate_limited, "toomanyrequests"}, none_, now);
  EXPECT_THAT(state_.start_pulls(now, 0), IsEmpty());  // both wait out 4 s

  // The same epoch again (a set for another reason) changes nothing.
  EXPECT_FALSE(state_.set_desired(set_of(2, {{small, true}, {medium, true}})));
  EXPECT_THAT(state_.start_pulls(now, 0), IsEmpty());
  // The controller saw both registries answer again: the network failure is
  // retried now; a registry that said 429 keeps its backoff.
  EXPECT_TRUE(state_.set_desired(set_of(3, {{small, true, 1}, {medium, true, 1}})));
  EXPECT_THAT(state_.start_pulls(now, 0), ElementsAre(small));
  EXPECT_EQ(state_.statuses().at(0).attempts, 4u);  // still said: the count goes on
}

TEST_F(AgentStateTest, TransientFailuresBackOffExponentially) {
  state_.set_desired(set_of(1, {{small, true}}));
  state_.observe_present(none_);
  auto now = t0_;
  std::vector<Duration> delays;
  for (int attempt = 1; attempt <= 4; ++attempt) {
    ASSERT_THAT(state_.start_pulls(now, 0), ElementsAre(small)) << attempt;
    const auto outcome =
        state_.finish_pull(small, PullFailure{Reason::rate_limited, "toomanyrequests"}, none_, now);
    EXPECT_EQ(outcome.attempts, static_cast<std::uint32_t>(attempt));
    delays.push_back(outcome.retry_in);
    EXPECT_THAT(state_.start_pulls(now + outcome.retry_in - 1ms, 0), IsEmpty());
    EXPECT_EQ(state_.next_retry(now), now + outcome.retry_in);
    now += outcome.retry_in;
  }
  EXPECT_THAT(delays, ElementsAre(500ms, 1000ms, 2000ms, 4000ms));
  // Success resets the count.
  ASSERT_THAT(state_.start_pulls(now, 0), ElementsAre(small));
  EXPECT_TRUE(state_.finish_pull(small, std::nullopt, {small}, now).success);
  EXPECT_EQ(state_.statuses().at(0).state, ImageState::present);
  EXPECT_EQ(state_.statuses().at(0).attempts, 0u);
}

TEST_F(AgentStateTest, NotFoundWaitsForANewSetOrNewCredentials) {
  state_.set_desired(set_of(1, {{small, true}, {medium, true}}));
  state_.observe_present(none_);
  ASSERT_THAT(state_.start_pulls(t0_, 0), ElementsAre(small, medium));
  const auto outcome = state_.finish_pull(
      small, PullFailure{Reason::not_found, "manifest for x not found: manifest unknown"}, none_,
      t0_);
  EXPECT_TRUE(outcome.permanent);
  EXPECT_THAT(state_.start_pulls(t0_ + 24h, 0), IsEmpty());
  EXPECT_EQ(state_.next_retry(t0_), std::nullopt);

  // A new generation with the same refs (a grant elsewhere) does not retry.
  state_.set_desired(set_of(2, {{small, true}, {medium, true}}));
  EXPECT_THAT(state_.start_pulls(t0_ + 24h, 0), IsEmpty());

  // New credentials do.
  EXPECT_TRUE(state_.set_credentials(7));
  EXPECT_FALSE(state_.set_credentials(7));
  EXPECT_THAT(state_.start_pulls(t0_, 0), ElementsAre(small));
  state_.finish_pull(small, PullFailure{Reason::unauthorized, "unauthorized"}, none_, t0_);
  EXPECT_THAT(state_.start_pulls(t0_ + 1h, 0), IsEmpty());

  // So does a set whose refs differ.
  state_.set_desired(set_of(3, {{small, true}, {medium, true}, {large, true}}));
  EXPECT_THAT(state_.start_pulls(t0_, 0), ElementsAre(small));
  EXPECT_EQ(state_.statuses().at(0).attempts, 2u);  // pulling, after two failures
}

TEST_F(AgentStateTest, ImageThatAppearsByOtherMeansClearsItsFailure) {
  state_.set_desired(set_of(1, {{small, true}}));
  state_.observe_present(none_);
  state_.start_pulls(t0_, 0);
  state_.finish_pull(small, PullFailure{Reason::not_found, "not found"}, none_, t0_);
  EXPECT_EQ(state_.statuses().at(0).state, ImageState::failed);
  state_.observe_present({small});  // someone pushed the tag and swarm pulled it
  EXPECT_EQ(state_.statuses().at(0).state, ImageState::present);
  EXPECT_DOUBLE_EQ(state_.hit_ratio(), 1.0);
}

TEST_F(AgentStateTest, ImagesNoLongerDesiredAreForgotten) {
  state_.set_desired(set_of(1, {{small, true}, {medium, true}}));
  state_.observe_present(none_);
  state_.start_pulls(t0_, 0);
  state_.set_desired(set_of(2, {{large, true}}));
  // The two pulls in flight still count against the bound until they return.
  EXPECT_THAT(state_.start_pulls(t0_, 0), IsEmpty());
  state_.finish_pull(small, PullFailure{Reason::network, "connection refused"}, none_, t0_);
  state_.finish_pull(medium, std::nullopt, {medium}, t0_);
  EXPECT_THAT(state_.start_pulls(t0_, 0), ElementsAre(large));
  ASSERT_EQ(state_.statuses().size(), 1u);
  EXPECT_EQ(state_.statuses()[0].ref, large);
}

TEST_F(AgentStateTest, EmptySetHasFullHitRatio) {
  EXPECT_DOUBLE_EQ(state_.hit_ratio(), 1.0);
  EXPECT_EQ(state_.observe_present({small}).desired, 0u);
}

TEST_F(AgentStateTest, StatusReportMatchesTheAgentApi) {
  state_.set_desired(set_of(17, {{small, true}, {medium, true}, {large, true}, {pinned, false}}));
  state_.observe_present({small});
  state_.start_pulls(t0_, 1732451234.5);
  state_.finish_pull(large, PullFailure{Reason::not_found, "manifest unknown"}, none_, t0_);
  // The report as it goes on the wire (api::encode is what the agent sends).
  const auto report = nlohmann::json::parse(api::encode(state_.status_report("0.1.0", "20.10.24")));
  const auto expected = nlohmann::json::parse(R"({
    "generation": 17,
    "images": [
      {"ref": "10.0.0.1:5000/prepull/small:1", "state": "present"},
      {"ref": "10.0.0.1:5000/prepull/medium:1", "state": "pulling", "since": 1732451234.5},
      {"ref": "10.0.0.1:5000/prepull/large:1", "state": "failed", "reason": "not_found",
       "message": "manifest unknown", "attempts": 1},
      {"ref": ")" + pinned + R"(", "state": "waiting"}],
    "agent": {"version": "0.1.0", "engine_version": "20.10.24"}})");
  EXPECT_EQ(report, expected);
}

}  // namespace
}  // namespace swarm_prepull::agent

namespace swarm_prepull::agent {
namespace {

Admission low_disk() {
  return admit_pulls(DiskSpace{.free_bytes = 5, .size_bytes = 1000},
                     parse_min_free_disk("10%").value());
}
Admission roomy_disk() {
  return admit_pulls(DiskSpace{.free_bytes = 500, .size_bytes = 1000},
                     parse_min_free_disk("10%").value());
}

// Below --min-free-disk nothing starts; what would be pulled is held, not
// failed; in-flight pulls finish; space back, pulling resumes.
TEST_F(AgentStateTest, HoldsPullsWhileTheDiskIsLowAndResumesWhenSpaceComesBack) {
  state_.set_desired(set_of(1, {{small, true}, {medium, true}, {large, false}}));
  state_.observe_present({});
  EXPECT_THAT(state_.start_pulls(t0_, 1.0), ElementsAre(small, medium));
  EXPECT_TRUE(state_.set_disk(low_disk(), "disk_low: 5B free"));
  EXPECT_FALSE(state_.set_disk(low_disk(), "disk_low: 5B free"));  // no flip
  EXPECT_FALSE(state_.admitted());
  // One pull finishes, the other fails (not for good): both are held now.
  EXPECT_TRUE(state_.finish_pull(small, std::nullopt, {small}, t0_).success);
  state_.finish_pull(medium, PullFailure{Reason::network, "reset"}, {small}, t0_);
  EXPECT_THAT(state_.start_pulls(t0_ + 1h, 2.0), IsEmpty());
  EXPECT_EQ(state_.next_retry(t0_), std::nullopt);
  const auto statuses = state_.statuses();
  ASSERT_EQ(statuses.size(), 3u);
  EXPECT_EQ(statuses[0].state, ImageState::present);
  EXPECT_EQ(statuses[1].state, ImageState::held);
  EXPECT_EQ(statuses[1].message, "disk_low: 5B free");
  EXPECT_EQ(statuses[2].state, ImageState::waiting);  // the pull cap holds it, not the disk
  EXPECT_EQ(state_.held(), 1u);
  const auto report = state_.status_report("0.1.0", "20.10.24");
  EXPECT_EQ(report.disk_free_bytes, 5u);
  EXPECT_EQ(report.disk_size_bytes, 1000u);
  // Back above the threshold: no longer held, the retry is due.
  EXPECT_TRUE(state_.set_disk(roomy_disk(), ""));
  EXPECT_EQ(state_.held(), 0u);
  EXPECT_EQ(state_.statuses()[1].state, ImageState::failed);
  EXPECT_THAT(state_.start_pulls(t0_ + 1h, 3.0), ElementsAre(medium));
}

TEST_F(AgentStateTest, AFailureForGoodStaysFailedWhileHeld) {
  state_.set_desired(set_of(1, {{small, true}}));
  state_.observe_present({});
  EXPECT_THAT(state_.start_pulls(t0_, 1.0), ElementsAre(small));
  state_.finish_pull(small, PullFailure{Reason::not_found, "manifest unknown"}, {}, t0_);
  state_.set_disk(low_disk(), "disk_low");
  EXPECT_EQ(state_.statuses()[0].state, ImageState::failed);
  EXPECT_EQ(state_.held(), 0u);
}

TEST_F(AgentStateTest, AnUnmeasuredDiskAdmits) {
  state_.set_desired(set_of(1, {{small, true}}));
  state_.observe_present({});
  EXPECT_FALSE(state_.set_disk(admit_pulls(std::nullopt, MinFreeDisk{}), ""));
  EXPECT_THAT(state_.start_pulls(t0_, 1.0), ElementsAre(small));
}

}  // namespace
}  // namespace swarm_prepull::agent
