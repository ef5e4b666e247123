// `swarm-prepull plan` against the real sandbox swarm: services created with
// the docker CLI, the plan read from the manager, compared with the placement
// rules, and for global services with where swarm's scheduler really runs tasks.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "tests/integration/sandbox.h"
#include "tests/integration/waiting.h"

namespace swarm_prepull::testing {
namespace {

using nlohmann::json;
using Hostnames = std::set<std::string>;

class PlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    box_ = sandbox();
    ASSERT_NE(box_, nullptr) << "no sandbox: run scripts/sandbox up (ctest does it as a fixture)";
    ASSERT_GE(box_->nodes.size(), 3u);
    manager_ = box_->nodes[0].docker_host;
  }

  void TearDown() override {
    for (const auto& name : services_) run_command(docker(manager_, "service rm " + name));
    for (const auto& command : cleanups_) run_command(docker(manager_, command));
  }

  // Creates a service (detached: the plan must not wait for tasks).
  void create_service(const std::string& name, const std::string& args) {
    run_command(docker(manager_, "service rm " + name));
    auto result = run_command(
        docker(manager_, "service create --detach --quiet --name " + name + " " + args));
    ASSERT_EQ(result.status, 0) << result.output;
    services_.push_back(name);
  }

  void on_cleanup(std::string command) { cleanups_.push_back(std::move(command)); }

  json plan() {
    auto result = run_command("'" + std::string(SWARM_PREPULL_BINARY) +
                              "' plan --format json --host '" + manager_ + "' 2>&1");
    EXPECT_EQ(result.status, 0) << result.output;
    return json::parse(result.output, nullptr, false);
  }

  // `plan --explain IMAGE --format json` against the manager.
  json explain(const std::string& image) {
    auto result =
        run_command("'" + std::string(SWARM_PREPULL_BINARY) + "' plan --format json --explain '" +
                    image + "' --host '" + manager_ + "' 2>&1");
    EXPECT_EQ(result.status, 0) << result.output;
    return json::parse(result.output, nullptr, false);
  }

  // The hostnames whose plan wants `image` for `service`.
  static Hostnames nodes_wanting(const json& plan, const std::string& service,
                                 std::string* ref = nullptr) {
    Hostnames hostnames;
    for (const auto& node : plan.at("nodes")) {
      for (const auto& image : node.at("images")) {
        for (const auto& name : image.at("services")) {
          if (name == service) {
            hostnames.insert(node.at("hostname").get<std::string>());
            if (ref != nullptr) *ref = image.at("ref").get<std::string>();
          }
        }
      }
    }
    return hostnames;
  }

  // Where swarm runs the service's tasks once every one is running.
  Hostnames running_on(const std::string& service, std::size_t expected) {
    Hostnames hostnames;
    (void)wait_until(
        service + " running " + std::to_string(expected) + " task(s)", std::chrono::seconds(90),
        [&] {
          auto result =
              run_command(docker(manager_, "service ps " + service +
                                               " --filter desired-state=running"
                                               " --format '{{.Node}} {{.CurrentState}}'"));
          hostnames.clear();
          std::istringstream lines(result.output);
          for (std::string node, state, rest;
               lines >> node >> state && std::getline(lines, rest);) {
            if (state == "Running") hostnames.insert(node);
          }
          return hostnames.size() == expected;
        },
        std::chrono::milliseconds(500));
    return hostnames;
  }

  std::string image(int index) const { return box_->images.at(static_cast<std::size_t>(index)); }

  const Sandbox* box_ = nullptr;
  std::string manager_;
  std::vector<std::string> services_;
  std::vector<std::string> cleanups_;
};

TEST_F(PlanTest, ListsEveryNodeSortedByHostname) {
  const json result = plan();
  ASSERT_TRUE(result.is_object()) << result;
  ASSERT_EQ(result.at("nodes").size(), box_->nodes.size());
  std::vector<std::string> hostnames;
  for (const auto& node : result.at("nodes")) hostnames.push_back(node.at("hostname"));
  EXPECT_EQ(hostnames, (std::vector<std::string>{"node-1", "node-2", "node-3"}));
  EXPECT_TRUE(result.at("errors").empty()) << result.at("errors");
}

