// A cluster-local cache filled byte for byte (registry/copy.h), against real
// registries: the sandbox's, behind the test's counting proxy as the origin,
// and a second Debian docker-registry that the test starts as the cache. The
// origin must serve each blob once however often the image is copied, and a
// node that pulled the cache's name must get the origin's name for the cost
// of its manifest: that is what lets every node of a swarm pull from the
// cache and still hold exactly the reference swarm's task asks for.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
#include <string>

#include "engine/registry_auth.h"
#include "reconcile/reference.h"
#include "registry/copy.h"
#include "tests/integration/process_swarm.h"
#include "tests/integration/registry_proxy.h"

namespace swarm_prepull::testing {
namespace {

using namespace std::chrono_literals;

struct Transfer {
  std::uint64_t blob_bytes = 0;  // of blob GETs
  int blob_gets = 0;
  int manifest_requests = 0;
  std::set<std::string> blobs;  // distinct blob targets
};

// What the origin served from request `since` on; to `client` only when given.
Transfer transfer(const std::vector<RegistryProxy::Request>& requests, std::size_t since,
                  const std::string& client = "") {
  Transfer total;
  for (std::size_t index = since; index < requests.size(); ++index) {
    const auto& request = requests[index];
    if (!client.empty() && request.client != client) continue;
    if (request.is_download()) {
      total.blob_bytes += request.bytes;
      ++total.blob_gets;
      total.blobs.insert(request.target);
    }
    if (request.is_manifest()) ++total.manifest_requests;
  }
  return total;
}

// The size of the images the rollout figures use, in MiB:
// SWARM_PREPULL_CACHE_FIGURES_MIB (docs/benchmarks.md has runs at 100), else
// 16, which keeps the suite quick.
int figures_mib() {
  const char* given = std::getenv("SWARM_PREPULL_CACHE_FIGURES_MIB");
  if (given == nullptr || *given == '\0') return 16;
  const int mib = std::atoi(given);
  EXPECT_GE(mib, 2) << "SWARM_PREPULL_CACHE_FIGURES_MIB=" << given << " is not a size of 2 or more";
  return std::max(mib, 2);
}

class CacheCopyTest : public ProcessSwarmTest {
 protected:
  void SetUp() override {
    set_up("cache-copy");
    if (HasFatalFailure()) return;
    if (box_->test_cache_registry.empty() || box_->test_proxy_registry.empty()) {
      GTEST_FAIL() << "the sandbox has no test cache or proxy address: run this tree's "
                      "scripts/sandbox up";
    }
    start_cache();
  }

  void TearDown() override {
    cache_process_.stop();
    ProcessSwarmTest::TearDown();
  }

  // Where the cache registry listens: the address the engines trust, unless
  // a test puts a proxy of its own there.
  virtual std::string cache_listen() const { return box_->test_cache_registry; }

  // A plain registry (no proxy mode) on cache_listen().
  void start_cache() {
    const std::string config = dir_ + "/cache.yml";
    std::ofstream(config) << "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                             "    rootdirectory: "
                          << dir_ << "/cache-data\n  delete:\n    enabled: true\nhttp:\n  addr: "
                          << cache_listen() << "\n";
    cache_process_ =
        Process::start_program("/usr/bin/docker-registry", {"serve", config}, dir_ + "/cache.log");
    ASSERT_TRUE(wait_until("the cache registry to answer", 15s, [&] {
      return run_command("curl -sf http://" + cache_listen() + "/v2/").status == 0;
    })) << read_text(dir_ + "/cache.log");
  }

  static registry::RegistryAddress address(const std::string& host_port) {
    return registry::parse_registry_address("http://" + host_port).value();
  }

  http::Result<registry::CopyReport> copy(registry::Registry& origin, const std::string& ref) {
    registry::Registry cache(address(box_->test_cache_registry), std::nullopt);
    const auto reference = reconcile::parse_reference(ref).value();
    return engine::run_blocking(
        registry::copy_image(origin, cache, reference.path, reference.digest, {}));
  }

