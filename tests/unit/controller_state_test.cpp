// controller::State: the state machine from plan and reports to published
// sets, generations, pull grants, readiness and agent staleness; no I/O.
#include <gtest/gtest.h>

#include "controller/state.h"
#include "tests/unit/controller_test_support.h"

namespace swarm_prepull::controller {
namespace {

using nlohmann::json;
using swarm_prepull::testing::test_node;
using swarm_prepull::testing::test_service;

constexpr const char* image_a = "registry.test/a:1";
constexpr const char* image_b = "registry.test/b:1";
const std::string ref_a = "registry.test/a:1";
const std::string ref_b = "registry.test/b:1";

class StateTest : public ::testing::Test {
 protected:
  State make_state(std::uint32_t cap = 0, std::uint32_t registry_cap = 0) {
    return State(StateOptions{.max_parallel_node_pulls = cap,
                              .max_pulls_per_registry = registry_cap,
                              .registry_backoff_base = std::chrono::seconds(5),
                              .registry_backoff_max = std::chrono::seconds(40),
                              .agent_stale_after = std::chrono::seconds(90),
                              .wall_ms = [this] { return wall_ms_; }});
  }

  static reconcile::Plan plan(std::vector<reconcile::Service> services, int node_count = 3) {
    std::vector<reconcile::Node> nodes;
    for (int i = 1; i <= node_count; ++i) {
      nodes.push_back(test_node("id" + std::to_string(i), "node-" + std::to_string(i)));
    }
    return reconcile::desired_images(nodes, services);
  }

  // `plan` with tasks swarm is starting: (node id, image) each.
  static reconcile::Plan starting_on(
      reconcile::Plan plan, const std::vector<std::pair<std::string, std::string>>& tasks) {
    std::vector<reconcile::Task> starting;
    for (const auto& [node_id, image] : tasks) {
      starting.push_back(reconcile::Task{.id = "t-" + node_id,
                                         .service_id = "s1",
                                         .node_id = node_id,
                                         .slot = 1,
                                         .desired_state = "running",
                                         .state = "preparing",
                                         .error = "",
                                         .image = image,
                                         .addresses = {}});
    }
    reconcile::mark_starting(plan, starting);
    return plan;
  }

  static NodeReport report(std::vector<std::pair<std::string, ImageState>> states) {
    NodeReport result;
    for (auto& [ref, state] : states) {
      api::ImageStatus image{.ref = ref, .state = state};
      if (state == ImageState::failed) image.reason = api::FailureReason::not_found;
      result.images.push_back(image);
    }
    return result;
  }

  // A report of `ref` failed with HTTP 429 from its registry.
  static NodeReport rate_limited(const std::string& ref) {
    NodeReport result;
    result.images.push_back({.ref = ref,
                             .state = ImageState::failed,
                             .reason = api::FailureReason::rate_limited,
                             .message = "toomanyrequests"});
    return result;
  }

  // The nodes id1..idN granted `ref` (pull: true) that do not report it present.
  std::vector<std::string> granted(State& state, const std::string& ref, int node_count) {
    std::vector<std::string> nodes;
    for (int i = 1; i <= node_count; ++i) {
      const std::string id = "id" + std::to_string(i);
      const auto* reported = state.reported(id, ref);
      const bool present = reported != nullptr && reported->state == ImageState::present;
      if (pulls(state, id)[ref] && !present) nodes.push_back(id);
    }
    return nodes;
  }

  static std::map<std::string, bool> pulls(State& state, const std::string& node) {
    std::map<std::string, bool> result;
    for (const auto& image : state.desired(node)->images) result[image.ref] = image.pull;
    return result;
  }

  // A number below n from a fixed sequence (an LCG): random reports that
  // replay the same on every run.
  std::size_t random(std::size_t n) {
    seed_ = seed_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::size_t>((seed_ >> 33) % n);
  }

