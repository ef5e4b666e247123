// Tags that move: the table of what each desired tag resolved to (first
// resolution, unchanged, moved, a failure keeps the last digest), which refs
// float, which services are unpinned; then the controller's refresh loop
// against a scripted resolver whose tag moves.
#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include "controller/tag_refresh.h"
#include "tests/unit/controller_test_support.h"
#include "tests/unit/http_test_support.h"
#include "tests/unit/loopback_controller.h"

namespace swarm_prepull::controller {
namespace {

using nlohmann::json;
using swarm_prepull::testing::http_call;
using swarm_prepull::testing::test_node;
using swarm_prepull::testing::test_service;
using verb = http::verb;

const std::string tag = "registry.test/web:1";
const std::string digest_1 = "sha256:" + std::string(64, '1');
const std::string digest_2 = "sha256:" + std::string(64, '2');

TEST(TagDigests, RefreshOutcomes) {
  struct Step {
    const char* what;
    std::optional<std::string> resolved;  // nullopt: the resolution failed
    std::optional<TagOutcome> outcome;
    bool logged = false;  // a failure worth a log line
    std::string digest;   // known afterwards
    std::string previous;
    std::uint64_t resolved_at_ms;
  };
  const std::vector<Step> steps = {
      {"first resolution: not a change", digest_1, TagOutcome::first, false, digest_1, "", 10},
      {"unchanged", digest_1, TagOutcome::unchanged, false, digest_1, "", 20},
      {"registry away: the last digest stays", std::nullopt, std::nullopt, true, digest_1, "", 20},
      {"away again: logged once", std::nullopt, std::nullopt, false, digest_1, "", 20},
      {"moved", digest_2, TagOutcome::moved, false, digest_2, digest_1, 50},
      {"away after the move: logged again", std::nullopt, std::nullopt, true, digest_2, digest_1,
       50},
      {"moved back", digest_1, TagOutcome::moved, false, digest_1, digest_2, 70},
  };
  TagDigests table;
  std::uint64_t now = 0;
  for (const auto& step : steps) {
    now += 10;
    if (step.resolved) {
      EXPECT_EQ(table.record(tag, *step.resolved, now), step.outcome) << step.what;
    } else {
      EXPECT_EQ(table.record_failure(tag), step.logged) << step.what;
    }
    const auto* known = table.find(tag);
    ASSERT_NE(known, nullptr) << step.what;
    EXPECT_EQ(*known, (TagDigest{step.digest, step.resolved_at_ms, step.previous})) << step.what;
  }
  EXPECT_EQ(table.digests(), (std::map<std::string, std::string>{{tag, digest_1}}));
}

TEST(TagDigests, ATagNoLongerDesiredStartsOver) {
  TagDigests table;
  table.record(tag, digest_1, 1);
  table.record("registry.test/db:1", digest_1, 1);
  table.retain({"registry.test/db:1"});
  EXPECT_EQ(table.find(tag), nullptr);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.record(tag, digest_2, 2), TagOutcome::first);
}

TEST(TagDigests, FloatingRefsAreTheDesiredTagsWithoutDigest) {
  const auto plan = reconcile::desired_images(
      {test_node("id1", "node-1")},
      {test_service("web", "registry.test/web:1"), test_service("web2", "registry.test/web:1"),
       test_service("pinned", "registry.test/app@" + digest_1),
       test_service("both", "registry.test/app:2@" + digest_2), test_service("redis", "redis")});
  EXPECT_EQ(floating_refs(plan),
            (std::vector<std::string>{"docker.io/library/redis:latest", "registry.test/web:1"}));
}

TEST(TagDigests, UnpinnedServicesAreThoseWhoseSpecImageHasNoDigest) {
  auto job = test_service("plugin", "");
  EXPECT_EQ(
      unpinned_services({test_service("web", "registry.test/web:1"), test_service("redis", "redis"),
                         test_service("pinned", "registry.test/app@" + digest_1),
                         test_service("by-id", digest_1), test_service("bad", "Not A Ref"), job}),
      2u);
}

class ControllerTagRefreshTest : public testing::LoopbackControllerTest {
 protected:
  void SetUp() override {
    auto options = loopback_options();
    options.tag_refresh_interval = refresh_interval();
    options.resolve =
        [this](std::string ref) -> net::awaitable<engine::Result<engine::Distribution>> {
      std::lock_guard lock(mutex_);
      ++calls_;
      if (ref != tag || digest_.empty()) {
        co_return engine::Error{engine::make_error_code(engine::engine_errc::connection_failed),
                                "unix:///x.sock", "GET /distribution/" + ref + "/json", 0,
                                "connection refused"};
      }
      co_return engine::Distribution{digest_, "application/vnd.oci.image.manifest.v1+json", 1, {}};
    };
    start(std::move(options));
    on_loop([&] {
      controller_->apply_snapshot({{test_node("id1", "node-1"), test_node("id2", "node-2")},
                                   {test_service("web", tag)},
                                   {},
                                   {}});
      return 0;
    });
  }

