// `swarm-prepull controller` as a process against the real sandbox swarm:
// health, the token gate, desired sets equal to `plan`, a long poll woken by
// `docker service create` (the time it took is printed as a figure), three
// engine requests per reconcile, promtool on /metrics, SIGTERM.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <vector>

#include "tests/integration/sandbox.h"
#include "tests/integration/waiting.h"

namespace swarm_prepull::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
constexpr const char* token = "integration-token";

std::string read_text(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string temp_path(const std::string& stem) {
  char path[256];
  std::snprintf(path, sizeof path, "/tmp/swarm-prepull-ctl-%s-XXXXXX", stem.c_str());
  const int fd = ::mkstemp(path);
  if (fd >= 0) ::close(fd);
  return path;
}

// The controller process this test started; killed by pid when the test ends.
class ControllerProcess {
 public:
  ControllerProcess(const std::string& manager, std::vector<std::string> extra = {}) {
    token_path_ = temp_path("token");
    std::ofstream(token_path_) << token << "\n";
    log_path_ = temp_path("log");
    std::vector<std::string> args = {SWARM_PREPULL_BINARY, "controller", "--listen", "127.0.0.1:0",
                                     "--token-file", token_path_, "--host", manager,
                                     // Reports here come from the test, not an agent task.
                                     "--report-binding", "none"};
    for (auto& arg : extra) args.push_back(std::move(arg));
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log_path_.c_str(), O_WRONLY | O_TRUNC);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv;
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    // The listening line tells the port it bound.
    port_ = listening_port(log_path_, 30s);
  }

  ~ControllerProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    std::remove(token_path_.c_str());
    std::remove(log_path_.c_str());
  }

  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  std::string log() const { return read_text(log_path_); }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  // The exit status once the process ended within `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    int status = 0;
    if (!wait_until(
            "the controller to exit", timeout,
            [&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, 5ms)) {
      return std::nullopt;
    }
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  long rss_kib() const {
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  bool exited_ = false;
  std::string token_path_;
  std::string log_path_;
};

struct Reply {
  int status = 0;
  std::string body;
};

// curl: the body, then the status code on the last line.
Reply curl(const std::string& url, bool with_token = true, int max_seconds = 10) {
  std::string command =
      "curl -s --max-time " + std::to_string(max_seconds) + " -w '\\n%{http_code}' ";
  if (with_token) command += "-H 'Authorization: Bearer " + std::string(token) + "' ";
  auto result = run_command(command + "'" + url + "'");
  Reply reply;
  const auto newline = result.output.rfind('\n');
  if (newline == std::string::npos) return reply;
  reply.body = result.output.substr(0, newline);
  reply.status = std::atoi(result.output.c_str() + newline + 1);
  return reply;
}

// Sample values of /metrics by their full series name ("name{labels}").
std::map<std::string, double> scrape(const ControllerProcess& controller) {
  std::map<std::string, double> values;
  std::istringstream lines(curl(controller.url("/metrics"), false).body);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    values[line.substr(0, space)] = std::atof(line.c_str() + space + 1);
  }
  return values;
}

double list_requests(std::map<std::string, double>& values, const std::string& list) {
  return values["swarm_prepull_engine_requests_total{endpoint=\"/" + list + "\"}"];
}

const std::vector<std::string> kLists = {"nodes", "services", "tasks", "configs"};

double passes(std::map<std::string, double>& values) {
  return values["swarm_prepull_reconcile_duration_seconds_count"];
}

double failed_passes(std::map<std::string, double>& values) {
  return values["swarm_prepull_reconcile_errors_total"];
}

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    box_ = sandbox();
    ASSERT_NE(box_, nullptr) << "no sandbox: run scripts/sandbox up (ctest does it as a fixture)";
    manager_ = box_->nodes[0].docker_host;
    controller_ = std::make_unique<ControllerProcess>(manager_);
    ASSERT_GT(controller_->port(), 0) << controller_->log();
    ASSERT_TRUE(wait_until("the controller answering /healthz", 30s, [&] {
      return curl(controller_->url("/healthz"), false).status == 200;
    })) << controller_->log();
    std::random_device random;
    nonce_ = std::to_string(random() % 1000000);
  }

  void TearDown() override {
    for (const auto& name : services_) run_command(docker(manager_, "service rm " + name));
    controller_.reset();  // SIGKILL by pid if still running
  }

  void create_service(const std::string& name, const std::string& args) {
    run_command(docker(manager_, "service rm " + name));
    auto result = run_command(
        docker(manager_, "service create --detach --quiet --name " + name + " " + args));
    ASSERT_EQ(result.status, 0) << result.output;
    services_.push_back(name);
  }

  std::map<std::string, std::string> node_ids() {
    std::map<std::string, std::string> ids;  // hostname -> id
    auto result = run_command(docker(manager_, "node ls --format '{{.Hostname}} {{.ID}}'"));
    std::istringstream lines(result.output);
    for (std::string hostname, id; lines >> hostname >> id;) ids[hostname] = id;
    return ids;
  }

  json desired(const std::string& node_id, const std::string& query = "") {
    auto reply = curl(controller_->url("/v1/nodes/" + node_id + "/desired" + query), true, 30);
    EXPECT_EQ(reply.status, 200) << reply.body;
    return json::parse(reply.body, nullptr, false);
  }

  static std::set<std::string> refs(const json& body) {
    std::set<std::string> result;
    for (const auto& image : body.at("images")) result.insert(image.at("ref").get<std::string>());
    return result;
  }

  const Sandbox* box_ = nullptr;
  std::string manager_;
  std::string nonce_;
  std::unique_ptr<ControllerProcess> controller_;
  std::vector<std::string> services_;
};

