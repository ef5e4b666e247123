// A fixture for tests that run swarm-prepull as processes on the sandbox: a
// controller on loopback and agents bound to each node's own engine socket,
// with a folder of their own for logs and the token, stopped by pid and
// cleaned up (with the images the test pulled) at the end.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/client.h"
#include "engine/registry_auth.h"
#include "reconcile/reference.h"
#include "tests/integration/node_engines.h"
#include "tests/integration/processes.h"
#include "tests/integration/sandbox.h"
#include "tests/integration/waiting.h"

namespace swarm_prepull::testing {

using namespace std::chrono_literals;

// The value of one sample in the Prometheus text format (`series` with its
// labels, e.g. `swarm_prepull_agents{state="connected"}`); -1 when absent.
inline double counter_value(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::atof(text.c_str() + at + 1 + series.size() + 1);
}

class ProcessSwarmTest : public ::testing::Test {
 protected:
  // `name` names the folder and the token. Call from SetUp.
  void set_up(const std::string& name) {
    box_ = sandbox();
    if (box_ == nullptr) GTEST_FAIL() << "no sandbox: run scripts/sandbox up";
    ASSERT_GE(box_->nodes.size(), 3u);
    ASSERT_GE(box_->images.size(), 6u);
    name_ = name;
    dir_ = "/tmp/swarm-prepull-" + name + "-" + std::to_string(::getpid());
    run_command("rm -rf " + dir_ + " && mkdir -p " + dir_);
    token_file_ = dir_ + "/token";
    std::ofstream(token_file_) << name << "-token-" << ::getpid() << "\n";
    // Agents are told the controller's address before it may run, and it
    // must come back on the same one after a restart: a port the kernel gave.
    controller_port_ = free_port();
    engines_ = NodeEngines(*box_);
    node_ids_ = engines_.node_ids();
  }

  void TearDown() override {
    for (const auto& service : services_) {
      run_command(docker(manager().docker_host, "service rm " + service));
    }
    for (auto& process : agents_) process.stop();
    controller_.stop();
    for (const auto& ref : pulled_) engines_.remove_everywhere(ref);
    if (!HasFailure()) run_command("rm -rf " + dir_);
  }

  const SandboxNode& manager() const { return box_->nodes[0]; }
  std::string controller_url() const {
    return "http://127.0.0.1:" + std::to_string(controller_port_);
  }

  void start_controller(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {
        "controller", "--listen", "127.0.0.1:" + std::to_string(controller_port_), "--token-file",
        token_file_, "--host", manager().docker_host, "--resync-interval", "5s",
        // The agents here are processes on the host, not swarm tasks.
        "--report-binding", "none"};
    args.insert(args.end(), extra.begin(), extra.end());
    controller_ = Process::start(args, dir_ + "/controller.log");
  }

  // The controller answering /healthz (within a generous deadline).
  ::testing::AssertionResult controller_healthy() const {
    return wait_until("the controller answering " + controller_url() + "/healthz", 30s, [&] {
      return run_command("curl -sf " + controller_url() + "/healthz").status == 0;
    });
  }

  // The agent of box_->nodes[node], serving metrics on a port of its choice
  // (Process::port tells it), logging to agent-<index>.log; no --token-file
  // when `token_file` is empty.
  Process start_agent(std::size_t node, const std::string& token_file, int index,
                      const std::vector<std::string>& extra = {}) {
    return start_agent_on(node_ids_[node], box_->nodes[node].docker_host, token_file, index, extra);
  }

  // The same for any node: a node the test added, say.
  Process start_agent_on(const std::string& node_id, const std::string& docker_host,
                         const std::string& token_file, int index,
                         const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {
        "agent",  "--node-id",   node_id,    "--controller", controller_url(),
        "--host", docker_host,   "--listen", "127.0.0.1:0",  "--check-interval",
        "2s",     "--poll-wait", "10",       "--log-format", "json"};
    if (!token_file.empty()) {
      args.push_back("--token-file");
      args.push_back(token_file);
    }
    // The host's filesystem holds every node's data root here; its share free
    // is the machine's business, not these tests'. Only the disk test (which
    // passes its own, later, so it wins) tests admission.
    args.push_back("--min-free-disk");
    args.push_back("1GiB");
    args.insert(args.end(), extra.begin(), extra.end());
    return Process::start(args, dir_ + "/agent-" + std::to_string(index) + ".log");
  }

