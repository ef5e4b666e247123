// Image GC on a real small disk: node-3's engine runs on a 300 MiB ext4 data
// root (scripts/sandbox small-disk) holding a service's current and previous
// images, a container's image, and two older images of the same repository
// that nothing wants any more. Its agent's thresholds are set from the space
// actually used, so that removing the oldest image is enough:
// - in dry-run, a new wanted image is held (disk_low) and `wait` says so, the
//   metrics say what GC would remove, and nothing is removed;
// - with GC on, the oldest unwanted image goes and nothing else does: the
//   current, the previous (rollback) and the in-use images stay, checked on
//   the node's engine; the space freed admits the held image, which is then
//   pulled; `docker service rollback` starts its task without a pull.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/faults.h"
#include "tests/integration/process_swarm.h"

namespace swarm_prepull::testing {
namespace {

using namespace std::chrono_literals;

constexpr auto converge_limit = 120s;
constexpr std::uint64_t MiB = 1024 * 1024;

struct Space {
  std::uint64_t free = 0;  // for unprivileged writers, as the agent counts it
  std::uint64_t size = 0;
  std::uint64_t used() const { return size - free; }
};

class GcTest : public ProcessSwarmTest {
 protected:
  void SetUp() override { set_up("gc-test"); }

  static Space space_of(const std::string& dir) {
    const auto stat = run_command("stat -f -c '%a %b %S' " + dir);
    std::istringstream in(stat.output);
    std::uint64_t available = 0, blocks = 0, block_size = 0;
    in >> available >> blocks >> block_size;
    return {.free = available * block_size, .size = blocks * block_size};
  }

  const SandboxNode& node3() const { return box_->nodes[2]; }
  std::string on_node3(const std::string& command) const {
    return docker(node3().docker_host, command);
  }

  // The engine's image ID of `ref` on node-3, or "" when absent.
  std::string image_id_on_node3(const std::string& ref) const {
    const auto inspected = run_command(on_node3("image inspect -f '{{.Id}}' " + ref));
    return inspected.status == 0 ? trim(inspected.output) : "";
  }

  // Pulls `image` onto node-3 and returns its Created second, so the test can
  // wait for a later second before the next one: GC orders images it knows
  // nothing more of by Created.
  std::int64_t pull_on_node3(const std::string& image) {
    const auto pulled = run_command(on_node3("pull -q " + image));
    EXPECT_EQ(pulled.status, 0) << pulled.output;
    // The listing gives Created in seconds, as GC reads it.
    const auto images = engine::run_blocking(engines_[2].images());
    EXPECT_TRUE(images) << images.error().to_string();
    for (const auto& listed : images ? *images : std::vector<reconcile::Image>{}) {
      for (const auto& tag : listed.repo_tags) {
        if (tag == image) return listed.created;
      }
    }
    ADD_FAILURE() << image << " not listed on node-3";
    return 0;
  }

  static void wait_for_a_later_second(std::int64_t after) {
    ASSERT_TRUE(wait_until("the wall clock past " + std::to_string(after), 5s, [&] {
      return std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count() > after;
    }));
  }

  // node-3's entry of GET /v1/images' nodes, or null.
  nlohmann::json listed_node3() const {
    const auto listing = controller_images();
    if (!listing.contains("nodes")) return nullptr;
    for (const auto& node : listing["nodes"]) {
      if (node.value("hostname", "") == node3().name) return node;
    }
    return nullptr;
  }

  std::string state_on_node3(const std::string& ref) const {
    return listed_state(ref, node3().name);
  }

  // The running task's image of `service`, or "".
  std::string running_image(const std::string& service) const {
    const auto tasks =
        run_command(docker(manager().docker_host,
                           "service ps --no-trunc --filter desired-state=running --format "
                           "'{{.Image}} {{.CurrentState}}' " +
                               service));
    std::istringstream in(tasks.output);
    std::string image, state;
    while (in >> image >> state) {
      std::string rest;
      std::getline(in, rest);
      if (state == "Running") return image;
    }
    return "";
  }

