// engine::Client against the real engines of the sandbox swarm (Debian's
// docker.io, API 1.41): negotiation, typed reads on the manager, a worker's
// 503, pulls from the sandbox registry, and the events stream while the docker
// CLI changes the swarm.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>

#include "engine/client.h"
#include "reconcile/reference.h"
#include "tests/integration/sandbox.h"
#include "tests/integration/waiting.h"

namespace swarm_prepull::testing {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using engine::Client;
using engine::engine_errc;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The fromImage/tag pair for a reference: the tag, or the digest when pinned.
engine::PullRequest pull_request(const std::string& text) {
  const auto reference = reconcile::parse_reference(text);
  EXPECT_TRUE(reference) << text << ": " << reference.error().message;
  if (!reference) return {};
  return {reference->name(), reference->digest.empty() ? reference->tag : reference->digest, "",
          ""};
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    box_ = sandbox();
    if (box_ == nullptr) {
      GTEST_FAIL() << "no sandbox: run scripts/sandbox up (ctest does it as a fixture); "
                      "$SWARM_PREPULL_SANDBOX_DIR/env is missing";
    }
    ASSERT_GE(box_->nodes.size(), 3u);
    ASSERT_FALSE(box_->images.empty());
  }

  void TearDown() override {
    for (const auto& name : services_)
      run_command(docker(manager().docker_host, "service rm " + name));
  }

  const SandboxNode& manager() const { return box_->nodes[0]; }
  const SandboxNode& worker() const { return box_->nodes.back(); }

  static std::unique_ptr<Client> client_for(const SandboxNode& node) {
    engine::ClientOptions options;
    auto endpoint = engine::parse_docker_host(node.docker_host);
    EXPECT_TRUE(endpoint) << endpoint.error().to_string();
    options.endpoint = *endpoint;
    options.request_timeout = 10s;
    options.pull_timeout = 120s;
    options.pull_idle_timeout = 30s;
    return std::make_unique<Client>(options);
  }

  // A service made with the docker CLI, removed by TearDown. Zero replicas:
  // the swarm object is what these tests read, no task needs to run.
  std::string create_service(const std::string& role) {
    const std::string name = "engine-test-" + role + "-" + std::to_string(::getpid());
    run_command(docker(manager().docker_host, "service rm " + name));
    services_.push_back(name);
    const auto created = run_command(
        docker(manager().docker_host, "service create --detach --quiet --replicas 0 --name " +
                                          name + " " + box_->images.front()));
    EXPECT_EQ(created.status, 0) << created.output;
    return name;
  }

  const Sandbox* box_ = nullptr;
  std::vector<std::string> services_;
};

TEST_F(EngineTest, NegotiatesApi141WithEveryNode) {
  for (const SandboxNode& node : box_->nodes) {
    auto client = client_for(node);
    const auto start = Clock::now();
    const auto version = engine::run_blocking(client->negotiate());
    ASSERT_TRUE(version) << version.error().to_string();
    // Debian 12's docker.io (20.10.24) speaks exactly 1.41, our minimum.
    EXPECT_EQ(*version, (engine::ApiVersion{1, 41})) << node.name;
    std::printf("[ figures  ] %s: API %s negotiated in %.1f ms\n", node.name.c_str(),
                version->to_string().c_str(), seconds_since(start) * 1000);
  }
}

TEST_F(EngineTest, ListsTheThreeReadyNodesOnTheManager) {
  auto client = client_for(manager());
  const auto nodes = engine::run_blocking(client->nodes());
  ASSERT_TRUE(nodes) << nodes.error().to_string();
  std::set<std::string> hostnames;
  int leaders = 0;
  for (const auto& node : *nodes) {
    hostnames.insert(node.hostname);
    EXPECT_EQ(node.state, "ready") << node.hostname;
    EXPECT_EQ(node.availability, "active") << node.hostname;
    EXPECT_FALSE(node.platform.architecture.empty());
    leaders += node.leader ? 1 : 0;
  }
  std::set<std::string> expected;
  for (const auto& node : box_->nodes) expected.insert(node.name);
  EXPECT_EQ(hostnames, expected);
  EXPECT_EQ(nodes->size(), box_->nodes.size());
  EXPECT_EQ(leaders, 1);
  EXPECT_EQ(client->api_version(), (engine::ApiVersion{1, 41}));
}

