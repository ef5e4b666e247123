// Disk admission on a real small disk: node-3's engine runs on a 200 MiB
// ext4 data root (scripts/sandbox small-disk) that a filler image leaves
// below its agent's --min-free-disk. A wanted image is then held there with
// disk_low (never pulled), `wait` fails at once naming node-3 and its free
// space, and once the filler is removed the agent pulls it by itself.
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

class DiskTest : public ProcessSwarmTest {
 protected:
  void SetUp() override { set_up("disk-test"); }

  // Free bytes (for unprivileged writers, as the agent counts them) on `dir`'s filesystem.
  static std::uint64_t free_bytes(const std::string& dir) {
    const auto stat = run_command("stat -f -c '%a %S' " + dir);
    std::istringstream in(stat.output);
    std::uint64_t blocks = 0, size = 0;
    in >> blocks >> size;
    return blocks * size;
  }

  std::string logs() const {
    std::string text = "--- controller:\n" + read_text(controller_.log);
    for (const auto& agent : agents_) text += "--- " + agent.log + ":\n" + read_text(agent.log);
    return text;
  }
};

TEST_F(DiskTest, HeldBelowTheThresholdThenPulledOnceSpaceIsFreed) {
  SandboxFault fault("small-disk 3 200", "normal-disk 3");
  ASSERT_TRUE(fault.started());
  const auto& node3 = box_->nodes[2];
  const std::string data_root = box_->dir + "/" + node3.name + "/data";

  // Fill node-3 so that less than the threshold is free, by a margin that
  // removing the filler gives back. A pull needs room for the compressed
  // blob and the extracted layer at once, hence a filler well under half the disk.
  const std::string filler = fresh_image(70);
  const auto pulled = run_command(docker(node3.docker_host, "pull -q " + filler));
  ASSERT_EQ(pulled.status, 0) << pulled.output;
  const std::uint64_t free_before = free_bytes(data_root);
  const std::uint64_t threshold = free_before + 35 * MiB;
  std::printf("[ note     ] node-3 free with the filler: %.1f MiB, --min-free-disk %llu\n",
              static_cast<double>(free_before) / MiB, static_cast<unsigned long long>(threshold));

  start_controller();
  for (std::size_t node = 0; node < box_->nodes.size(); ++node) {
    std::vector<std::string> extra;
    if (node == 2) extra = {"--data-root", data_root, "--min-free-disk", std::to_string(threshold)};
    agents_.push_back(start_agent(node, token_file_, static_cast<int>(node) + 1, extra));
  }
  ASSERT_TRUE(controller_healthy()) << read_text(controller_.log);

  const std::string image = fresh_image(20);
  const std::string ref = service_ref(create_service("held", image));
  ASSERT_TRUE(wait_until(ref + " on node-1 and node-2", converge_limit, [&] {
    return engines_.present_on(0, ref) && engines_.present_on(1, ref);
  })) << logs();
  ASSERT_TRUE(wait_until("node-3 listed held for " + ref, converge_limit,
                         [&] { return listed_state(ref, node3.name) == "held"; }))
      << controller_images().dump() << "\n"
      << logs();
  EXPECT_FALSE(engines_.present_on(2, ref)) << "pulled although held";
  const std::string metrics = metrics_of(2);
  EXPECT_EQ(counter_value(metrics, "swarm_prepull_images_held{reason=\"disk_low\"}"), 1) << metrics;
  EXPECT_LT(counter_value(metrics, "swarm_prepull_disk_free_bytes"), static_cast<double>(threshold))
      << metrics;
  EXPECT_GT(counter_value(metrics, "swarm_prepull_disk_size_bytes"), 150.0 * MiB) << metrics;
  // Held is not a failure: nothing was tried.
  EXPECT_LE(counter_value(metrics, "swarm_prepull_pulls_total{result=\"failure\"}"), 0) << metrics;

  // wait fails at once, naming node-3 and how much is free there.
  const auto waited = run_wait({image, "--timeout", "60s"});
  EXPECT_EQ(waited.status, 1) << waited.output;
  EXPECT_NE(waited.output.find("held: disk_low on node-3"), std::string::npos) << waited.output;
  EXPECT_NE(waited.output.find("MiB free of"), std::string::npos) << waited.output;
  EXPECT_LT(waited.seconds, 30) << waited.output;
  std::printf("[ note     ] wait on a held node: exit %d after %.2f s: %s", waited.status,
              waited.seconds, waited.output.c_str());

  // Space comes back: the agent pulls it by itself, no restart.
  const auto freed_at = ProcessClock::now();
  const auto removed = run_command(docker(node3.docker_host, "rmi -f " + filler));
  ASSERT_EQ(removed.status, 0) << removed.output;
  ASSERT_TRUE(wait_until(ref + " on node-3 after the filler went", converge_limit,
                         [&] { return engines_.present_on(2, ref); }))
      << controller_images().dump() << "\n"
      << logs();
  std::printf("[ note     ] filler removed -> image on node-3: %.2f s\n", seconds_since(freed_at));
  EXPECT_TRUE(wait_until("node-3's held gauge back to 0", 30s, [&] {
    return counter_value(metrics_of(2), "swarm_prepull_images_held{reason=\"disk_low\"}") == 0;
  })) << metrics_of(2);
}

}  // namespace
}  // namespace swarm_prepull::testing