  // `ref` (name@digest) named in the cache.
  std::string in_cache(const std::string& ref) const {
    return box_->test_cache_registry + ref.substr(ref.find('/'));
  }

  Process cache_process_;
};

TEST_F(CacheCopyTest, TheOriginServesEachBlobOnceAndANodeGetsTheOriginNameForItsManifest) {
  RegistryProxy proxy(box_->test_proxy_registry, box_->registry);
  const std::string origin_ref = pinned(through_proxy(fresh_image(16)));
  registry::Registry origin(address(box_->test_proxy_registry), std::nullopt);

  const auto before_copy = proxy.requests().size();
  const auto copy_started = ProcessClock::now();
  auto first = copy(origin, origin_ref);
  const double copy_seconds = seconds_since(copy_started);
  ASSERT_TRUE(first) << first.error().to_string();
  const auto copied = transfer(proxy.requests(), before_copy);
  EXPECT_EQ(first->blobs_copied, 2) << "the image is a config and one layer";
  EXPECT_EQ(copied.blob_gets, first->blobs_copied) << "each blob read once from the origin";
  EXPECT_EQ(copied.blob_bytes, first->bytes_copied);
  EXPECT_GE(first->bytes_copied, 16u << 20);
  EXPECT_LT(first->bytes_copied, 17u << 20);
  std::cout << "copy: " << first->bytes_copied << " blob bytes from the origin in " << copy_seconds
            << " s, " << copied.manifest_requests << " manifest requests\n";

  const auto before_again = proxy.requests().size();
  auto again = copy(origin, origin_ref);
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->bytes_copied, 0u);
  EXPECT_EQ(transfer(proxy.requests(), before_again).blob_gets, 0)
      << "a second copy finds the manifest in the cache";

  // node-2 pulls through the cache, then the origin's name: no layer again.
  const std::string cache_ref = in_cache(origin_ref);
  pulled_.push_back(cache_ref);
  const auto& node = box_->nodes[1];
  const auto from_cache = run_command(docker(node.docker_host, "pull -q " + cache_ref));
  ASSERT_EQ(from_cache.status, 0) << from_cache.output;
  const auto before_origin = proxy.requests().size();
  const auto from_origin = run_command(docker(node.docker_host, "pull -q " + origin_ref));
  ASSERT_EQ(from_origin.status, 0) << from_origin.output;
  const auto origin_pull = transfer(proxy.requests(), before_origin);
  EXPECT_EQ(origin_pull.blob_gets, 0) << "the engine reuses the cache's layers by digest";
  EXPECT_GE(origin_pull.manifest_requests, 1);
  const auto untagged = run_command(docker(node.docker_host, "rmi " + cache_ref));
  EXPECT_EQ(untagged.status, 0) << untagged.output;
  EXPECT_TRUE(engines_.present_on(1, origin_ref)) << "the origin's name outlives the cache's";
  EXPECT_FALSE(engines_.present_on(1, cache_ref));

  // Without the cache, a node costs the origin the whole image again.
  const auto before_direct = proxy.requests().size();
  const auto direct = run_command(docker(box_->nodes[2].docker_host, "pull -q " + origin_ref));
  ASSERT_EQ(direct.status, 0) << direct.output;
  EXPECT_GE(transfer(proxy.requests(), before_direct).blob_bytes, first->bytes_copied - 4096);
}

TEST_F(CacheCopyTest, APrivateOriginIsReadWithItsCredentialsAndRefusedWithout) {
  const std::string image = fresh_private_image(1);
  const std::string origin_ref = pinned(image, private_registry_auth());
  auto config =
      engine::parse_docker_config(read_text(box_->private_docker_config + "/config.json"));
  ASSERT_TRUE(config) << config.error().message;

  registry::Registry anonymous(address(box_->private_registry), std::nullopt);
  auto refused = copy(anonymous, origin_ref);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().status, 401u);
  EXPECT_THAT(refused.error().to_string(), ::testing::HasSubstr("none is configured for"));

