// Warm requests (POST /v1/warm): validation, resolution by the manager's
// engine (a scripted resolver here), placement, idempotence, expiry, and what
// GET /v1/images and the metrics say about them.
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <cstdio>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "controller/controller.h"
#include "controller/warm.h"
#include "tests/unit/controller_test_support.h"
#include "tests/unit/loopback_controller.h"

namespace swarm_prepull::controller {
namespace {

using nlohmann::json;
using swarm_prepull::testing::http_call;
using swarm_prepull::testing::test_node;
using swarm_prepull::testing::test_service;
using verb = http::verb;
using engine::engine_errc;

const auto& token = testing::loopback_token;
const std::string digest = "sha256:" + std::string(64, 'a');

engine::Error engine_error(engine_errc code, unsigned status, std::string message) {
  return engine::Error{make_error_code(code), "unix:///x.sock", "GET /v1.41/distribution/x/json",
                       status, std::move(message)};
}

class ControllerWarmTest : public testing::LoopbackControllerTest {
 protected:
  void SetUp() override {
    auto options = loopback_options();
    options.resolve_timeout = std::chrono::milliseconds(300);
    options.resolve =
        [this](std::string ref) -> net::awaitable<engine::Result<engine::Distribution>> {
      ++resolve_calls_;
      if (ref.find(":nope") != std::string::npos) {
        co_return engine_error(engine_errc::not_found, 404,
                               "manifest for " + ref + " not found: manifest unknown");
      }
      if (ref.find(":private") != std::string::npos) {
        co_return engine_error(engine_errc::server_error, 500,
                               "errors: denied: requested access to the resource is denied");
      }
      if (ref.find(":offline") != std::string::npos) {
        co_return engine_error(engine_errc::server_error, 500,
                               "Get \"https://r/v2/\": dial tcp 10.0.0.9:443: connect: "
                               "connection refused");
      }
      if (ref.find(":slow") != std::string::npos) {
        net::steady_timer timer(co_await net::this_coro::executor, std::chrono::seconds(5));
        co_await timer.async_wait(net::use_awaitable);
      }
      co_return engine::Distribution{digest, "application/vnd.oci.image.index.v1+json", 100, {}};
    };
    start(std::move(options));
  }

  // node-1 is a manager, node-2 and node-3 workers; one service on all.
  void publish_snapshot() {
    on_loop([&] {
      auto manager = test_node("id1", "node-1");
      manager.role = "manager";
      reconcile::Snapshot snapshot{
          {manager, test_node("id2", "node-2"), test_node("id3", "node-3")},
          {test_service("web", "registry.test/web:1")},
          {},
          {}};
      controller_->apply_snapshot(std::move(snapshot));
      return 0;
    });
  }

  testing::HttpReply warm(const std::string& body) {
    return http_call(port_, verb::post, "/v1/warm", body, token);
  }

  std::vector<std::string> desired_refs(const std::string& node) {
    return on_loop([&] {
      std::vector<std::string> refs;
      for (const auto& image : controller_->state().desired(node)->images)
        refs.push_back(image.ref);
      return refs;
    });
  }

  std::uint64_t generation(const std::string& node) {
    return on_loop([&] { return controller_->state().desired(node)->generation; });
  }

  json images() { return json::parse(http_call(port_, verb::get, "/v1/images", {}, token).body); }