  std::string token() const { return trim(read_text(token_file_)); }

  struct WaitResult {
    int status = -1;
    double seconds = 0;
    std::string output;  // stdout and stderr
  };

  // `swarm-prepull COMMAND ARGS` (a client of the controller: wait, status)
  // against this controller, as a process logging to COMMAND-N.log.
  WaitResult run_client(const std::string& command, const std::vector<std::string>& args,
                        std::chrono::seconds limit) {
    std::vector<std::string> all = {command, "--controller", controller_url(), "--token-file",
                                    token_file_};
    all.insert(all.end(), args.begin(), args.end());
    const std::string log =
        dir_ + "/" + command + "-" + std::to_string(++client_runs_[command]) + ".log";
    const auto started = ProcessClock::now();
    auto process = Process::start(all, log);
    WaitResult result;
    result.status = process.wait_exit(limit);
    result.seconds = seconds_since(started);
    result.output = read_text(log);
    return result;
  }

  // `swarm-prepull wait ARGS`, asking every 200 ms.
  WaitResult run_wait(std::vector<std::string> args) {
    args.insert(args.begin(), {"--interval", "200ms"});
    return run_client("wait", args, std::chrono::seconds(120));
  }

  // agents_[node]'s /metrics ("" while it does not answer).
  std::string metrics_of(std::size_t node) {
    const int port = agents_[node].port();
    if (port == 0) return "";
    return run_command("curl -sf http://127.0.0.1:" + std::to_string(port) + "/metrics").output;
  }

  // Now as `docker events --since` reads it, to the nanosecond: a pull that
  // ended within the same second is not counted as later.
  static std::string events_time_now() {
    const auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    char text[32];
    std::snprintf(text, sizeof text, "%lld.%09lld", static_cast<long long>(now_ns / 1000000000),
                  static_cast<long long>(now_ns % 1000000000));
    return text;
  }

  // The image pull events of the engine at `docker_host` from `since`
  // (events_time_now()) until now. It lists up to the next whole second, once
  // that is past, so that the listing ends at once and holds all until now.
  static CommandResult pull_events_since(const std::string& docker_host, const std::string& since) {
    const auto until = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count() +
                       1;
    EXPECT_TRUE(wait_until("the wall clock past " + std::to_string(until), 5s, [&] {
      return std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count() > until;
    }));
    return run_command(
        docker(docker_host, "events --filter type=image --filter event=pull --since " + since +
                                " --until " + std::to_string(until)));
  }

  // The controller's GET /v1/images (an empty object while it does not answer).
  nlohmann::json controller_images() const {
    const auto body = run_command("curl -sf -H 'Authorization: Bearer " + token() + "' " +
                                  controller_url() + "/v1/images");
    auto parsed = nlohmann::json::parse(body.output, nullptr, false);
    return parsed.is_discarded() ? nlohmann::json::object() : parsed;
  }

  // The state GET /v1/images lists for `ref` on the node named `hostname`
  // ("" when it lists none: present there, or not wanted).
  std::string listed_state(const std::string& ref, const std::string& hostname) const {
    const auto images = controller_images();
    for (const auto& listed : images.value("images", nlohmann::json::array())) {
      if (listed.value("ref", "") != ref) continue;
      for (const auto& node : listed.value("nodes", nlohmann::json::array())) {
        if (node.value("hostname", "") == hostname) return node.value("state", "");
      }
    }
    return {};
  }