TEST_F(PlanTest, ConstraintsSelectTheNodesTheRulesSay) {
  ASSERT_EQ(run_command(docker(manager_, "node update --label-add zone=a node-2")).status, 0);
  on_cleanup("node update --label-rm zone node-2");

  create_service("pp-workers", "--constraint node.role==worker " + image(0));
  create_service("pp-zone", "--constraint node.labels.zone==a " + image(1));
  create_service("pp-not-zone", "--constraint 'node.labels.zone!=a' " + image(1));
  create_service("pp-engine", "--constraint engine.labels.sandbox.node==node-3 " + image(2));
  create_service("pp-hostname", "--constraint 'node.hostname!=NODE-1' " + image(4));
  create_service("pp-manager-ip", "--constraint node.ip==" + box_->nodes[0].addr + " " + image(5));
  create_service("pp-zero", "--replicas 0 " + image(3));

  const json result = plan();
  EXPECT_EQ(nodes_wanting(result, "pp-workers"), (Hostnames{"node-2", "node-3"}));
  EXPECT_EQ(nodes_wanting(result, "pp-zone"), (Hostnames{"node-2"}));
  // A missing label compares as empty, so != holds on the unlabelled nodes.
  EXPECT_EQ(nodes_wanting(result, "pp-not-zone"), (Hostnames{"node-1", "node-3"}));
  EXPECT_EQ(nodes_wanting(result, "pp-engine"), (Hostnames{"node-3"}));
  // Values compare case-insensitively.
  EXPECT_EQ(nodes_wanting(result, "pp-hostname"), (Hostnames{"node-2", "node-3"}));
  EXPECT_EQ(nodes_wanting(result, "pp-manager-ip"), (Hostnames{"node-1"}));
  // A service scaled to 0 can be scaled up anywhere.
  EXPECT_EQ(nodes_wanting(result, "pp-zero"), (Hostnames{"node-1", "node-2", "node-3"}));
  EXPECT_TRUE(result.at("errors").empty()) << result.at("errors");
}

TEST_F(PlanTest, DigestPinnedImagesAreHeldByDigest) {
  // The docker CLI resolves the tag at the registry and stores name:tag@digest.
  create_service("pp-pinned", image(0));
  std::string ref;
  EXPECT_EQ(nodes_wanting(plan(), "pp-pinned", &ref).size(), 3u);
  EXPECT_EQ(ref.rfind(box_->registry + "/prepull/small@sha256:", 0), 0u) << ref;
}

TEST_F(PlanTest, DrainedNodesGetNothing) {
  ASSERT_EQ(run_command(docker(manager_, "node update --availability drain node-3")).status, 0);
  on_cleanup("node update --availability active node-3");
  create_service("pp-drained", "--mode global " + image(1));
  EXPECT_EQ(nodes_wanting(plan(), "pp-drained"), (Hostnames{"node-1", "node-2"}));
}

TEST_F(PlanTest, PreviousSpecKeepsTheRollbackImage) {
  create_service("pp-update", "--mode global " + image(0));
  auto update = run_command(
      docker(manager_, "service update --detach --quiet --image " + image(1) + " pp-update"));
  ASSERT_EQ(update.status, 0) << update.output;
  const json result = plan();
  for (const auto& node : result.at("nodes")) {
    std::set<std::string> refs;
    for (const auto& entry : node.at("images")) {
      for (const auto& name : entry.at("services")) {
        if (name == "pp-update") refs.insert(entry.at("ref").get<std::string>());
      }
    }
    EXPECT_EQ(refs.size(), 2u) << node.at("hostname") << ": " << node.at("images");
  }
}

// The plan's nodes for a global service are where the scheduler puts its tasks.
TEST_F(PlanTest, SchedulerAgreesForGlobalServices) {
  create_service("pp-global", "--mode global " + image(0));
  create_service("pp-global-workers", "--mode global --constraint node.role==worker " + image(1));
  const json result = plan();
  const Hostnames everywhere = nodes_wanting(result, "pp-global");
  const Hostnames workers = nodes_wanting(result, "pp-global-workers");
  EXPECT_EQ(everywhere.size(), 3u);
  EXPECT_EQ(workers.size(), 2u);
  EXPECT_EQ(running_on("pp-global", everywhere.size()), everywhere);
  EXPECT_EQ(running_on("pp-global-workers", workers.size()), workers);
}