  std::uint64_t seed_ = 42;
  std::uint64_t wall_ms_ = 1000;
  Clock::time_point now_ = Clock::time_point(std::chrono::hours(1));
};

TEST_F(StateTest, FirstPlanPublishesEveryNodeWithAGenerationFromTheClock) {
  auto state = make_state();
  EXPECT_FALSE(state.has_plan());
  const auto changes = state.set_plan(plan({test_service("web", image_a)}));
  EXPECT_EQ(changes.bumped_nodes.size(), 3u);
  const auto* desired = state.desired("id1");
  ASSERT_NE(desired, nullptr);
  EXPECT_GE(desired->generation, 1000u);
  ASSERT_EQ(desired->images.size(), 1u);
  EXPECT_EQ(desired->images[0].ref, ref_a);
  EXPECT_TRUE(desired->images[0].pull);
  EXPECT_EQ(state.desired("nope"), nullptr);
}

TEST_F(StateTest, GenerationMovesOnlyForNodesWhoseSetChanged) {
  auto state = make_state();
  state.set_plan(plan({test_service("web", image_a)}));
  const auto g1 = state.desired("id1")->generation;
  const auto g2 = state.desired("id2")->generation;

  wall_ms_ = 5000;
  EXPECT_TRUE(state.set_plan(plan({test_service("web", image_a)})).bumped_nodes.empty());
  EXPECT_EQ(state.desired("id1")->generation, g1);

  const auto changes =
      state.set_plan(plan({test_service("web", image_a), test_service("db", image_b, "node-2")}));
  EXPECT_EQ(changes.bumped_nodes, std::vector<std::string>{"id2"});
  EXPECT_EQ(state.desired("id1")->generation, g1);
  EXPECT_GT(state.desired("id2")->generation, g2);
  EXPECT_GE(state.desired("id2")->generation, 5000u);
}

// Live pulls first (issue 15): a node's set marks what a task swarm is
// starting there needs, and the mark going away is a change of the set too.
TEST_F(StateTest, ImagesOfStartingTasksAreMarkedOnTheirNodeOnly) {
  auto state = make_state();
  state.set_plan(starting_on(plan({test_service("web", image_a)}), {{"id2", image_a}}));
  EXPECT_FALSE(state.desired("id1")->images.at(0).starting);
  EXPECT_TRUE(state.desired("id2")->images.at(0).starting);
  wall_ms_ = 5000;
  const auto changes = state.set_plan(plan({test_service("web", image_a)}));
  EXPECT_EQ(changes.bumped_nodes, std::vector<std::string>{"id2"});
  EXPECT_FALSE(state.desired("id2")->images.at(0).starting);
}

TEST_F(StateTest, GenerationsNeverRepeatEvenWhenTheClockStands) {
  auto state = make_state();
  state.set_plan(plan({test_service("web", image_a)}));
  const auto before = state.generation();
  state.set_plan(plan({test_service("web", image_b)}));
  EXPECT_GT(state.desired("id1")->generation, before);
  EXPECT_NE(state.desired("id1")->generation, state.desired("id2")->generation);
}

// The data root's space per node, for swarm_prepull_disk_*_bytes{node}: only
// from reports that carry it.
TEST_F(StateTest, ReadinessCarriesTheDiskSpaceAgentsReport) {
  auto state = make_state();
  state.set_plan(plan({test_service("web", image_a)}, 2));
  auto measured = report({{ref_a, ImageState::held}});
  measured.disk_free_bytes = 5;
  measured.disk_size_bytes = 100;
  ASSERT_TRUE(state.report("id1", measured, now_));
  ASSERT_TRUE(state.report("id2", report({{ref_a, ImageState::present}}), now_));
  const auto readiness = state.readiness();
  EXPECT_EQ(readiness.node_disk_free, (std::map<std::string, double>{{"node-1", 5}}));
  EXPECT_EQ(readiness.node_disk_size, (std::map<std::string, double>{{"node-1", 100}}));
  // The held node is listed held, with its agent's message.
  const auto listing = state.images();
  ASSERT_EQ(listing.images.size(), 1u);
  ASSERT_EQ(listing.images[0].nodes.size(), 1u);
  EXPECT_EQ(listing.images[0].nodes[0].state, ImageState::held);
}

TEST_F(StateTest, NodesLeavingThePlanAreForgotten) {
  auto state = make_state();
  state.set_plan(plan({test_service("web", image_a)}, 3));
  ASSERT_TRUE(state.report("id3", report({{ref_a, ImageState::present}}), now_));
  state.set_plan(plan({test_service("web", image_a)}, 2));
  EXPECT_EQ(state.desired("id3"), nullptr);
  EXPECT_FALSE(state.report("id3", report({}), now_));
  EXPECT_EQ(state.readiness().pairs_desired, 2u);
}

TEST_F(StateTest, NoCapGrantsEveryPull) {
  auto state = make_state(0);
  state.set_plan(plan({test_service("web", image_a)}, 5));
  for (int i = 1; i <= 5; ++i) EXPECT_TRUE(pulls(state, "id" + std::to_string(i))[ref_a]);
}

TEST_F(StateTest, CapGrantsAtMostNNodesPerImageAndReportsFreeSlots) {
  auto state = make_state(2);
  state.set_plan(plan({test_service("web", image_a), test_service("db", image_b)}, 4));
  auto granted = [&](const std::string& ref) {
    std::vector<std::string> nodes;
    for (int i = 1; i <= 4; ++i) {
      const std::string id = "id" + std::to_string(i);
      if (pulls(state, id)[ref]) nodes.push_back(id);
    }
    return nodes;
  };
  EXPECT_EQ(granted(ref_a), (std::vector<std::string>{"id1", "id2"}));
  EXPECT_EQ(granted(ref_b), (std::vector<std::string>{"id1", "id2"}));

  // id1 has a now: its slot goes to id3, whose generation moves; id4 stays held.
  const auto g3 = state.desired("id3")->generation;
  const auto g4 = state.desired("id4")->generation;
  auto changes = state.report(
      "id1", report({{ref_a, ImageState::present}, {ref_b, ImageState::pulling}}), now_);
  ASSERT_TRUE(changes);
  EXPECT_EQ(granted(ref_a), (std::vector<std::string>{"id1", "id2", "id3"}));  // id1: present
  EXPECT_EQ(granted(ref_b), (std::vector<std::string>{"id1", "id2"}));
  EXPECT_GT(state.desired("id3")->generation, g3);
  EXPECT_EQ(state.desired("id4")->generation, g4);
  EXPECT_NE(std::find(changes->bumped_nodes.begin(), changes->bumped_nodes.end(), "id3"),
            changes->bumped_nodes.end());

  // A failed pull frees its slot too; the failed node goes to the back of the queue.
  state.report("id2", report({{ref_a, ImageState::failed}}), now_);
  EXPECT_EQ(granted(ref_a), (std::vector<std::string>{"id1", "id3", "id4"}));
  // The same report again changes nothing.
  const auto g2 = state.desired("id2")->generation;
  EXPECT_TRUE(
      state.report("id2", report({{ref_a, ImageState::failed}}), now_)->bumped_nodes.empty());
  EXPECT_EQ(state.desired("id2")->generation, g2);
}

TEST_F(StateTest, GrantsStickWhileTheHolderPulls) {
  auto state = make_state(1);
  state.set_plan(plan({test_service("web", image_a)}, 3));
  EXPECT_TRUE(pulls(state, "id1")[ref_a]);
  state.report("id1", report({{ref_a, ImageState::pulling}}), now_);
  state.report("id2", report({{ref_a, ImageState::waiting}}), now_);
  EXPECT_TRUE(pulls(state, "id1")[ref_a]);
  EXPECT_FALSE(pulls(state, "id2")[ref_a]);
  // A new plan recomputes from the same reports: still id1.
  state.set_plan(plan({test_service("web", image_a), test_service("db", image_b, "node-3")}, 3));
  EXPECT_TRUE(pulls(state, "id1")[ref_a]);
  EXPECT_FALSE(pulls(state, "id2")[ref_a]);
}

// A rollout waits for the node where swarm starts the updated task: within
// the registry's budget that pull goes first, the others follow.
TEST_F(StateTest, ANodeWhereSwarmStartsATaskIsGrantedFirst) {
  auto state = make_state(0, 1);
  state.set_plan(starting_on(plan({test_service("web", image_a)}, 3), {{"id3", image_a}}));
  EXPECT_EQ(granted(state, ref_a, 3), std::vector<std::string>{"id3"});
  state.report("id3", report({{ref_a, ImageState::present}}), now_);
  EXPECT_EQ(granted(state, ref_a, 3), std::vector<std::string>{"id1"});

  // A task that starts while another node only warms: the starting node
  // takes that grant (its agent cancels the pull), and the warming node has it
  // back once the task's image is in.
  auto later = make_state(0, 1);
  later.set_plan(plan({test_service("web", image_a)}, 3));
  later.report("id1", report({{ref_a, ImageState::pulling}}), now_);
  later.set_plan(starting_on(plan({test_service("web", image_a)}, 3), {{"id3", image_a}}));
  EXPECT_EQ(granted(later, ref_a, 3), std::vector<std::string>{"id3"});
  later.report("id3", report({{ref_a, ImageState::present}}), now_);
  EXPECT_EQ(granted(later, ref_a, 3), std::vector<std::string>{"id1"});
}

// report() publishes only when a grant input changed; a full publish (what
// set_plan does with the same plan) right after must then find nothing to change.
TEST_F(StateTest, AReportThatSkipsPublishingMissesNothing) {
  for (const std::uint32_t cap : {0u, 1u, 2u}) {
    auto state = make_state(cap);
    const auto same_plan = plan({test_service("web", image_a), test_service("db", image_b),
                                 test_service("one", "registry.test/c:1", "node-2")},
                                5);
    state.set_plan(same_plan);
    const std::vector<std::string> refs = {ref_a, ref_b, "registry.test/c:1"};
    const std::vector<ImageState> states = {ImageState::present, ImageState::pulling,
                                            ImageState::waiting, ImageState::failed};
    const auto next = [&](std::size_t n) { return random(n); };
    for (int step = 0; step < 400; ++step) {
      const std::string node = "id" + std::to_string(1 + next(5));
      std::vector<std::pair<std::string, ImageState>> reported;
      for (const auto& ref : refs) {
        if (next(4) != 0) reported.emplace_back(ref, states[next(states.size())]);
      }
      ASSERT_TRUE(state.report(node, report(reported), now_));
      ASSERT_TRUE(state.set_plan(same_plan).bumped_nodes.empty())
          << "cap " << cap << ", step " << step << ": a report left a stale published set";
    }
  }
}

// The same with both caps, two registries and 429s: the grants a report
// updates incrementally are those a pass computes from scratch.
TEST_F(StateTest, IncrementalGrantsEqualGrantsFromScratch) {
  const std::vector<std::string> refs = {ref_a, ref_b, "other.test/c:1", "other.test/d:1"};
  for (const auto& [cap, registry_cap] : std::vector<std::pair<std::uint32_t, std::uint32_t>>{
           {0, 1}, {1, 1}, {2, 3}, {1, 0}, {0, 0}}) {
    auto state = make_state(cap, registry_cap);
    // Tasks starting on two nodes put their pairs in the first queue.
    const auto same_plan = starting_on(
        plan({test_service("a", image_a), test_service("b", image_b),
              test_service("c", "other.test/c:1"), test_service("d", "other.test/d:1", "node-3")},
             6),
        {{"id5", image_a}, {"id2", "other.test/c:1"}});
    state.set_plan(same_plan);
    const std::vector<ImageState> states = {ImageState::present, ImageState::pulling,
                                            ImageState::waiting, ImageState::failed};
    const auto next = [&](std::size_t n) { return random(n); };
    auto now = now_;
    for (int step = 0; step < 600; ++step) {
      now += std::chrono::milliseconds(500);
      const std::string node = "id" + std::to_string(1 + next(6));
      NodeReport reported;
      for (const auto& ref : refs) {
        if (next(4) == 0) continue;
        api::ImageStatus image{.ref = ref, .state = states[next(states.size())]};
        if (image.state == ImageState::failed) {
          image.reason =
              next(3) == 0 ? api::FailureReason::rate_limited : api::FailureReason::network;
        }
        reported.images.push_back(image);
      }
      ASSERT_TRUE(state.report(node, reported, now));
      if (step % 7 == 0) state.resume_registries(now);
      ASSERT_TRUE(state.set_plan(same_plan).bumped_nodes.empty())
          << "caps " << cap << "/" << registry_cap << ", step " << step;
      // And never more grants than either cap allows.
      std::map<std::string, std::size_t> per_registry;
      for (const auto& ref : refs) {
        const auto holders = granted(state, ref, 6).size();
        if (cap > 0) {
          ASSERT_LE(holders, cap) << ref << " at step " << step;
        }
        per_registry[ref.substr(0, ref.find('/'))] += holders;
      }
      for (const auto& [registry, holders] : per_registry) {
        if (registry_cap > 0) {
          ASSERT_LE(holders, registry_cap) << registry << " at step " << step;
        }
      }
    }
  }
}

TEST_F(StateTest, RegistryCapHoldsAcrossImagesWithThePerImageCap) {
  // Two images of registry.test, one of other.test; per image 2, per registry 3.
  auto state = make_state(2, 3);
  state.set_plan(plan(
      {test_service("a", image_a), test_service("b", image_b), test_service("c", "other.test/c:1")},
      4));
  // Handed out by image, then node: a gets its 2, b the registry's third.
  EXPECT_EQ(granted(state, ref_a, 4), (std::vector<std::string>{"id1", "id2"}));
  EXPECT_EQ(granted(state, ref_b, 4), (std::vector<std::string>{"id1"}));
  // Another registry has its own budget.
  EXPECT_EQ(granted(state, "other.test/c:1", 4), (std::vector<std::string>{"id1", "id2"}));

  // Pulls that go on hold their grants; one that ends hands its slot over.
  state.report("id1", report({{ref_a, ImageState::pulling}, {ref_b, ImageState::pulling}}), now_);
  EXPECT_EQ(granted(state, ref_b, 4), (std::vector<std::string>{"id1"}));
  const auto g3 = state.desired("id3")->generation;
  const auto changes = state.report(
      "id1", report({{ref_a, ImageState::present}, {ref_b, ImageState::pulling}}), now_);
  // a's freed slot goes to id3 (a before b: the per-image cap has room there).
  EXPECT_EQ(granted(state, ref_a, 4), (std::vector<std::string>{"id2", "id3"}));
  EXPECT_EQ(granted(state, ref_b, 4), (std::vector<std::string>{"id1"}));
  EXPECT_GT(state.desired("id3")->generation, g3);
  EXPECT_EQ(changes->bumped_nodes, (std::vector<std::string>{"id3"}));
}

TEST_F(StateTest, GrantsMoveOnUntilEveryNodeHasEveryImage) {
  // One pull at a time in registry.test: nobody is starved, a node that keeps
  // failing included (it waits behind the others, then gets its turns).
  auto state = make_state(0, 1);
  state.set_plan(plan({test_service("a", image_a), test_service("b", image_b)}, 4));
  std::map<std::string, std::map<std::string, ImageState>> held;  // node -> ref -> state
  int id4_failures = 0;
  for (int round = 0; round < 40; ++round) {
    std::vector<std::pair<std::string, std::string>> holders;
    for (const auto& ref : {ref_a, ref_b}) {
      for (const auto& node : granted(state, ref, 4)) holders.emplace_back(node, ref);
    }
    if (holders.empty()) break;
    ASSERT_EQ(holders.size(), 1u) << "round " << round;
    const auto [node, ref] = holders.front();
    // id4's pulls of b fail twice, then work.
    const bool fails = node == "id4" && ref == ref_b && id4_failures++ < 2;
    held[node][ref] = fails ? ImageState::failed : ImageState::present;
    state.report(node, report({held[node].begin(), held[node].end()}), now_);
  }
  for (int i = 1; i <= 4; ++i) {
    const std::string id = "id" + std::to_string(i);
    EXPECT_EQ(state.reported(id, ref_a)->state, ImageState::present) << id;
    EXPECT_EQ(state.reported(id, ref_b)->state, ImageState::present) << id;
  }
  EXPECT_EQ(state.readiness().pairs_present, 8u);
}

TEST_F(StateTest, ARateLimitedReportPausesTheRegistryOnEveryNodeWithBackoff) {
  // No caps: every node holds a grant; other.test is not concerned.
  auto state = make_state();
  state.set_plan(plan({test_service("a", image_a), test_service("c", "other.test/c:1")}, 3));
  state.report("id2", report({{ref_a, ImageState::pulling}}), now_);
  EXPECT_EQ(granted(state, ref_a, 3), (std::vector<std::string>{"id1", "id2", "id3"}));

  auto changes = state.report("id1", rate_limited(ref_a), now_);
  // id1 failed, id3 had not started: both lose their grant; id2's pull runs on.
  EXPECT_EQ(granted(state, ref_a, 3), (std::vector<std::string>{"id2"}));
  EXPECT_EQ(changes->bumped_nodes, (std::vector<std::string>{"id1", "id3"}));
  EXPECT_EQ(granted(state, "other.test/c:1", 3).size(), 3u);
  auto backoffs = state.registry_backoffs(now_);
  ASSERT_TRUE(backoffs.contains("registry.test"));
  EXPECT_EQ(backoffs["registry.test"].remaining, std::chrono::seconds(5));
  EXPECT_FALSE(backoffs.contains("other.test"));

  // id2's pull, started before the pause, meets the 429 too: not a new pause.
  state.report("id2", rate_limited(ref_a), now_ + std::chrono::seconds(1));
  EXPECT_EQ(state.registry_backoffs(now_ + std::chrono::seconds(1))["registry.test"].remaining,
            std::chrono::seconds(4));
  EXPECT_TRUE(granted(state, ref_a, 3).empty());

  // Still paused at 4.9 s; at 5 s grants resume, nodes that did not fail first.
  EXPECT_TRUE(state.resume_registries(now_ + std::chrono::milliseconds(4900)).bumped_nodes.empty());
  const auto resumed = state.resume_registries(now_ + std::chrono::seconds(5));
  EXPECT_EQ(granted(state, ref_a, 3), (std::vector<std::string>{"id1", "id2", "id3"}));
  EXPECT_EQ(resumed.bumped_nodes.size(), 3u);

  // A 429 after the pause: twice as long (10 s), then 20 s, capped at 40 s.
  auto at = now_ + std::chrono::seconds(6);
  for (const auto seconds : {10, 20, 40, 40}) {
    state.report("id3", rate_limited(ref_a), at);
    EXPECT_EQ(state.registry_backoffs(at)["registry.test"].remaining,
              std::chrono::seconds(seconds));
    at += std::chrono::seconds(seconds);
    state.resume_registries(at);
    state.report("id3", report({{ref_a, ImageState::waiting}}), at);
  }
}

TEST_F(StateTest, ASuccessfulPullResetsTheRegistrysBackoff) {
  auto state = make_state(0, 1);
  state.set_plan(plan({test_service("a", image_a), test_service("b", image_b)}, 2));
  // id1 pulls a; b waits for the registry's one slot.
  state.report("id1", report({{ref_a, ImageState::pulling}}), now_);
  state.report("id2", rate_limited(ref_b), now_);  // a 429 (from a pull of its own)
  EXPECT_EQ(state.registry_backoffs(now_)["registry.test"].next_pause, std::chrono::seconds(10));
  // id1's pull, granted before the pause, ends present: the registry serves.
  const auto changes = state.report("id1", report({{ref_a, ImageState::present}}), now_);
  EXPECT_TRUE(state.registry_backoffs(now_).empty());
  // The pause is over at once, and the freed slot is handed out.
  EXPECT_EQ(granted(state, ref_a, 2), (std::vector<std::string>{"id2"}));
  EXPECT_FALSE(changes->bumped_nodes.empty());
  // The next 429 pauses for the base again.
  state.report("id2", rate_limited(ref_a), now_);
  EXPECT_EQ(state.registry_backoffs(now_)["registry.test"].remaining, std::chrono::seconds(5));
}

TEST_F(StateTest, ReadinessCountsReportedPresentPairs) {
  auto state = make_state();
  state.set_plan(plan({test_service("web", image_a), test_service("db", image_b, "node-2")}, 3));
  auto readiness = state.readiness();
  EXPECT_EQ(readiness.pairs_desired, 4u);
  EXPECT_EQ(readiness.pairs_present, 0u);
  EXPECT_DOUBLE_EQ(readiness.hit_ratio(), 0.0);

  state.report("id2", report({{ref_a, ImageState::present}, {ref_b, ImageState::pulling}}), now_);
  state.report("id3", report({{ref_a, ImageState::present}, {"other:1", ImageState::present}}),
               now_);
  readiness = state.readiness();
  EXPECT_EQ(readiness.pairs_present, 2u);
  EXPECT_DOUBLE_EQ(readiness.hit_ratio(), 0.5);
  ASSERT_EQ(readiness.images.size(), 2u);
  EXPECT_EQ(readiness.images[0].ref, ref_a);
  EXPECT_EQ(readiness.images[0].nodes_desired, 3u);
  EXPECT_EQ(readiness.images[0].nodes_present, 2u);
  EXPECT_EQ(readiness.images[1].nodes_desired, 1u);
  EXPECT_EQ(readiness.images[1].nodes_present, 0u);
  EXPECT_EQ(readiness.node_missing,
            (std::map<std::string, std::uint64_t>{{"node-1", 1}, {"node-2", 1}, {"node-3", 0}}));

  const auto images = state.images();
  EXPECT_EQ(images.images[1].nodes[0].state, ImageState::pulling);
  EXPECT_EQ(images.images[0].nodes[0].state, std::nullopt);  // "unknown": not reported yet
}

// Tags that move: a tag's digest goes out with it, and a report of the tag
// counts present only with that digest; a report without one (an agent that
// predates digests) only when made from a set that carried the digest.
TEST_F(StateTest, ATagCountsPresentOnlyWithItsResolvedDigest) {
  const std::string digest_1 = "sha256:" + std::string(64, '1');
  const std::string digest_2 = "sha256:" + std::string(64, '2');
  auto state = make_state();
  state.set_plan(plan({test_service("web", image_a)}, 2));
  const auto present = [&](const std::string& node, std::string digest) {
    NodeReport result{.generation = state.desired(node)->generation};
    result.images.push_back(
        {.ref = ref_a, .state = ImageState::present, .digest = std::move(digest)});
    state.report(node, std::move(result), now_);
  };
  present("id1", "");
  present("id2", "");
  EXPECT_EQ(state.readiness().pairs_present, 2u);  // no digest known: any content of the tag

  auto changes = state.set_tag_digests({{ref_a, digest_1}});
  EXPECT_EQ(changes.bumped_nodes, (std::vector<std::string>{"id1", "id2"}));
  EXPECT_EQ(state.desired("id1")->images.at(0).digest, digest_1);
  // Both reports were made from a set without the digest: checked against none.
  EXPECT_EQ(state.readiness().pairs_present, 0u);
  EXPECT_TRUE(state.set_tag_digests({{ref_a, digest_1}}).bumped_nodes.empty());
  present("id1", "");  // an agent that predates digests, working from the new set
  present("id2", digest_1);
  EXPECT_EQ(state.readiness().pairs_present, 2u);

  // The tag moved: neither report says anything of the new content.
  changes = state.set_tag_digests({{ref_a, digest_2}});
  EXPECT_EQ(changes.bumped_nodes.size(), 2u);
  EXPECT_EQ(state.desired("id2")->images.at(0).digest, digest_2);
  EXPECT_EQ(state.readiness().pairs_present, 0u);
  auto listing = state.images();
  ASSERT_EQ(listing.images.at(0).nodes.size(), 2u);
  EXPECT_EQ(listing.images[0].nodes[1].state, ImageState::waiting);  // pulls the new content
  present("id1", "");
  present("id2", digest_1);  // a report racing the move
  EXPECT_EQ(state.readiness().pairs_present, 1u);
  present("id2", digest_2);
  EXPECT_EQ(state.readiness().pairs_present, 2u);
}

TEST_F(StateTest, HitsAndMissesCountChangesNotReports) {
  auto state = make_state();
  state.set_plan(plan({test_service("web", image_a), test_service("db", image_b)}, 1));
  auto changes = state.report("id1", report({{ref_a, ImageState::present}}), now_);
  EXPECT_EQ(changes->cache_hits, 1u);
  EXPECT_EQ(changes->cache_misses, 1u);
  changes = state.report("id1", report({{ref_a, ImageState::present}}), now_);
  EXPECT_EQ(changes->cache_hits, 0u);
  EXPECT_EQ(changes->cache_misses, 0u);
  changes = state.report(
      "id1", report({{ref_a, ImageState::present}, {ref_b, ImageState::present}}), now_);
  EXPECT_EQ(changes->cache_hits, 1u);
  EXPECT_EQ(changes->cache_misses, 0u);
}

TEST_F(StateTest, AgentsGoStaleAfterSilence) {
  auto state = make_state();
  state.set_plan(plan({test_service("web", image_a)}, 3));
  EXPECT_EQ(state.agent_counts(now_), (std::pair<std::size_t, std::size_t>{0, 0}));
  state.report("id1", report({}), now_);
  state.desired("id2", now_);  // a poll counts as contact
  EXPECT_EQ(state.agent_counts(now_), (std::pair<std::size_t, std::size_t>{2, 0}));
  auto transitions = state.agent_transitions(now_);
  ASSERT_EQ(transitions.size(), 2u);
  EXPECT_TRUE(transitions[0].connected);
  EXPECT_TRUE(state.agent_transitions(now_).empty());

  const auto later = now_ + std::chrono::seconds(91);
  state.desired("id2", later);
  EXPECT_EQ(state.agent_counts(later), (std::pair<std::size_t, std::size_t>{1, 1}));
  transitions = state.agent_transitions(later);
  ASSERT_EQ(transitions.size(), 1u);
  EXPECT_EQ(transitions[0].node_id, "id1");
  EXPECT_FALSE(transitions[0].connected);
}

}  // namespace
}  // namespace swarm_prepull::controller