  // A registry's one slot, granted to a node that only warms `ref` and held
  // there (its download held back), taken by a task swarm starts on another
  // node (`service` updated to one replica there). Returns the warming
  // node's index, or the nodes' count when it failed (with the failure
  // recorded).
  std::size_t task_takes_the_slot(const std::string& service, const std::string& ref) {
    std::size_t warming = box_->nodes.size();
    if (!wait_until("one node pulling, granted the registry's one slot", 60s, [&] {
          for (std::size_t node = 0; node < box_->nodes.size(); ++node) {
            if (listed_state(ref, box_->nodes[node].name) == "pulling") warming = node;
          }
          return warming < box_->nodes.size();
        })) {
      ADD_FAILURE() << read_text(controller_.log);
      return box_->nodes.size();
    }
    const auto& starting = box_->nodes[(warming + 1) % box_->nodes.size()].name;
    const auto& warming_name = box_->nodes[warming].name;
    // Swarm starts a task on another node: preparing while its pull is held.
    const auto scaled =
        run_command(docker(manager().docker_host,
                           "service update --detach --quiet --replicas 1 --constraint-add "
                           "node.hostname==" +
                               starting + " " + service));
    EXPECT_EQ(scaled.status, 0) << scaled.output;
    if (!wait_until("the task's node pulling and the warming node waiting", 60s, [&] {
          return listed_state(ref, starting) == "pulling" &&
                 listed_state(ref, warming_name) == "waiting";
        })) {
      ADD_FAILURE() << warming_name << ": " << listed_state(ref, warming_name) << ", " << starting
                    << ": " << listed_state(ref, starting) << "\ncontroller:\n"
                    << read_text(controller_.log) << "agent on " << warming_name << ":\n"
                    << read_text(agents_[warming].log);
      return box_->nodes.size();
    }
    return warming;
  }

  // Whether agents_[node] withdrew one pull, as a withdrawal and not as a
  // failure.
  ::testing::AssertionResult withdrew_one_pull(std::size_t node) {
    if (!wait_until("the withdrawn pull counted", 30s, [&] {
          return counter_value(metrics_of(node), "swarm_prepull_pulls_withdrawn_total") == 1.0;
        })) {
      return ::testing::AssertionFailure() << metrics_of(node);
    }
    if (read_text(agents_[node].log).find("pull withdrawn") == std::string::npos) {
      return ::testing::AssertionFailure() << "no \"pull withdrawn\" in the agent's log:\n"
                                           << read_text(agents_[node].log);
    }
    if (counter_value(metrics_of(node), "swarm_prepull_pulls_total{result=\"failure\"}") >= 1.0) {
      return ::testing::AssertionFailure() << "a withdrawn pull counted as a failure\n"
                                           << metrics_of(node);
    }
    return ::testing::AssertionSuccess();
  }

  // "<node> <current state>" of each task of `service` that swarm wants
  // running, a line each ("node-4 Running 2 seconds ago").
  std::string running_tasks(const std::string& service) const {
    return run_command(docker(manager().docker_host,
                              "service ps --filter desired-state=running --format "
                              "'{{.Node}} {{.CurrentState}}' " +
                                  service))
        .output;
  }

  // The canonical ref swarm stored for a service (pinned to a digest when the
  // registry answered at create time).
  std::string service_ref(const std::string& service) const {
    const auto image = run_command(
        docker(manager().docker_host,
               "service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.Image}}' " + service));
    const auto reference = reconcile::parse_reference(trim(image.output));
    EXPECT_TRUE(reference) << image.output;
    return reference ? reference->canonical() : "";
  }

  // A service that wants `image` on every node without running anything
  // there (0 replicas: swarm itself pulls nothing, so whatever arrives was
  // pre-pulled); removed at the end.
  // `flags` go to `docker service create`; `environment` before the docker
  // command (DOCKER_CONFIG=... with --with-registry-auth).
  std::string create_service(const std::string& role, const std::string& image,
                             const std::string& flags = "", const std::string& environment = "") {
    const std::string service = name_ + "-" + role + "-" + std::to_string(::getpid());
    services_.push_back(service);
    const auto created =
        run_command(environment + docker(manager().docker_host,
                                         "service create --detach --quiet --replicas 0 " + flags +
                                             " --name " + service + " " + image + " sleep 1"));
    EXPECT_EQ(created.status, 0) << created.output;
    return service;
  }

  // name@digest as the manager's engine resolves the tag: what nodes get.
  // `registry_auth`: an X-Registry-Auth value, for a private registry.
  std::string pinned(const std::string& image, const std::string& registry_auth = "") {
    auto distribution = engine::run_blocking(engines_[0].distribution(image, registry_auth));
    EXPECT_TRUE(distribution) << distribution.error().to_string();
    auto reference = reconcile::parse_reference(image).value();
    reference.digest = distribution ? distribution->digest : "";
    return reference.canonical();
  }