  registry::Registry with_password(address(box_->private_registry),
                                   config->registries.at(box_->private_registry));
  auto copied = copy(with_password, origin_ref);
  ASSERT_TRUE(copied) << copied.error().to_string();
  EXPECT_EQ(copied->blobs_copied, 2);
}

TEST_F(CacheCopyTest, AStoppedCacheIsAnErrorThatNamesIt) {
  const std::string origin_ref = pinned(fresh_image(1));
  cache_process_.stop();
  registry::Registry origin(address(box_->registry), std::nullopt);
  auto failed = copy(origin, origin_ref);
  ASSERT_FALSE(failed);
  EXPECT_THAT(failed.error().to_string(), ::testing::HasSubstr(box_->test_cache_registry));
}

// The whole path with the controller and three agents: --pull-through makes
// the controller copy the image before any node pulls, every node pulls the
// cache's name and then the origin's, and keeps the origin's only.
class PullThroughTest : public CacheCopyTest {
 protected:
  void start_with_cache(const std::vector<std::string>& extra = {}) {
    start_with_cache_at(box_->test_cache_registry, extra);
  }
  // `cache` as host:port.
  void start_with_cache_at(const std::string& cache, const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"--pull-through",
                                     "http://" + box_->test_proxy_registry + "=http://" + cache};
    args.insert(args.end(), extra.begin(), extra.end());
    start_controller(args);
    ASSERT_TRUE(controller_healthy()) << read_text(controller_.log);
  }
  void start_agents(const std::vector<std::string>& extra = {}) {
    for (std::size_t node = 0; node < box_->nodes.size(); ++node) {
      agents_.push_back(start_agent(node, token_file_, static_cast<int>(node) + 1, extra));
    }
  }
  std::string controller_metrics() const {
    return "\n" + run_command("curl -sf " + controller_url() + "/metrics").output;
  }
  // The controller runs on the host: its requests to the origin come from
  // the cache's (the host bridge's) address.
  std::string controller_client() const {
    return box_->test_cache_registry.substr(0, box_->test_cache_registry.find(':'));
  }
  // Until the controller has copied `count` images into the cache.
  ::testing::AssertionResult copied(int count) {
    return wait_until("the copy into the cache", 60s, [&] {
      return counter_value(controller_metrics(),
                           "swarm_prepull_cache_fills_total{outcome=\"copied\"}") == count;
    });
  }
  // Removes a service that ran tasks, and waits for their containers to go:
  // the images they used can then be removed at the end, so that no later
  // test finds a node's disk fuller than it expects.
  void remove_service(const std::string& service) {
    run_command(docker(manager().docker_host, "service rm " + service));
    std::erase(services_, service);
    for (const auto& node : box_->nodes) {
      EXPECT_TRUE(wait_until("the containers of " + service + " gone from " + node.name, 60s, [&] {
        return run_command(docker(node.docker_host,
                                  "ps -aq --filter label=com.docker.swarm.service.name=" + service))
            .output.empty();
      }));
    }
  }
  struct Rollout {
    double seconds = 0;
    Transfer served;   // all the origin served meanwhile
    Transfer to_copy;  // of which to the controller's copy (it runs on the host)
  };

  // An image of two layers of `mib` / 2 MiB each (the second the same bytes
  // under another path, so another blob), plus busybox when `runnable`.
  std::string two_layer_image(int mib, bool runnable = false) {
    std::string more = "COPY blob /blob-2\n";
    if (runnable) more += kRunnableLines;
    return fresh_image_in(box_->registry, "", "", mib / 2, more);
  }

  struct Deploy {
    std::string service;
    std::string image;  // as the service names it
    std::string ref;    // name@digest, what every node must hold
  };

  // Each service created on its image (0 replicas), one right after the
  // other, until every node holds every ref.
  Rollout through_cache(RegistryProxy& proxy, const std::vector<Deploy>& deploys) {
    const auto before = proxy.requests().size();
    const auto started = ProcessClock::now();
    for (const auto& deploy : deploys) {
      services_.push_back(deploy.service);
      // No command: the image runs as it is (its CMD) when tasks start.
      const auto created = run_command(
          docker(manager().docker_host, "service create --detach --quiet --replicas 0 --name " +
                                            deploy.service + " " + deploy.image));
      EXPECT_EQ(created.status, 0) << created.output;
    }
    for (const auto& deploy : deploys) {
      EXPECT_TRUE(everywhere(deploy.ref)) << read_text(controller_.log);
    }
    const double seconds = seconds_since(started);
    const auto requests = proxy.requests();
    return {seconds, transfer(requests, before), transfer(requests, before, controller_client())};
  }

  // Every node pulls every ref from the origin, all at once.
  Rollout from_origin(RegistryProxy& proxy, const std::vector<std::string>& refs) {
    const auto before = proxy.requests().size();
    const auto started = ProcessClock::now();
    std::string pulls;
    for (const auto& node : box_->nodes) {
      for (const auto& ref : refs) pulls += docker(node.docker_host, "pull -q " + ref) + " & ";
    }
    const auto pulled = run_command("(" + pulls + "wait)");
    EXPECT_EQ(pulled.status, 0) << pulled.output;
    for (const auto& ref : refs) EXPECT_TRUE(engines_.present_everywhere(ref)) << ref;
    return {seconds_since(started), transfer(proxy.requests(), before), {}};
  }

  std::string figures(const std::string& what, const Rollout& rollout) const {
    return what + " to " + std::to_string(box_->nodes.size()) +
           " nodes: " + std::to_string(rollout.seconds) + " s, origin served " +
           std::to_string(rollout.served.blob_bytes) + " blob bytes in " +
           std::to_string(rollout.served.blob_gets) + " GETs (" +
           std::to_string(rollout.served.manifest_requests) + " manifest requests), " +
           std::to_string(rollout.to_copy.blob_bytes) + " of them to the controller's copy\n";
  }

  ::testing::AssertionResult everywhere(const std::string& ref) {
    return wait_until("every node holding " + ref, 90s,
                      [&] { return engines_.present_everywhere(ref); });
  }
};