TEST_F(ControllerTest, RefusesAgentRequestsWithoutTheToken) {
  const auto ids = node_ids();
  const std::string path = "/v1/nodes/" + ids.at("node-2") + "/desired";
  auto reply = curl(controller_->url(path), false);
  EXPECT_EQ(reply.status, 401);
  EXPECT_EQ(json::parse(reply.body)["error"], "missing or invalid bearer token");
  EXPECT_EQ(curl(controller_->url(path)).status, 200);
  EXPECT_EQ(curl(controller_->url("/v1/nodes/no-such-node/desired")).status, 404);
}

TEST_F(ControllerTest, DesiredSetsMatchThePlan) {
  create_service("ctl-plan-" + nonce_, "--mode global " + box_->images.at(0));
  const auto ids = node_ids();
  // The controller publishes after its debounce, and other activity may
  // change the swarm meanwhile: wait for the two to agree.
  std::map<std::string, std::set<std::string>> from_plan, from_controller;
  std::string plan_error;
  EXPECT_TRUE(wait_until(
      "the controller's desired sets to equal `plan`'s", 60s,
      [&] {
        auto result = run_command("'" + std::string(SWARM_PREPULL_BINARY) +
                                  "' plan --format json --host '" + manager_ + "' 2>&1");
        const json plan = json::parse(result.output, nullptr, false);
        if (result.status != 0 || plan.is_discarded()) {
          plan_error = result.output;
          return false;
        }
        from_plan.clear();
        from_controller.clear();
        for (const auto& node : plan.at("nodes")) {
          auto& set = from_plan[node.at("id").get<std::string>()];
          for (const auto& image : node.at("images"))
            set.insert(image.at("ref").get<std::string>());
          from_controller[node.at("id").get<std::string>()] = refs(desired(node.at("id")));
        }
        return from_plan == from_controller;
      },
      250ms))
      << plan_error;
  EXPECT_EQ(from_plan, from_controller);
  EXPECT_EQ(from_plan.size(), ids.size());
  EXPECT_FALSE(from_plan.at(ids.at("node-2")).empty());
}