  // An image no service and no other test uses (the sandbox may carry another
  // swarm-prepull stack that keeps the seeded images warm): `mib` MiB of fresh
  // random data, built and pushed through the manager, then removed there, so
  // no node holds it. Removed from every node again at the end.
  std::string fresh_image(int mib = 8) { return fresh_image_in(box_->registry, "", "", mib); }

  // The same, but one a container can run (busybox, stops on SIGTERM), as
  // the sandbox's seeded images are.
  std::string fresh_runnable_image(int mib = 8) {
    return fresh_image_in(box_->registry, "", "", mib, kRunnableLines);
  }
  // The Dockerfile lines that make an image runnable.
  static constexpr const char* kRunnableLines =
      "COPY busybox /bin/busybox\nCMD [\"/bin/busybox\", \"sh\", \"-c\", "
      "\"trap \\\"exit 0\\\" TERM INT; /bin/busybox sleep 2147483647 & wait\"]\n";

  // `image` (of the sandbox registry) named through the test's registry proxy
  // (tests/integration/registry_proxy.h), pinned there too so that it is
  // removed from every node at the end.
  std::string through_proxy(const std::string& image) {
    const std::string proxied = box_->test_proxy_registry + image.substr(box_->registry.size());
    pulled_.push_back(pinned(proxied));
    return proxied;
  }

  // The same in the registry that checks credentials, pushed with them.
  std::string fresh_private_image(int mib = 1) {
    return fresh_image_in(box_->private_registry,
                          "DOCKER_CONFIG='" + box_->private_docker_config + "' ",
                          private_registry_auth(), mib);
  }

  // The X-Registry-Auth value of the sandbox's private registry credentials.
  std::string private_registry_auth() const {
    auto config =
        engine::parse_docker_config(read_text(box_->private_docker_config + "/config.json"));
    EXPECT_TRUE(config) << config.error().message;
    return config ? engine::registry_auth_header(*config, box_->private_registry) : "";
  }

  // `dockerfile_more`: more Dockerfile lines; COPY busybox finds /bin/busybox.
  std::string fresh_image_in(const std::string& registry, const std::string& environment,
                             const std::string& registry_auth, int mib,
                             const std::string& dockerfile_more = "") {
    const std::string context = dir_ + "/image-" + std::to_string(++images_);
    const std::string image = registry + "/prepull/" + name_ + ":" + std::to_string(::getpid()) +
                              "-" + std::to_string(images_);
    run_command("mkdir -p " + context + " && head -c " + std::to_string(mib) + "M /dev/urandom > " +
                context + "/blob && cp /bin/busybox " + context + "/busybox");
    std::ofstream(context + "/Dockerfile") << "FROM scratch\nCOPY blob /blob\n" << dockerfile_more;
    const auto built =
        run_command(docker(manager().docker_host, "build -q -t " + image + " " + context));
    EXPECT_EQ(built.status, 0) << built.output;
    const auto pushed =
        run_command(environment + docker(manager().docker_host, "push -q " + image));
    EXPECT_EQ(pushed.status, 0) << pushed.output;
    run_command("rm -rf " + context);
    const std::string ref = pinned(image, registry_auth);
    engines_.remove_everywhere(image);
    pulled_.push_back(ref);
    for (std::size_t node = 0; node < engines_.size(); ++node) {
      EXPECT_FALSE(engines_.present_on(node, ref)) << box_->nodes[node].name;
    }
    return image;
  }

  const Sandbox* box_ = nullptr;
  std::string name_, dir_, token_file_;
  int controller_port_ = 0;
  std::vector<std::string> node_ids_;
  NodeEngines engines_;
  std::vector<std::string> pulled_;         // removed from every node at the end
  std::vector<std::string> services_;       // removed at the end
  int images_ = 0;                          // fresh images made so far
  std::map<std::string, int> client_runs_;  // by command: their logs' numbers
  Process controller_;
  std::vector<Process> agents_;
};

}  // namespace swarm_prepull::testing