TEST_F(PullThroughTest, TheOriginServesTheLayersOnceWhateverTheNodesAndTasksStartWithoutAPull) {
  RegistryProxy proxy(box_->test_proxy_registry, box_->registry);
  const int mib = figures_mib();
  const std::string image = through_proxy(two_layer_image(mib, true));
  const std::string origin_ref = pinned(image);
  const std::string cache_ref = in_cache(origin_ref);
  pulled_.push_back(cache_ref);
  start_with_cache();
  if (HasFatalFailure()) return;
  start_agents();
  const std::string service = name_ + "-through-" + std::to_string(::getpid());
  const auto cached = through_cache(proxy, {{service, image, origin_ref}});
  if (HasFatalFailure()) return;
  std::cout << figures("pull through the cache", cached)
            << grep_lines(read_text(controller_.log), "cache fill");
  const auto copied = counter_value(controller_metrics(), "swarm_prepull_cache_fill_bytes_total");
  EXPECT_GE(cached.served.blob_bytes, static_cast<std::uint64_t>(mib / 2 * 2) << 20);
  EXPECT_EQ(static_cast<double>(cached.to_copy.blob_bytes), copied);
  EXPECT_EQ(static_cast<std::size_t>(cached.to_copy.blob_gets), cached.to_copy.blobs.size())
      << "each blob once";
  // The nodes' engines read no layer from the origin: only the manager's
  // config reads of `docker service create` (it resolves the platform).
  EXPECT_LT(cached.served.blob_bytes - cached.to_copy.blob_bytes, 64u * 1024)
      << "about 1x the image, not 3x";
  for (std::size_t node = 0; node < box_->nodes.size(); ++node) {
    EXPECT_FALSE(engines_.present_on(node, cache_ref))
        << "the cache's name stays on node " << node + 1;
    EXPECT_EQ(counter_value("\n" + metrics_of(node), "swarm_prepull_cache_pulls_total"), 1)
        << metrics_of(node);
  }

  // Swarm's tasks find name@digest in every engine: no pull at all.
  const auto before_tasks = proxy.requests().size();
  const auto scaled = run_command(
      docker(manager().docker_host,
             "service update --detach --replicas 3 --replicas-max-per-node 1 " + service));
  ASSERT_EQ(scaled.status, 0) << scaled.output;
  ASSERT_TRUE(wait_until("3 tasks running", 60s, [&] {
    const std::string tasks = running_tasks(service);
    std::size_t running = 0;
    for (auto at = tasks.find(" Running"); at != std::string::npos;
         at = tasks.find(" Running", at + 1)) {
      ++running;
    }
    return running == 3;
  })) << run_command(docker(manager().docker_host, "service ps --no-trunc " + service)).output;
  const auto by_tasks = transfer(proxy.requests(), before_tasks);
  EXPECT_EQ(by_tasks.blob_gets, 0);
  EXPECT_EQ(by_tasks.manifest_requests, 0) << "a digest-pinned task found its image";
  remove_service(service);

  // Side by side: the same size of image pulled by every node from the origin at once.
  const auto direct = from_origin(proxy, {pinned(through_proxy(two_layer_image(mib, true)))});
  std::cout << figures("the same from the origin", direct);
  EXPECT_GT(direct.served.blob_bytes, cached.served.blob_bytes * 2) << "without the cache: 3x";
}