TEST_F(PlanTest, AWorkerIsRefusedWithTheEnginesMessage) {
  auto result = run_command("'" + std::string(SWARM_PREPULL_BINARY) + "' plan --host '" +
                            box_->nodes[1].docker_host + "' 2>&1");
  EXPECT_EQ(result.status, 3) << result.output;
  EXPECT_NE(result.output.find("not a swarm manager"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("503"), std::string::npos) << result.output;
  EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
}

// --explain agrees with the plan on every node of the live swarm, and says
// why a node is left out in swarm's words.
TEST_F(PlanTest, ExplainAgreesWithThePlanAndNamesTheRule) {
  ASSERT_EQ(run_command(docker(manager_, "node update --label-add zone=a node-2")).status, 0);
  on_cleanup("node update --label-rm zone node-2");
  ASSERT_EQ(run_command(docker(manager_, "node update --availability drain node-3")).status, 0);
  on_cleanup("node update --availability active node-3");
  create_service("pp-explain", "--constraint node.labels.zone==a " + image(1));
  create_service("pp-explain-all", "--mode global " + image(0));

  const json result = plan();
  ASSERT_TRUE(result.is_object()) << result;
  std::set<std::string> refs = {"docker.io/library/never-wanted:1"};
  for (const auto& node : result.at("nodes")) {
    for (const auto& entry : node.at("images")) refs.insert(entry.at("ref").get<std::string>());
  }
  for (const auto& ref : refs) {
    const json explanation = explain(ref);
    ASSERT_TRUE(explanation.is_object()) << ref << ": " << explanation;
    EXPECT_EQ(explanation.at("image"), ref);
    ASSERT_EQ(explanation.at("nodes").size(), result.at("nodes").size()) << ref;
    for (std::size_t n = 0; n < result.at("nodes").size(); ++n) {
      const json& planned = result.at("nodes")[n];
      const json& explained = explanation.at("nodes")[n];
      EXPECT_EQ(explained.at("id"), planned.at("id"));
      bool in_plan = false;
      for (const auto& entry : planned.at("images")) in_plan |= entry.at("ref") == ref;
      EXPECT_EQ(explained.at("placed").get<bool>(), in_plan)
          << ref << " on " << planned.at("hostname") << ": " << explained;
      EXPECT_EQ(explained.at("reason").get<std::string>().empty(), in_plan) << explained;
    }
  }

  std::string constrained;
  ASSERT_EQ(nodes_wanting(result, "pp-explain", &constrained), (Hostnames{"node-2"}));
  std::map<std::string, std::string> reasons;
  const json constrained_explanation = explain(constrained);  // outlives the loop
  for (const auto& node : constrained_explanation.at("nodes")) {
    reasons[node.at("hostname").get<std::string>()] = node.at("reason").get<std::string>();
  }
  EXPECT_EQ(reasons["node-2"], "");
  EXPECT_NE(reasons["node-1"].find("constraint node.labels.zone==a (node has no label zone)"),
            std::string::npos)
      << reasons["node-1"];
  EXPECT_NE(reasons["node-3"].find("node is drained"), std::string::npos) << reasons["node-3"];

  // The table names the same reasons, one line per node.
  auto table = run_command("'" + std::string(SWARM_PREPULL_BINARY) + "' plan --explain '" +
                           constrained + "' --host '" + manager_ + "' 2>&1");
  EXPECT_EQ(table.status, 0) << table.output;
  EXPECT_NE(table.output.find("not placed: node is drained"), std::string::npos) << table.output;
}

TEST_F(PlanTest, ExplainRefusesAnInvalidImageAsABadCommandLine) {
  auto result = run_command("'" + std::string(SWARM_PREPULL_BINARY) +
                            "' plan --explain 'Not/Valid' --host '" + manager_ + "' 2>&1");
  EXPECT_EQ(result.status, 2) << result.output;
  EXPECT_NE(result.output.find("--explain"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace swarm_prepull::testing