TEST_F(EngineTest, ListsServicesTasksAndConfigs) {
  const std::string name = create_service("list");
  auto client = client_for(manager());
  const auto services = engine::run_blocking(client->services());
  ASSERT_TRUE(services) << services.error().to_string();
  const auto found = std::find_if(services->begin(), services->end(),
                                  [&](const auto& service) { return service.spec.name == name; });
  ASSERT_NE(found, services->end()) << name << " not among " << services->size() << " services";
  // The CLI pins the digest it resolved at the registry (NOTES.md).
  EXPECT_THAT(found->spec.image, ::testing::StartsWith(box_->images.front() + "@sha256:"));
  EXPECT_EQ(found->spec.mode, reconcile::ServiceMode::replicated);
  EXPECT_EQ(found->spec.replicas, 0u);

  // Filters reach the engine: by name, exactly this one service.
  const auto filtered = engine::run_blocking(client->services({{"name", {name}}}));
  ASSERT_TRUE(filtered) << filtered.error().to_string();
  ASSERT_EQ(filtered->size(), 1u);
  EXPECT_EQ(filtered->front().id, found->id);

  const auto tasks = engine::run_blocking(client->tasks({{"service", {found->id}}}));
  ASSERT_TRUE(tasks) << tasks.error().to_string();
  EXPECT_TRUE(tasks->empty());  // zero replicas
  ASSERT_TRUE(engine::run_blocking(client->configs()));
  const auto info = engine::run_blocking(client->get_json("/info"));
  ASSERT_TRUE(info) << info.error().to_string();
  EXPECT_EQ((*info)["Swarm"]["ControlAvailable"], true);
}

TEST_F(EngineTest, WorkerAnswers503NotASwarmManager) {
  auto client = client_for(worker());
  const auto nodes = engine::run_blocking(client->nodes());
  ASSERT_FALSE(nodes);
  const engine::Error& error = nodes.error();
  EXPECT_EQ(error.code, engine_errc::unavailable);
  EXPECT_EQ(error.status, 503u);
  EXPECT_EQ(error.request, "GET /v1.41/nodes");
  EXPECT_EQ(error.endpoint, worker().docker_host);
  EXPECT_THAT(error.message, ::testing::StartsWith("This node is not a swarm manager."));
  std::printf("[ figures  ] %s\n", error.to_string().c_str());
}

// Removes `image` from the engine, pulls it again and finds it in /images/json
// by tag and by digest, and under its digest the way swarm pins it.
void pull_and_find(Client& client, const std::string& node, const std::string& image) {
  SCOPED_TRACE(image + " on " + node);
  // Start from nothing: the tag may be left from an earlier run or a service.
  const auto removed = engine::run_blocking(client.remove_image(image, /*force=*/true));
  if (!removed) {
    EXPECT_EQ(removed.error().code, engine_errc::not_found) << removed.error().to_string();
  }
  const auto gone = engine::run_blocking(client.inspect_image(image));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, engine_errc::not_found);

  // What the registry says, before pulling: the digest the pull must end on.
  const auto distribution = engine::run_blocking(client.distribution(image));
  ASSERT_TRUE(distribution) << distribution.error().to_string();

  int progress_lines = 0;
  const auto start = Clock::now();
  const auto pulled = engine::run_blocking(
      client.pull(pull_request(image), [&](const engine::PullProgress&) { ++progress_lines; }));
  const double elapsed = seconds_since(start);
  ASSERT_TRUE(pulled) << pulled.error().to_string();
  EXPECT_GT(progress_lines, 0);
  EXPECT_EQ(pulled->digest, distribution->digest);
  EXPECT_THAT(pulled->status, HasSubstr(image));

  const auto images = engine::run_blocking(client.images());
  ASSERT_TRUE(images) << images.error().to_string();
  const std::string repository = pull_request(image).repository;
  const auto present = std::find_if(images->begin(), images->end(), [&](const auto& entry) {
    return std::find(entry.repo_tags.begin(), entry.repo_tags.end(), image) !=
           entry.repo_tags.end();
  });
  ASSERT_NE(present, images->end()) << image << " not in /images/json of " << node;
  EXPECT_THAT(present->repo_digests, ::testing::Contains(repository + "@" + pulled->digest));
  std::printf("[ figures  ] pulled %s (%.1f MB) onto %s in %.3f s, %d progress lines\n",
              image.c_str(), present->size / 1e6, node.c_str(), elapsed, progress_lines);

  const auto by_digest =
      engine::run_blocking(client.inspect_image(repository + "@" + pulled->digest));
  ASSERT_TRUE(by_digest) << by_digest.error().to_string();
  EXPECT_EQ(by_digest->id, present->id);
}

TEST_F(EngineTest, PullsEverySeededImageOntoAWorkerAndFindsItThere) {
  auto client = client_for(worker());
  for (const std::string& image : box_->images) pull_and_find(*client, worker().name, image);
}

