// The one client of the agent API against the real controller on loopback:
// the agent's calls (desired set, status report) and the gate's (warm,
// readiness) in both directions, and failures in the controller's words.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "agent/state.h"
#include "api/controller_client.h"
#include "tests/unit/controller_test_support.h"
#include "tests/unit/loopback_controller.h"

namespace swarm_prepull::api {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using swarm_prepull::testing::test_node;
using swarm_prepull::testing::test_service;
using ::testing::HasSubstr;

class ApiClientTest : public testing::LoopbackControllerTest {
 protected:
  void SetUp() override { start(loopback_options()); }

  void publish(std::vector<reconcile::Service> services) {
    on_loop([&] {
      std::vector<reconcile::Node> nodes = {test_node("id1", "node-1"), test_node("id2", "node-2")};
      controller_->apply_plan(reconcile::desired_images(nodes, services));
      return 0;
    });
  }

  ControllerClientOptions client_options(std::string node_id = "id1", std::string token = "t0ken") {
    auto url = parse_controller_url("http://127.0.0.1:" + std::to_string(port_));
    EXPECT_TRUE(url);
    return {.url = *url, .node_id = std::move(node_id), .token = std::move(token), .wait = 0s};
  }

  // Runs one call of the client on this thread to its end.
  template <class T>
  T call(net::awaitable<T> operation) {
    net::io_context context;
    auto future = net::co_spawn(context, std::move(operation), net::use_future);
    context.run();
    return future.get();
  }
};

TEST_F(ApiClientTest, TheAgentsCallsRoundTrip) {
  publish({test_service("web", "registry.test/a:1"), test_service("db", "registry.test/b:1")});
  ControllerClient client(client_options());
  const auto set = call(client.desired(0));
  ASSERT_TRUE(set) << set.error().to_string();
  EXPECT_EQ(set->node_id, "id1");
  EXPECT_EQ(set->hostname, "node-1");
  ASSERT_EQ(set->images.size(), 2u);

  // The agent's own report, as its state machine builds it.
  class FixedRandom final : public agent::RandomSource {
    double uniform01() override { return 0.0; }
  } random;
  agent::AgentState agent({.max_concurrent_pulls = 2}, random);
  agent.set_desired(*set);
  agent.observe_present({"registry.test/a:1"});
  agent.start_pulls(agent::Clock::now(), 0);
  agent.finish_pull("registry.test/b:1",
                    agent::PullFailure{agent::Reason::not_found, "manifest unknown"}, {},
                    agent::Clock::now());
  const auto sent = call(client.post_status(agent.status_report("0.1.0", "20.10.24")));
  ASSERT_TRUE(sent) << sent.error().to_string();

  // What the controller made of it, as `wait` reads it.
  const auto listing = call(client.images());
  ASSERT_TRUE(listing) << listing.error().to_string();
  ASSERT_EQ(listing->images.size(), 2u);
  EXPECT_EQ(listing->images[0].ref, "registry.test/a:1");
  EXPECT_EQ(listing->images[0].nodes_present, 1u);
  ASSERT_EQ(listing->images[1].failures.size(), 1u);
  EXPECT_EQ(listing->images[1].failures[0].reason, FailureReason::not_found);
  EXPECT_EQ(listing->images[1].failures[0].hostname, "node-1");
  EXPECT_EQ(listing->images[1].failures[0].stage, FailureStage::pull);
}

TEST_F(ApiClientTest, FailuresAreInTheControllersWords) {
  ControllerClient client(client_options());
  // Before the first reconcile: unavailable, with the controller's message.
  auto set = call(client.desired(0));
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().code, api_errc::unavailable);
  EXPECT_EQ(set.error().message, "no reconcile has completed yet");

  publish({test_service("web", "registry.test/a:1")});
  ControllerClient stranger(client_options("zzz"));
  set = call(stranger.desired(0));
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().code, api_errc::not_found);
  EXPECT_EQ(set.error().status, 404u);
  EXPECT_EQ(set.error().message, "node zzz is not in the swarm");

  ControllerClient impostor(client_options("id1", "wrong"));
  const auto sent = call(impostor.post_status({}));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, api_errc::unauthorized);
  EXPECT_EQ(sent.error().message, "missing or invalid bearer token");
  EXPECT_THAT(sent.error().to_string(), HasSubstr("POST /v1/nodes/id1/status at tcp://127.0.0.1:"));
  EXPECT_THAT(sent.error().to_string(), HasSubstr("the controller refused the token (HTTP 401)"));
  EXPECT_THAT(sent.error().to_string(), ::testing::Not(HasSubstr("engine")));

  // A warm request the controller refuses: its message says where.
  const auto refused =
      call(client.warm({.images = {"docker.io/library/a:1"}, .constraints = {"node.role=worker"}}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, api_errc::rejected);
  EXPECT_THAT(refused.error().message, ::testing::StartsWith("constraints[0]: 'node.role=worker'"));
}

TEST_F(ApiClientTest, NoControllerIsUnreachable) {
  auto options = client_options();
  options.url.endpoint.port = 1;  // on loopback: nothing listens there
  ControllerClient client(options);
  const auto listing = call(client.images(2s));
  ASSERT_FALSE(listing);
  EXPECT_EQ(listing.error().code, api_errc::unreachable);
}

}  // namespace
}  // namespace swarm_prepull::api