  std::string logs() const {
    std::string text = "--- controller:\n" + read_text(controller_.log);
    for (const auto& agent : agents_) text += "--- " + agent.log + ":\n" + read_text(agent.log);
    return text;
  }
};

TEST_F(GcTest, RemovesTheOldestUnwantedImageAndKeepsCurrentPreviousAndInUse) {
  SandboxFault fault("small-disk 3 300", "normal-disk 3");
  ASSERT_TRUE(fault.started());
  const std::string data_root = box_->dir + "/" + node3().name + "/data";
  const std::string constraint = "--constraint node.hostname==" + node3().name;
  // The small disk starts as a copy of node-3's data root: what earlier tests
  // left there (the sandbox's seeded images, Created before anything here)
  // would be the oldest candidates. Only this test's images count.
  const auto pruned = run_command(on_node3("image prune --all --force"));
  ASSERT_EQ(pruned.status, 0) << pruned.output;

  // A service on node-3, updated once: current and previous (rollback) images.
  const std::string previous = fresh_runnable_image(12);
  const std::string current = fresh_runnable_image(12);
  const std::string service = name_ + "-app-" + std::to_string(::getpid());
  services_.push_back(service);
  auto made = run_command(docker(
      manager().docker_host,
      "service create --quiet --replicas 1 " + constraint + " --name " + service + " " + previous));
  ASSERT_EQ(made.status, 0) << made.output;
  made = run_command(
      docker(manager().docker_host, "service update --quiet --image " + current + " " + service));
  ASSERT_EQ(made.status, 0) << made.output;
  const std::string previous_ref = pinned(previous);
  const std::string current_ref = service_ref(service);

  // A container's image that nothing else wants, and two older images of the
  // same repository that nothing wants, the first Created before the second.
  const std::string in_use = fresh_runnable_image(12);
  const std::string oldest = fresh_image(20);
  const std::int64_t oldest_created = pull_on_node3(oldest);
  wait_for_a_later_second(oldest_created);
  const std::string older = fresh_image(20);
  pull_on_node3(older);
  made = run_command(
      on_node3("create --name " + name_ + "-keeper-" + std::to_string(::getpid()) + " " + in_use));
  ASSERT_EQ(made.status, 0) << made.output;
  ASSERT_TRUE(wait_until(current_ref + " running on node-3", converge_limit,
                         [&] { return !running_image(service).empty(); }));
  const std::string oldest_id = image_id_on_node3(oldest);
  const std::string older_id = image_id_on_node3(older);
  const std::string in_use_id = image_id_on_node3(in_use);
  const std::string previous_id = image_id_on_node3(previous_ref);
  const std::string current_id = image_id_on_node3(current_ref);
  for (const auto& id : {oldest_id, older_id, in_use_id, previous_id, current_id}) {
    ASSERT_FALSE(id.empty()) << "an image is missing on node-3 before the test";
  }

  // Thresholds from the space used now: removing the oldest image (20 MiB)
  // brings usage below --gc-low, and a wanted 4 MiB image is held until
  // about that much is free again.
  const Space space = space_of(data_root);
  const unsigned low = static_cast<unsigned>((space.used() - 10 * MiB) * 100 / space.size);
  const unsigned high = low + 1;
  const std::uint64_t min_free = space.free + 8 * MiB;
  std::printf(
      "[ note     ] node-3: %.1f MiB used of %.1f MiB; --gc-high %u --gc-low %u "
      "--min-free-disk %llu\n",
      static_cast<double>(space.used()) / MiB, static_cast<double>(space.size) / MiB, high, low,
      static_cast<unsigned long long>(min_free));
  const std::string wanted_image = fresh_image(4);
  const std::string wanted =
      service_ref(create_service("wanted", wanted_image, constraint + " --with-registry-auth"));

  const auto agent_args = [&](const std::string& mode) {
    return std::vector<std::string>{"--data-root",
                                    data_root,
                                    "--min-free-disk",
                                    std::to_string(min_free),
                                    "--gc",
                                    mode,
                                    "--gc-high",
                                    std::to_string(high),
                                    "--gc-low",
                                    std::to_string(low),
                                    "--gc-min-age",
                                    "0s"};
  };
  start_controller();
  agents_.push_back(start_agent(0, token_file_, 1));
  agents_.push_back(start_agent(1, token_file_, 2));
  agents_.push_back(start_agent(2, token_file_, 3, agent_args("dry-run")));
  ASSERT_TRUE(controller_healthy()) << read_text(controller_.log);

  // Dry-run: held, said by wait, counted as what would go, nothing removed.
  ASSERT_TRUE(wait_until(wanted + " held on node-3", converge_limit,
                         [&] { return state_on_node3(wanted) == "held"; }))
      << controller_images().dump() << "\n"
      << logs();
  ASSERT_TRUE(wait_until(
      "a dry-run GC pass counting the oldest image", converge_limit,
      [&] {
        return counter_value(metrics_of(2),
                             "swarm_prepull_gc_removed_images_total{mode=\"dry-run\"}") == 1;
      }))
      << metrics_of(2) << logs();
  const auto waited = run_wait({wanted_image, "--timeout", "60s"});
  EXPECT_EQ(waited.status, 1) << waited.output;
  EXPECT_NE(waited.output.find("held: disk_low on " + node3().name), std::string::npos)
      << waited.output;
  const std::string dry_metrics = metrics_of(2);
  EXPECT_EQ(counter_value(dry_metrics, "swarm_prepull_gc_candidates"), 1) << dry_metrics;
  EXPECT_GE(counter_value(dry_metrics, "swarm_prepull_gc_candidate_bytes"), 20.0 * MiB)
      << dry_metrics;
  EXPECT_EQ(counter_value(dry_metrics, "swarm_prepull_gc_removed_images_total{mode=\"on\"}"), 0)
      << dry_metrics;
  EXPECT_FALSE(image_id_on_node3(oldest).empty()) << "dry-run removed an image";
  EXPECT_NE(read_text(agents_[2].log).find("gc dry-run would remove"), std::string::npos) << logs();
  // The controller shows node-3's space and GC.
  ASSERT_TRUE(wait_until("node-3's GC in GET /v1/images", 30s, [&] {
    const auto node = listed_node3();
    return node.is_object() && node.contains("gc") && node["gc"].value("candidates", 0) == 1;
  })) << controller_images().dump();
  const auto listed = listed_node3();
  EXPECT_EQ(listed["gc"].value("mode", ""), "dry-run") << listed.dump();
  EXPECT_GT(listed.value("disk_size_bytes", 0ull), 250 * MiB) << listed.dump();
  const std::string controller_metrics = run_command("curl -sf -H 'Authorization: Bearer " +
                                                     token() + "' " + controller_url() + "/metrics")
                                             .output;
  EXPECT_NE(controller_metrics.find("swarm_prepull_gc_candidate_bytes{node=\"" + node3().name),
            std::string::npos)
      << controller_metrics;

  // GC on: the oldest goes, the space admits the held image, which arrives.
  agents_[2].stop();
  agents_[2] = start_agent(2, token_file_, 4, agent_args("on"));
  const auto started = ProcessClock::now();
  ASSERT_TRUE(wait_until(wanted + " pulled on node-3 after GC", converge_limit,
                         [&] { return engines_.present_on(2, wanted); }))
      << controller_images().dump() << "\n"
      << logs();
  std::printf("[ note     ] agent with --gc on -> held image on node-3: %.2f s\n",
              seconds_since(started));
  EXPECT_TRUE(image_id_on_node3(oldest_id).empty()) << "the oldest unwanted image is still there";
  EXPECT_EQ(image_id_on_node3(older_id), older_id) << "more than needed was removed";
  EXPECT_EQ(image_id_on_node3(in_use_id), in_use_id) << "an image a container uses was removed";
  EXPECT_EQ(image_id_on_node3(previous_id), previous_id) << "the rollback image was removed";
  EXPECT_EQ(image_id_on_node3(current_id), current_id) << "the current image was removed";
  const std::string on_metrics = metrics_of(2);
  EXPECT_EQ(counter_value(on_metrics, "swarm_prepull_gc_removed_images_total{mode=\"on\"}"), 1)
      << on_metrics;
  EXPECT_GE(counter_value(on_metrics, "swarm_prepull_gc_reclaimed_bytes_total{mode=\"on\"}"),
            20.0 * MiB)
      << on_metrics;
  const std::string agent_log = read_text(agents_[2].log);
  EXPECT_NE(agent_log.find("gc removed"), std::string::npos) << agent_log;
  EXPECT_NE(agent_log.find(oldest_id), std::string::npos) << agent_log;

  // The rollback target is on the node: its task starts without a pull.
  const std::string since = events_time_now();
  made = run_command(docker(manager().docker_host, "service rollback --quiet --detach " + service));
  ASSERT_EQ(made.status, 0) << made.output;
  ASSERT_TRUE(wait_until("the rollback's task running", converge_limit, [&] {
    const auto image = running_image(service);
    const auto reference = reconcile::parse_reference(image);
    return reference && reference->canonical() == previous_ref;
  })) << run_command(docker(manager().docker_host, "service ps --no-trunc " + service)).output;
  const auto pulls = pull_events_since(box_->nodes[2].docker_host, since);
  EXPECT_EQ(pulls.status, 0) << pulls.output;
  const std::string rollback_digest = previous_ref.substr(previous_ref.find('@'));
  EXPECT_EQ(pulls.output.find(rollback_digest), std::string::npos)
      << "the rollback pulled its image on node-3:\n"
      << pulls.output;
}

}  // namespace
}  // namespace swarm_prepull::testing