// The case the cache is for: an origin behind a link slower than the nodes'
// link to the cache. Both rollouts cross it; the figures say which is faster.
// Two images, pushed one right after the other, both new to the cache: their
// copies run side by side, and each crosses the link once.
TEST_F(PullThroughTest, BehindASlowOriginLinkEachImageCrossesItOnce) {
  RegistryProxy proxy(box_->test_proxy_registry, box_->registry);
  proxy.limit_rate(25'000'000);  // 200 Mbit/s for all clients together
  start_with_cache();
  if (HasFatalFailure()) return;
  start_agents();
  const int mib = figures_mib();
  std::vector<Deploy> deploys;
  for (const char* which : {"first", "second"}) {
    const std::string image = through_proxy(two_layer_image(mib));
    const std::string origin_ref = pinned(image);
    pulled_.push_back(in_cache(origin_ref));
    deploys.push_back(
        {name_ + "-slow-" + which + "-" + std::to_string(::getpid()), image, origin_ref});
  }
  const auto cached = through_cache(proxy, deploys);
  if (HasFatalFailure()) return;
  const auto direct = from_origin(proxy, {pinned(through_proxy(two_layer_image(mib))),
                                          pinned(through_proxy(two_layer_image(mib)))});
  std::cout << figures("origin at 200 Mbit/s, 2 images through the cache", cached)
            << figures("origin at 200 Mbit/s, 2 images, every node from the origin", direct)
            << "ratio " << cached.seconds / direct.seconds << "\n"
            << grep_lines(read_text(controller_.log), "cache fill");
  EXPECT_LT(cached.served.blob_bytes - cached.to_copy.blob_bytes, 64u * 1024);
  EXPECT_EQ(static_cast<std::size_t>(cached.to_copy.blob_gets), cached.to_copy.blobs.size())
      << "each blob once";
  EXPECT_EQ(cached.to_copy.blobs.size(), 6u) << "2 images of 2 layers and a config each";
  EXPECT_GT(direct.served.blob_bytes, cached.served.blob_bytes * 2);
}