  std::atomic<int> resolve_calls_{0};
};

const std::string pinned = "registry.test/app@" + digest;

TEST_F(ControllerWarmTest, NeedsTheTokenAndAFirstReconcile) {
  EXPECT_EQ(http_call(port_, verb::post, "/v1/warm", R"({"images": ["a:1"]})").status, 401);
  const auto reply = warm(R"({"images": ["registry.test/app:2"]})");
  EXPECT_EQ(reply.status, 503) << reply.body;
  EXPECT_EQ(resolve_calls_, 0);
}

TEST_F(ControllerWarmTest, BadBodiesGet400AndChangeNothing) {
  publish_snapshot();
  const auto before = images();
  const auto generation_before = generation("id2");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"images": [)", "malformed JSON"},
      {R"(["a"])", "body: expected an object"},
      {R"({})", "images: required"},
      {R"({"images": []})", "images: expected at least one image reference"},
      {R"({"images": ["ok:1", "Bad:1"]})", "images[1]: invalid reference format"},
      {R"({"images": ["ok:1", 3]})", "images[1]: expected a string"},
      {R"({"images": ["ok:1"], "constraints": ["node.role=worker"]})",
       "constraints[0]: 'node.role=worker': constraint expected one operator from ==, !="},
      {R"({"images": ["ok:1"], "constraints": "node.role==worker"})", "constraints: expected"},
      {R"({"images": ["ok:1"], "ttl": "soon"})", "ttl: expected a duration"},
      {R"({"images": ["ok:1"], "ttl": "48h"})", "ttl: expected a duration"},
      {R"({"images": ["ok:1"], "placement": {}})", "placement: unknown key"},
  };
  for (const auto& [body, expected] : cases) {
    const auto reply = warm(body);
    EXPECT_EQ(reply.status, 400) << body;
    const std::string error = json::parse(reply.body).value("error", "");
    EXPECT_NE(error.find(expected), std::string::npos) << body << " -> " << error;
  }
  EXPECT_EQ(resolve_calls_, 0);
  EXPECT_EQ(images(), before);
  EXPECT_EQ(generation("id2"), generation_before);
}

TEST_F(ControllerWarmTest, ResolvedImagesArePinnedAndPlacedByTheConstraints) {
  publish_snapshot();
  const auto reply =
      warm(R"({"images": ["registry.test/app:2"], "constraints": ["node.role==worker"]})");
  ASSERT_EQ(reply.status, 202) << reply.body;
  const auto body = json::parse(reply.body);
  EXPECT_EQ(body["images"][0]["ref"], "registry.test/app:2");
  EXPECT_EQ(body["images"][0]["warm"], pinned);
  EXPECT_EQ(body["images"][0]["resolved"], true);
  EXPECT_EQ(body["images"][0]["nodes_desired"], 2);
  EXPECT_EQ(
      body["images"][0]["nodes"],
      json::parse(R"([{"id": "id2", "hostname": "node-2"}, {"id": "id3", "hostname": "node-3"}])"));
  EXPECT_EQ(body["expires_in"], 3600);
  EXPECT_EQ(body["id"].get<std::string>().rfind("warm:", 0), 0u);

  EXPECT_EQ(desired_refs("id1"), std::vector<std::string>{"registry.test/web:1"});
  EXPECT_EQ(desired_refs("id2"), (std::vector<std::string>{pinned, "registry.test/web:1"}));
  EXPECT_EQ(desired_refs("id3"), (std::vector<std::string>{pinned, "registry.test/web:1"}));
  bool listed = false;
  const auto listing = images();
  for (const auto& image : listing["images"]) {
    if (image["ref"] != pinned) continue;
    listed = true;
    EXPECT_EQ(image["nodes_desired"], 2);
    EXPECT_EQ(image["nodes_present"], 0);
  }
  EXPECT_TRUE(listed) << images().dump();
  EXPECT_NE(metrics_text().find("swarm_prepull_image_nodes_desired{image=\"" + pinned + "\"} 2"),
            std::string::npos);

  // A new snapshot (the next reconcile pass) keeps the request placed.
  publish_snapshot();
  EXPECT_EQ(desired_refs("id2"), (std::vector<std::string>{pinned, "registry.test/web:1"}));
}

TEST_F(ControllerWarmTest, AResolutionFailureIsRecordedAndGivenToNoNode) {
  publish_snapshot();
  const auto generation_before = generation("id2");
  const auto reply = warm(R"({"images": ["registry.test/app:nope", "registry.test/app:private"]})");
  ASSERT_EQ(reply.status, 202) << reply.body;
  const auto body = json::parse(reply.body);
  EXPECT_EQ(body["images"][0]["failure"]["reason"], "not_found");
  EXPECT_EQ(body["images"][0]["failure"]["message"],
            "manifest for registry.test/app:nope not found: manifest unknown");
  EXPECT_FALSE(body["images"][0].contains("warm"));
  EXPECT_FALSE(body["images"][0].contains("nodes_desired"));
  EXPECT_EQ(body["images"][0]["nodes"].size(), body["images"][1]["nodes"].size());
  EXPECT_FALSE(body["images"][0]["nodes"].empty());  // named in wait's message
  EXPECT_EQ(body["images"][1]["failure"]["reason"], "unauthorized");
  EXPECT_EQ(generation("id2"), generation_before);  // nothing given to any node

  const auto listed = images()["images"];
  json entry;
  for (const auto& image : listed) {
    if (image["ref"] == "registry.test/app:nope") entry = image;
  }
  ASSERT_FALSE(entry.is_null()) << listed.dump();
  EXPECT_EQ(entry["nodes_desired"], 0);
  ASSERT_EQ(entry["failures"].size(), 1u);
  EXPECT_EQ(entry["failures"][0]["node"], "");
  EXPECT_EQ(entry["failures"][0]["stage"], "resolve");
  EXPECT_EQ(entry["failures"][0]["reason"], "not_found");
  EXPECT_NE(
      metrics_text().find("swarm_prepull_image_resolve_failed{image=\"registry.test/app:nope\"} 1"),
      std::string::npos);
}

TEST_F(ControllerWarmTest, AnInconclusiveResolutionWarmsByTag) {
  publish_snapshot();
  const auto reply = warm(R"({"images": ["registry.test/app:offline", "registry.test/app:slow"]})");
  ASSERT_EQ(reply.status, 202) << reply.body;
  std::printf("[ figures  ] warm answered after %.1f ms (the slow resolution cut at its timeout)\n",
              std::chrono::duration<double, std::milli>(reply.took).count());
  const auto body = json::parse(reply.body);
  for (const auto& [index, ref, reason] : {std::tuple{0, "registry.test/app:offline", "network"},
                                           std::tuple{1, "registry.test/app:slow", "timeout"}}) {
    EXPECT_EQ(body["images"][index]["warm"], ref);
    EXPECT_EQ(body["images"][index]["resolved"], false);
    EXPECT_EQ(body["images"][index]["note"].get<std::string>().rfind(reason, 0), 0u) << body.dump();
    EXPECT_EQ(body["images"][index]["nodes_desired"], 3);
  }
}

TEST_F(ControllerWarmTest, RepeatedRequestsAreIdempotent) {
  publish_snapshot();
  const std::string request =
      R"({"images": ["registry.test/app:2", "registry.test/tool:1"], "constraints": ["node.role==worker"]})";
  const auto first = json::parse(warm(request).body);
  const auto generation_after_first = generation("id2");
  const std::string reordered =
      R"({"images": ["registry.test/tool:1", "registry.test/app:2"], "constraints": ["node.role==worker"]})";
  const auto second = json::parse(warm(reordered).body);
  EXPECT_EQ(first["id"], second["id"]);
  EXPECT_EQ(generation("id2"), generation_after_first);
  EXPECT_EQ(desired_refs("id2").size(), 3u);
  // Other constraints: another request.
  const auto third = json::parse(warm(R"({"images": ["registry.test/app:2"]})").body);
  EXPECT_NE(third["id"], first["id"]);
  EXPECT_EQ(desired_refs("id1").size(), 2u);
}

TEST_F(ControllerWarmTest, RequestsAndFailuresExpireAfterTheirTtl) {
  publish_snapshot();
  ASSERT_EQ(
      warm(R"({"images": ["registry.test/app:2", "registry.test/app:nope"], "ttl": "10m"})").status,
      202);
  EXPECT_EQ(desired_refs("id1").size(), 2u);
  const auto generation_before = generation("id1");
  on_loop([&] {
    controller_->expire_warm_requests(Clock::now() + std::chrono::minutes(9));
    return 0;
  });
  EXPECT_EQ(desired_refs("id1").size(), 2u);
  on_loop([&] {
    controller_->expire_warm_requests(Clock::now() + std::chrono::minutes(11));
    return 0;
  });
  EXPECT_EQ(desired_refs("id1"), std::vector<std::string>{"registry.test/web:1"});
  EXPECT_GT(generation("id1"), generation_before);
  EXPECT_EQ(images()["images"].size(), 1u) << images().dump();
  EXPECT_EQ(metrics_text().find("swarm_prepull_image_resolve_failed{"), std::string::npos);
}

TEST(WarmRequests, DecodesCanonicalDistinctImagesAndTtl) {
  auto request = api::decode_warm_request(
      R"({"images": ["redis", "docker.io/library/redis:latest", "a/b:1"],
          "constraints": ["node.labels.zone == a"], "ttl": 90})");
  ASSERT_TRUE(request) << request.error().to_string();
  EXPECT_EQ(request->images,
            (std::vector<std::string>{"docker.io/library/redis:latest", "docker.io/a/b:1"}));
  EXPECT_EQ(request->constraints, std::vector<std::string>{"node.labels.zone == a"});
  EXPECT_EQ(request->ttl, std::chrono::seconds(90));
  request = api::decode_warm_request(R"({"images": ["redis"], "ttl": "30m"})");
  ASSERT_TRUE(request);
  EXPECT_EQ(request->ttl, std::chrono::minutes(30));
}