TEST_F(ControllerTest, ServiceCreateWakesALongPoll) {
  const auto ids = node_ids();
  const std::string node = ids.at("node-2");
  // An extra image only this test's service names, so that other activity on
  // the sandbox cannot be mistaken for it.
  const std::string marker = box_->registry + "/prepull/ctl-marker:" + nonce_;
  const json before = desired(node);
  const std::uint64_t generation = before.at("generation");
  ASSERT_FALSE(refs(before).contains(marker));

  // A long poll waiting on node-2's next generation, re-armed until the marker
  // shows. Should it not be in flight yet when the service is created, its
  // first answer carries the marker at once: the test holds, only the figure
  // below is then smaller than the true latency.
  auto poll = std::async(std::launch::async, [&]() -> std::pair<json, Clock::time_point> {
    std::uint64_t after = generation;
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (Clock::now() < deadline) {
      json body = desired(node, "?after=" + std::to_string(after) + "&wait=20");
      const auto at = Clock::now();
      if (!body.is_object()) break;
      if (refs(body).contains(marker)) return {body, at};
      after = body.at("generation");
    }
    return {json(), Clock::now()};
  });
  const auto create_started = Clock::now();
  create_service("ctl-bump-" + nonce_,
                 "--label swarm-prepull.images=" + marker + " " + box_->images.at(1));
  const auto create_returned = Clock::now();
  ASSERT_EQ(poll.wait_for(std::chrono::seconds(60)), std::future_status::ready)
      << "no long poll answer with " << marker << " within 60 s\n"
      << controller_->log();
  const auto [body, woke_at] = poll.get();
  ASSERT_TRUE(body.is_object()) << controller_->log();
  EXPECT_GT(body.at("generation").get<std::uint64_t>(), generation);
  const auto ms = [](auto d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  const auto after_return = woke_at - create_returned;
  std::cout << "[ measure ] docker service create took " << ms(create_returned - create_started)
            << " ms; generation bump seen by the long poll " << ms(after_return)
            << " ms after it returned (" << ms(woke_at - create_started)
            << " ms after it started)\n";
  RecordProperty("bump_after_create_returned_ms", std::to_string(ms(after_return)));
}

TEST_F(ControllerTest, AnEventsPassReadsWhatItNamesAndAFullPassFollows) {
  // No resync in this test's time: every full pass after the first is the
  // one that follows an event.
  controller_ = std::make_unique<ControllerProcess>(
      manager_, std::vector<std::string>{"--resync-interval", "10m"});
  ASSERT_GT(controller_->port(), 0) << controller_->log();
  std::map<std::string, double> first;
  // (A scrape in the middle of a pass is a fine baseline: the event's pass
  // below is told from a full one by reading more services than any other list.)
  ASSERT_TRUE(wait_until("the first pass, every list read", 30s, [&] {
    first = scrape(*controller_);
    return passes(first) >= 1 &&
           std::all_of(kLists.begin(), kLists.end(),
                       [&](const std::string& list) { return list_requests(first, list) >= 1; });
  })) << controller_->log();
  EXPECT_EQ(failed_passes(first), 0);
  EXPECT_EQ(first["swarm_prepull_engine_requests_total{endpoint=\"/_ping\"}"], 1);

  // A service event: its pass reads GET /services alone.
  create_service("ctl-count-" + nonce_, "--replicas 0 " + box_->images.at(2));
  const auto more = [&](std::map<std::string, double>& now, const std::string& list) {
    return list_requests(now, list) - list_requests(first, list);
  };
  std::map<std::string, double> second;
  EXPECT_TRUE(wait_until("a pass that read GET /services alone", 30s, [&] {
    second = scrape(*controller_);
    return more(second, "services") > more(second, "nodes") &&
           more(second, "services") > more(second, "tasks") &&
           more(second, "services") > more(second, "configs");
  })) << controller_->log();

  // Tasks have no events: a pass that reads every list follows (a second
  // later, --busy-resync-interval).
  std::map<std::string, double> third;
  EXPECT_TRUE(wait_until("the full pass after the event", 10s, [&] {
    third = scrape(*controller_);
    return std::all_of(kLists.begin(), kLists.end(),
                       [&](const std::string& list) { return more(third, list) >= 1; });
  })) << controller_->log();
  EXPECT_EQ(failed_passes(third), 0);
  std::cout << "[ measure ] passes after the service event: " << passes(third) - passes(first)
            << "; lists read: nodes " << more(third, "nodes") << ", services "
            << more(third, "services") << ", tasks " << more(third, "tasks") << ", configs "
            << more(third, "configs") << "\n";
}

TEST_F(ControllerTest, MetricsPassPromtool) {
  // A service makes the per-image and per-node series appear.
  create_service("ctl-metrics-" + nonce_, "--replicas 0 " + box_->images.at(3));
  EXPECT_TRUE(wait_until("swarm_prepull_image_nodes_desired series on /metrics", 30s, [&] {
    return curl(controller_->url("/metrics"), false)
               .body.find("swarm_prepull_image_nodes_desired{") != std::string::npos;
  }));
  const std::string path = temp_path("metrics");
  auto result = run_command("curl -s '" + controller_->url("/metrics") + "' > " + path +
                            " && /usr/bin/promtool check metrics < " + path + " 2>&1");
  EXPECT_EQ(result.status, 0) << result.output << "\n" << read_text(path);
  EXPECT_NE(read_text(path).find("swarm_prepull_image_nodes_desired"), std::string::npos);
  std::remove(path.c_str());
}

TEST_F(ControllerTest, SigtermStopsWithStatusZeroWhileALongPollWaits) {
  const auto ids = node_ids();
  const json current = desired(ids.at("node-1"));
  // A long poll in flight must not hold the exit up.
  auto poll = std::async(std::launch::async, [&] {
    return curl(controller_->url("/v1/nodes/" + ids.at("node-1") + "/desired?after=" +
                                 std::to_string(current.at("generation").get<std::uint64_t>()) +
                                 "&wait=60"),
                true, 30);
  });
  // In flight: the controller holds a connection whose request it has read
  // (nothing left in the socket's receive queue).
  ASSERT_TRUE(wait_until("the long poll held by the controller", 30s, [&] {
    const auto held = run_command(
        "ss -Htn state established '( sport = :" + std::to_string(controller_->port()) + " )'");
    std::istringstream lines(held.output);
    for (std::string recv_q; lines >> recv_q; lines.ignore(1 << 20, '\n')) {
      if (recv_q == "0") return true;
    }
    return false;
  }));
  std::cout << "[ measure ] controller VmRSS " << controller_->rss_kib() << " KiB\n";
  const auto started = Clock::now();
  ASSERT_EQ(::kill(controller_->pid(), SIGTERM), 0);
  const auto status = controller_->wait_exit(std::chrono::seconds(10));
  const auto took = Clock::now() - started;
  ASSERT_TRUE(status.has_value()) << "still running 10 s after SIGTERM\n" << controller_->log();
  EXPECT_EQ(*status, 0) << controller_->log();
  std::cout << "[ measure ] exit "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
            << " ms after SIGTERM\n";
  EXPECT_EQ(poll.get().status, 200);
}

}  // namespace
}  // namespace swarm_prepull::testing