// A cache with a password, as docs/operations.md advises for one that holds
// private images (here the sandbox's htpasswd registry): the controller
// writes to it and every agent reads from it with the credentials the
// registry-config file gives for the cache's host, and the origin still
// serves the layers once.
TEST_F(PullThroughTest, ACacheWithAPasswordIsFilledAndReadWithItsCredentials) {
  RegistryProxy proxy(box_->test_proxy_registry, box_->registry);
  const std::string credentials = box_->private_docker_config + "/config.json";
  const std::string image = through_proxy(fresh_image(4));
  const std::string origin_ref = pinned(image);
  const std::string cache_ref = box_->private_registry + origin_ref.substr(origin_ref.find('/'));
  pulled_.push_back(cache_ref);
  start_with_cache_at(box_->private_registry, {"--registry-auth-file", credentials});
  if (HasFatalFailure()) return;
  start_agents({"--registry-auth-file", credentials});

  const auto rollout = through_cache(
      proxy, {{name_ + "-private-cache-" + std::to_string(::getpid()), image, origin_ref}});
  if (HasFatalFailure()) return;
  std::cout << figures("through a cache with a password", rollout);
  EXPECT_TRUE(copied(1)) << read_text(controller_.log);
  EXPECT_LT(rollout.served.blob_bytes - rollout.to_copy.blob_bytes, 64u * 1024)
      << "the nodes read the layers from the cache";
  for (std::size_t node = 0; node < box_->nodes.size(); ++node) {
    EXPECT_EQ(counter_value("\n" + metrics_of(node), "swarm_prepull_cache_pulls_total"), 1)
        << metrics_of(node);
    EXPECT_FALSE(engines_.present_on(node, cache_ref)) << "node " << node + 1;
  }
}

// A service on a tag swarm did not pin (--no-resolve-image) appears while the
// controller runs (its next tag refresh is minutes away): the controller
// resolves the tag at once and copies what it names, and no node pulls it
// from the origin meanwhile.
TEST_F(PullThroughTest, AnUnpinnedTagIsResolvedAndCopiedBeforeAnyNodePullsIt) {
  RegistryProxy proxy(box_->test_proxy_registry, box_->registry);
  start_with_cache();
  if (HasFatalFailure()) return;
  start_agents();
  const std::string image = through_proxy(fresh_image(4));
  const std::string origin_ref = pinned(image);
  pulled_.push_back(in_cache(origin_ref));
  const std::string service = name_ + "-tag-" + std::to_string(::getpid());
  const auto before = proxy.requests().size();
  services_.push_back(service);
  const auto created = run_command(docker(manager().docker_host,
                                          "service create --detach --quiet --replicas 0 "
                                          "--no-resolve-image --name " +
                                              service + " " + image));
  ASSERT_EQ(created.status, 0) << created.output;
  ASSERT_TRUE(wait_until("every node holding " + image + " by its tag", 90s, [&] {
    return engines_.present_everywhere(image) && engines_.present_everywhere(origin_ref);
  })) << read_text(controller_.log);
  const auto served = transfer(proxy.requests(), before);
  const auto to_copy = transfer(proxy.requests(), before, controller_client());
  std::cout << "unpinned tag through the cache: origin served " << served.blob_bytes
            << " blob bytes, " << to_copy.blob_bytes << " of them to the controller's copy\n";
  EXPECT_GE(to_copy.blob_bytes, 4u << 20);
  // Only the manager's config read when the controller resolves the tag.
  EXPECT_LT(served.blob_bytes - to_copy.blob_bytes, 64u * 1024)
      << "no node read a layer from the origin";
  for (std::size_t node = 0; node < box_->nodes.size(); ++node) {
    EXPECT_EQ(counter_value("\n" + metrics_of(node), "swarm_prepull_cache_pulls_total"), 1)
        << metrics_of(node);
    EXPECT_FALSE(engines_.present_on(node, in_cache(origin_ref)));
  }
}

TEST_F(PullThroughTest, NodesFallBackToTheOriginWhenTheCacheIsGone) {
  RegistryProxy proxy(box_->test_proxy_registry, box_->registry);
  const std::string image = through_proxy(fresh_image(2));
  const std::string origin_ref = pinned(image);
  pulled_.push_back(in_cache(origin_ref));
  start_with_cache();
  if (HasFatalFailure()) return;
  create_service("fallback", image);
  // Copied while no agent runs; then the cache goes away before any pull.
  ASSERT_TRUE(copied(1)) << read_text(controller_.log);
  cache_process_.stop();
  start_agents();
  ASSERT_TRUE(everywhere(origin_ref)) << read_text(dir_ + "/agent-1.log");
  for (std::size_t node = 0; node < box_->nodes.size(); ++node) {
    EXPECT_EQ(counter_value("\n" + metrics_of(node),
                            "swarm_prepull_cache_fallbacks_total{reason=\"network\"}"),
              1)
        << metrics_of(node);
  }
  EXPECT_NE(read_text(dir_ + "/agent-1.log").find("pulling from the origin"), std::string::npos);

  // A copy that fails leaves the nodes to the origin at once.
  const std::string second = through_proxy(fresh_image(1));
  const std::string second_ref = pinned(second);
  create_service("fallback-2", second);
  ASSERT_TRUE(everywhere(second_ref)) << read_text(controller_.log);
  EXPECT_EQ(
      counter_value(controller_metrics(), "swarm_prepull_cache_fills_total{outcome=\"failed\"}"),
      1);
}