  virtual std::chrono::milliseconds refresh_interval() { return std::chrono::milliseconds(50); }

  void set_digest(std::string digest) {
    std::lock_guard lock(mutex_);
    digest_ = std::move(digest);
  }

  json listed() {
    const auto reply = http_call(port_, verb::get, "/v1/images", {}, testing::loopback_token);
    return reply.status == 200 ? json::parse(reply.body)["images"].at(0) : json();
  }

  std::string desired_digest(const std::string& node) {
    return on_loop([&] { return controller_->state().desired(node)->images.at(0).digest; });
  }

  void report(const std::string& node, const std::string& digest) {
    const std::string body =
        json{{"generation", 1},
             {"images", {{{"ref", tag}, {"state", "present"}, {"digest", digest}}}}}
            .dump();
    ASSERT_EQ(
        http_call(port_, verb::post, "/v1/nodes/" + node + "/status", body, testing::loopback_token)
            .status,
        204);
  }

  int calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }

  std::mutex mutex_;
  std::string digest_;
  int calls_ = 0;
};

TEST_F(ControllerTagRefreshTest, AMovedTagIsGivenToEveryNodeWithItsNewDigest) {
  set_digest(digest_1);
  ASSERT_TRUE(testing::wait_until([&] { return listed().value("digest", "") == digest_1; }));
  EXPECT_GT(listed()["resolved_at"].get<double>(), 1.7e9);  // wall time, seconds
  EXPECT_EQ(desired_digest("id1"), digest_1);
  report("id1", digest_1);
  report("id2", digest_1);
  EXPECT_EQ(listed()["nodes_present"], 2);
  EXPECT_NE(metrics_text().find("swarm_prepull_image_tag_digest_changes_total 0"),
            std::string::npos);  // the first resolution is no change
  EXPECT_NE(metrics_text().find("swarm_prepull_services_unpinned 1"), std::string::npos);

  // The registry away: nodes keep the last digest.
  set_digest("");
  const auto resolved_at = listed()["resolved_at"].get<double>();
  const int calls_before = calls();
  ASSERT_TRUE(testing::wait_until([&] { return calls() >= calls_before + 2; }));
  EXPECT_EQ(desired_digest("id1"), digest_1);
  EXPECT_EQ(listed()["resolved_at"], resolved_at);
  EXPECT_EQ(listed()["nodes_present"], 2);

  set_digest(digest_2);
  ASSERT_TRUE(testing::wait_until([&] { return listed().value("digest", "") == digest_2; }));
  EXPECT_EQ(desired_digest("id1"), digest_2);
  EXPECT_EQ(desired_digest("id2"), digest_2);
  EXPECT_EQ(listed()["nodes_present"], 0);  // the old content is not the tag any more
  EXPECT_NE(metrics_text().find("swarm_prepull_image_tag_digest_changes_total 1"),
            std::string::npos);
  report("id1", digest_2);
  EXPECT_EQ(listed()["nodes_present"], 1);
}

// With no refresh period, a `wait` (POST /v1/warm) on the tag refreshes it
// for the services that name it too.
class ControllerTagRefreshByWarmTest : public ControllerTagRefreshTest {
 protected:
  std::chrono::milliseconds refresh_interval() override { return std::chrono::milliseconds(0); }
};

TEST_F(ControllerTagRefreshByWarmTest, AWarmRequestRefreshesTheTag) {
  set_digest(digest_1);
  const std::string body = json{{"images", {tag}}}.dump();
  ASSERT_EQ(http_call(port_, verb::post, "/v1/warm", body, testing::loopback_token).status, 202);
  EXPECT_EQ(desired_digest("id1"), digest_1);
  set_digest(digest_2);
  ASSERT_EQ(http_call(port_, verb::post, "/v1/warm", body, testing::loopback_token).status, 202);
  EXPECT_EQ(desired_digest("id1"), digest_2);
  EXPECT_NE(metrics_text().find("swarm_prepull_image_tag_digest_changes_total 1"),
            std::string::npos);
}

}  // namespace
}  // namespace swarm_prepull::controller