TEST_F(EngineTest, PullOfAMissingTagIsTheEnginesNotFound) {
  auto client = client_for(worker());
  const auto pulled = engine::run_blocking(client->pull(pull_request(box_->missing_image)));
  ASSERT_FALSE(pulled);
  EXPECT_EQ(pulled.error().code, engine_errc::not_found) << pulled.error().to_string();
  EXPECT_EQ(pulled.error().status, 404u);
  EXPECT_THAT(pulled.error().message, HasSubstr("manifest unknown"));
  std::printf("[ figures  ] %s\n", pulled.error().to_string().c_str());

  // The registry-side check fails the same reference before any pull.
  const auto distribution = engine::run_blocking(client->distribution(box_->missing_image));
  ASSERT_FALSE(distribution);
  EXPECT_EQ(distribution.error().code, engine_errc::not_found);
  std::printf("[ figures  ] %s\n", distribution.error().to_string().c_str());
}

TEST_F(EngineTest, EventsShowAServiceCreatedWithTheCli) {
  auto client = client_for(manager());
  ASSERT_TRUE(engine::run_blocking(client->negotiate()));

  // The stream runs on its own thread; the CLI runs here.
  net::io_context io;
  net::cancellation_signal stop;
  std::mutex mutex;
  std::vector<std::pair<reconcile::Event, Clock::time_point>> events;
  std::optional<engine::Error> ended;
  engine::EventOptions options;  // service, node and config events
  net::co_spawn(
      io,
      client->follow_events(options,
                            [&](const reconcile::Event& event) {
                              const std::lock_guard lock(mutex);
                              events.emplace_back(event, Clock::now());
                            }),
      net::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr, engine::Error error) {
        const std::lock_guard lock(mutex);
        ended = std::move(error);
      }));
  std::thread runner([&] { io.run(); });

  // The create event of a service, and when the stream delivered it.
  std::optional<Clock::time_point> seen;
  std::string service_id;
  const auto find_create = [&](const std::string& name) {
    const std::lock_guard lock(mutex);
    for (const auto& [event, at] : events) {
      const auto attribute = event.actor_attributes.find("name");
      if (event.type == "service" && event.action == "create" &&
          attribute != event.actor_attributes.end() && attribute->second == name) {
        seen = at;
        service_id = event.actor_id;
        return true;
      }
    }
    return ended.has_value();
  };
  // The stream is open once it delivers an event: a probe service's create,
  // made again until one shows (one made before the stream opened is missed).
  int probes = 0;
  const auto open = wait_until(
      "the events stream delivering a probe service's create event", 60s,
      [&] {
        const std::string probe = create_service("events-probe-" + std::to_string(++probes));
        return wait_until(
            "the probe's create event", 3s, [&] { return find_create(probe); }, 10ms);
      },
      0ms);
  seen.reset();
  const bool stream_ended = [&] {
    const std::lock_guard lock(mutex);
    return ended.has_value();
  }();

  const auto create_start = Clock::now();
  std::string service;
  Clock::time_point created;
  if (open && !stream_ended) {
    service = create_service("events");
    created = Clock::now();
    (void)wait_until(
        "the service's create event", 30s, [&] { return find_create(service); }, 10ms);
  }
  net::post(io, [&] { stop.emit(net::cancellation_type::terminal); });
  runner.join();

  ASSERT_TRUE(open) << (ended ? "the stream ended: " + ended->to_string() : "");
  ASSERT_TRUE(seen.has_value()) << "no service create event for " << service << " within 30 s"
                                << (ended ? "; the stream ended: " + ended->to_string() : "");
  EXPECT_FALSE(service_id.empty());
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->code, engine_errc::cancelled) << ended->to_string();
  std::printf(
      "[ figures  ] service create event %.1f ms after `docker service create` returned "
      "(%.1f ms after it started)\n",
      std::chrono::duration<double, std::milli>(*seen - created).count(),
      std::chrono::duration<double, std::milli>(*seen - create_start).count());
}

TEST_F(EngineTest, EventsResumeFromSince) {
  // An event that happened while nobody followed is replayed from `since`.
  const auto since = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::system_clock::now().time_since_epoch() - 1s)
                         .count();
  const std::string service = create_service("since");
  auto client = client_for(manager());
  net::io_context io;
  net::cancellation_signal stop;
  std::optional<engine::Error> ended;
  bool replayed = false;
  engine::EventOptions options;
  options.filters = {{"type", {"service"}}, {"service", {service}}};
  options.since_nano = since;
  net::co_spawn(
      io,
      client->follow_events(options,
                            [&](const reconcile::Event& event) {
                              if (event.action == "create") {
                                replayed = true;
                                stop.emit(net::cancellation_type::terminal);
                              }
                            }),
      net::bind_cancellation_slot(
          stop.slot(), [&](std::exception_ptr, engine::Error error) { ended = std::move(error); }));
  io.run_for(10s);
  EXPECT_TRUE(replayed);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->code, engine_errc::cancelled);
}

}  // namespace
}  // namespace swarm_prepull::testing