// The cache loses what it held (its store wiped, as the new, empty volume of a
// cache moved to another node would be): the controller's next check finds
// the image gone and copies it again. Until then a check asks the cache
// alone: the origin, which may count each manifest request as a pull, sees
// none.
TEST_F(PullThroughTest, ACacheThatLostAnImageGetsItAgainAtTheNextCheck) {
  RegistryProxy proxy(box_->test_proxy_registry, box_->registry);
  const std::string image = through_proxy(fresh_image(2));
  const std::string origin_ref = pinned(image);
  pulled_.push_back(in_cache(origin_ref));
  start_with_cache({"--cache-recheck", "1s", "--log-level", "debug"});
  if (HasFatalFailure()) return;
  create_service("lost", image);
  ASSERT_TRUE(copied(1)) << read_text(controller_.log);

  const auto before_checks = proxy.requests().size();
  const auto checks = [&] {
    const std::string log = read_text(controller_.log);
    int count = 0;
    for (auto at = log.find("cache still holds"); at != std::string::npos;
         at = log.find("cache still holds", at + 1)) {
      ++count;
    }
    return count;
  };
  ASSERT_TRUE(wait_until("two checks of the copy", 30s, [&] { return checks() >= 2; }))
      << read_text(controller_.log);
  const auto by_checks = transfer(proxy.requests(), before_checks, controller_client());
  EXPECT_EQ(by_checks.manifest_requests, 0) << "a check asks the cache, not the origin";
  EXPECT_EQ(by_checks.blob_gets, 0);

  // The registry keeps running on an empty store.
  run_command("rm -rf " + dir_ + "/cache-data");
  ASSERT_TRUE(copied(2)) << read_text(controller_.log);
  EXPECT_NE(read_text(controller_.log).find("cache had lost image="), std::string::npos);
  const auto reference = reconcile::parse_reference(origin_ref).value();
  const std::string manifest_url = "http://" + box_->test_cache_registry + "/v2/" + reference.path +
                                   "/manifests/" + reference.digest;
  const auto head =
      run_command("curl -sf -I -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' " +
                  manifest_url);
  EXPECT_EQ(head.status, 0) << "the cache holds the image again: " << manifest_url;
}

// The origin refuses the nodes' pull of its name (429) right after their pull
// from the cache: the agents drop the cache's name all the same, so that no
// node keeps a name swarm's tasks never ask for.
TEST_F(PullThroughTest, TheCacheNameGoesEvenWhenTheOriginRefusesItsOwn) {
  RegistryProxy proxy(box_->test_proxy_registry, box_->registry);
  const std::string image = through_proxy(fresh_image(2));
  const std::string origin_ref = pinned(image);
  const std::string cache_ref = in_cache(origin_ref);
  pulled_.push_back(cache_ref);
  start_with_cache();
  if (HasFatalFailure()) return;
  create_service("refused", image);
  ASSERT_TRUE(copied(1)) << read_text(controller_.log);
  proxy.set_rate_limited(true);
  start_agents();
  for (std::size_t node = 0; node < box_->nodes.size(); ++node) {
    ASSERT_TRUE(wait_until("node " + std::to_string(node + 1) + "'s pull refused by the origin",
                           60s,
                           [&] {
                             return counter_value("\n" + metrics_of(node),
                                                  "swarm_prepull_pull_failures_total{reason=\"rate_"
                                                  "limited\"}") >= 1;
                           }))
        << metrics_of(node) << read_text(dir_ + "/agent-" + std::to_string(node + 1) + ".log");
    EXPECT_GE(counter_value("\n" + metrics_of(node), "swarm_prepull_cache_pulls_total"), 1)
        << "the layers came from the cache";
    EXPECT_FALSE(engines_.present_on(node, cache_ref)) << "the cache's name stays";
    EXPECT_FALSE(engines_.present_on(node, origin_ref));
  }
  proxy.set_rate_limited(false);
}