TEST(WarmRequests, ClassifiesResolutionFailures) {
  EXPECT_EQ(resolve_failure_reason(engine_error(engine_errc::not_found, 404, "manifest unknown")),
            api::FailureReason::not_found);
  EXPECT_EQ(resolve_failure_reason(engine_error(engine_errc::server_error, 500,
                                                "errors:\nmanifest unknown: manifest unknown\n")),
            api::FailureReason::not_found);
  EXPECT_EQ(resolve_failure_reason(engine_error(engine_errc::unauthorized, 401, "unauthorized")),
            api::FailureReason::unauthorized);
  // What the sandbox's htpasswd registry made dockerd answer on GET /distribution
  // without credentials, and with a wrong password.
  EXPECT_EQ(resolve_failure_reason(engine_error(
                engine_errc::server_error, 500,
                "Head \"http://10.213.37.1:5001/v2/prepull/private/manifests/1\": no basic "
                "auth credentials")),
            api::FailureReason::unauthorized);
  EXPECT_EQ(resolve_failure_reason(engine_error(engine_errc::unauthorized, 401,
                                                "unauthorized: authentication required")),
            api::FailureReason::unauthorized);
  EXPECT_EQ(resolve_failure_reason(engine_error(engine_errc::connection_failed, 0, "refused")),
            api::FailureReason::network);
  EXPECT_EQ(resolve_failure_reason(engine_error(engine_errc::server_error, 500, "toomanyrequests")),
            api::FailureReason::rate_limited);
  EXPECT_EQ(resolve_failure_reason(engine_error(engine_errc::server_error, 500, "boom")),
            api::FailureReason::other);
  EXPECT_TRUE(is_final_resolve_failure(api::FailureReason::not_found));
  EXPECT_TRUE(is_final_resolve_failure(api::FailureReason::unauthorized));
  EXPECT_FALSE(is_final_resolve_failure(api::FailureReason::network));
}

TEST(WarmRequests, HoldsAtMostTheirLimitAndExpire) {
  WarmRequests requests(1);
  const auto now = Clock::now();
  WarmRequest a{{"docker.io/library/a:1"}, {}, api::default_warm_ttl};
  WarmRequest b{{"docker.io/library/b:1"}, {}, api::default_warm_ttl};
  ASSERT_TRUE(requests.add(a, {{"docker.io/library/a:1", "docker.io/library/a:1"}},
                           now + std::chrono::seconds(5)));
  EXPECT_FALSE(requests.add(b, {}, now + std::chrono::seconds(5)));
  EXPECT_TRUE(requests.add(a, {}, now + std::chrono::seconds(5)));  // the same one: refreshed
  EXPECT_FALSE(requests.expire(now + std::chrono::seconds(4)));
  EXPECT_TRUE(requests.expire(now + std::chrono::seconds(5)));
  EXPECT_EQ(requests.size(), 0u);
  EXPECT_TRUE(requests.add(b, {}, now + std::chrono::seconds(5)));
}

}  // namespace
}  // namespace swarm_prepull::controller
