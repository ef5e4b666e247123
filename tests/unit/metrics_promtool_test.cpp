// The metric families: names, labels, label hygiene, and the exposition
// format as `promtool check metrics` (Debian's prometheus package) judges it.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "metrics/metrics.h"

namespace swarm_prepull::metrics {
namespace {

// promtool's verdict on `text`: its exit status and what it printed.
std::pair<int, std::string> promtool(const std::string& text) {
  char path[] = "/tmp/swarm-prepull-metrics-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) return {-1, "mkstemp failed"};
  ::close(fd);
  std::ofstream(path) << text;
  const std::string command = "/usr/bin/promtool check metrics < " + std::string(path) + " 2>&1";
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  char buffer[4096];
  while (pipe != nullptr && std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  const int status = pipe == nullptr ? -1 : ::pclose(pipe);
  std::remove(path);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

bool has_promtool() { return ::access("/usr/bin/promtool", X_OK) == 0; }

TEST(MetricsTest, ControllerExpositionPassesPromtool) {
  ASSERT_TRUE(has_promtool())
      << "no /usr/bin/promtool: scripts/install-deps installs it (prometheus)";
  prometheus::Registry registry;
  ControllerMetrics metrics(registry);
  metrics.common.cache_hits.Increment(3);
  metrics.common.reconcile_duration.Observe(0.02);
  metrics.common.engine_requests.at("/nodes").Increment();
  metrics.image_nodes_desired.set({{"10.0.0.1:5000/app@sha256:abc", 3}, {"redis:7 \"q\"", 1}});
  metrics.image_nodes_present.set({{"10.0.0.1:5000/app@sha256:abc", 1}, {"redis:7 \"q\"", 0}});
  metrics.node_images_missing.set({{"node-1", 2}});
  metrics.agents_connected.Set(2);
  metrics.tag_digest_changes.Increment();
  metrics.services_unpinned.Set(1);
  const std::string text = serialize(registry);
  const auto [status, output] = promtool(text);
  EXPECT_EQ(status, 0) << output << "\n" << text;
  for (const char* name :
       {"swarm_prepull_cache_hits_total", "swarm_prepull_cache_misses_total",
        "swarm_prepull_cache_hit_ratio", "swarm_prepull_image_nodes_desired",
        "swarm_prepull_image_nodes_present", "swarm_prepull_node_images_missing",
        "swarm_prepull_reconcile_duration_seconds", "swarm_prepull_reconcile_errors_total",
        "swarm_prepull_last_reconcile_success_timestamp_seconds",
        "swarm_prepull_engine_requests_total", "swarm_prepull_agents",
        "swarm_prepull_image_tag_digest_changes_total", "swarm_prepull_services_unpinned"}) {
    EXPECT_NE(text.find(std::string("# TYPE ") + name + " "), std::string::npos) << name;
  }
  EXPECT_EQ(text.find("swarm_prepull_pull_failures_total"), std::string::npos);
}

TEST(MetricsTest, AgentExpositionPassesPromtool) {
  ASSERT_TRUE(has_promtool())
      << "no /usr/bin/promtool: scripts/install-deps installs it (prometheus)";
  prometheus::Registry registry;
  AgentMetrics metrics(registry, {"/_ping", "/images/json", "/images/create"});
  metrics.pull_failures.at("rate_limited").Increment();
  metrics.pulls_failure.Increment();
  metrics.pull_duration.Observe(12.5);
  const std::string text = serialize(registry);
  const auto [status, output] = promtool(text);
  EXPECT_EQ(status, 0) << output << "\n" << text;
  for (auto reason : pull_failure_reasons) {
    EXPECT_NE(
        text.find("swarm_prepull_pull_failures_total{reason=\"" + std::string(reason) + "\"}"),
        std::string::npos)
        << reason;
  }
  EXPECT_NE(text.find("swarm_prepull_pulls_total{result=\"success\"} 0"), std::string::npos);
  EXPECT_NE(text.find("# TYPE swarm_prepull_pull_duration_seconds histogram"), std::string::npos);
  EXPECT_EQ(text.find("swarm_prepull_agents"), std::string::npos);
  // Not in contact and no desired set yet: the ratio is unknown, and promtool takes NaN.
  for (const char* line :
       {"swarm_prepull_controller_up 0", "swarm_prepull_controller_last_status 0",
        "swarm_prepull_controller_last_contact_timestamp_seconds 0",
        "swarm_prepull_cache_hit_ratio Nan"}) {
    EXPECT_NE(text.find(std::string(line) + "\n"), std::string::npos) << line;
  }
}

TEST(MetricsTest, PlanGaugesDropValuesThatLeftThePlan) {
  prometheus::Registry registry;
  ControllerMetrics metrics(registry);
  metrics.image_nodes_desired.set({{"a:1", 1}, {"b:1", 2}});
  metrics.image_nodes_desired.set({{"b:1", 3}, {"c:1", 1}});
  EXPECT_EQ(metrics.image_nodes_desired.size(), 2u);
  const std::string text = serialize(registry);
  EXPECT_EQ(text.find("a:1"), std::string::npos);
  EXPECT_NE(text.find("swarm_prepull_image_nodes_desired{image=\"b:1\"} 3"), std::string::npos);
}

TEST(MetricsTest, UnknownLabelValuesAreProgrammerErrors) {
  prometheus::Registry registry;
  AgentMetrics metrics(registry, {"/images/json"});
  EXPECT_THROW(metrics.pull_failures.at("cosmic_rays"), std::out_of_range);
  EXPECT_THROW(metrics.common.engine_requests.at("/nodes"), std::out_of_range);
  EXPECT_TRUE(is_pull_failure_reason("disk_full"));
  EXPECT_FALSE(is_pull_failure_reason("disk"));
}

}  // namespace
}  // namespace swarm_prepull::metrics