// The cache behind a proxy of the test's on the address the engines trust,
// so that a node's download from the cache can be held under way.
class HeldCacheTest : public PullThroughTest {
 protected:
  // The same bridge address, a port the kernel picks: no engine is told of it.
  std::string cache_listen() const override {
    if (listen_.empty()) {
      const auto host = box_->test_cache_registry.substr(0, box_->test_cache_registry.rfind(':'));
      listen_ = host + ":" + std::to_string(free_port(host));
    }
    return listen_;
  }

 private:
  mutable std::string listen_;
};

// A registry's one slot, granted to a node warming through the cache, taken
// by a task swarm starts on another node while that node's download from the
// cache is under way: the warming node cancels it, pulls nothing from the
// origin instead, counts no failure, and once the slot and the cache come
// back every node holds the origin's name and none the cache's.
TEST_F(HeldCacheTest, APullWithdrawnWhileItReadsTheCacheFallsBackToNothing) {
  RegistryProxy origin(box_->test_proxy_registry, box_->registry);
  RegistryProxy cache(box_->test_cache_registry, cache_listen());
  const std::string image = through_proxy(fresh_image(8));
  const std::string origin_ref = pinned(image);
  const std::string cache_ref = in_cache(origin_ref);
  pulled_.push_back(cache_ref);
  start_with_cache({"--max-pulls-per-registry", "1"});
  if (HasFatalFailure()) return;
  const auto service = create_service("withdrawn", image);
  ASSERT_TRUE(copied(1)) << read_text(controller_.log);
  cache.hold_new_blobs(true);
  // Swarm's own pull for the task (from the origin: the task names it) stays
  // under way long enough for the controller to see the task preparing.
  origin.limit_rate(512 * 1024);
  start_agents();

  const auto warming = task_takes_the_slot(service, origin_ref);
  ASSERT_LT(warming, box_->nodes.size());
  EXPECT_TRUE(withdrew_one_pull(warming));
  cache.hold_new_blobs(false);
  origin.limit_rate(0);
  ASSERT_TRUE(wait_until("the image on every node", 120s, [&] {
    return engines_.present_everywhere(origin_ref);
  })) << read_text(controller_.log);
  for (std::size_t node = 0; node < box_->nodes.size(); ++node) {
    EXPECT_TRUE(wait_until("the cache's name gone from node " + std::to_string(node + 1), 30s,
                           [&] { return !engines_.present_on(node, cache_ref); }));
  }

  // Neither the withdrawal nor the pulls after it fell back to the origin:
  // every request the warming node made there is answered and recorded now.
  ASSERT_TRUE(
      wait_until("the origin to end its answers", 10s, [&] { return origin.all_answered(); }));
  const auto log = read_text(agents_[warming].log);
  EXPECT_EQ(log.find("cache pull failed"), std::string::npos) << "fell back to the origin:\n"
                                                              << log;
  // The manager (perhaps the warming node) asks the origin for the manifest
  // and the config blob as it resolves the service; a pull of the origin's
  // name downloads its 8 MiB layer.
  for (const auto& request : origin.requests()) {
    EXPECT_FALSE(request.client == box_->nodes[warming].addr && request.is_download() &&
                 request.bytes >= 1024 * 1024)
        << "the warming node downloaded " << request.target
        << " from the origin; its layers come from the cache\n"
        << log;
  }
}

}  // namespace
}  // namespace swarm_prepull::testing
