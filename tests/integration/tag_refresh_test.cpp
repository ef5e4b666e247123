// Tags that move, on the sandbox swarm: a service created with
// --no-resolve-image holds a tag without a digest; when the tag is pushed
// again with other content, the controller (--tag-refresh-interval 2s)
// resolves it anew and every node's engine ends with the tag naming the new
// content, pulled by its agent, while the service's spec is left as it was.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "reconcile/plan.h"
#include "tests/integration/process_swarm.h"

namespace swarm_prepull::testing {
namespace {

using namespace std::chrono_literals;

class TagRefreshTest : public ProcessSwarmTest {
 protected:
  void SetUp() override { set_up("tag-refresh"); }

  void TearDown() override {
    ProcessSwarmTest::TearDown();
    // The moving tag's manifests, so that the registry keeps no tag of ours.
    for (const auto& digest : pushed_digests_) {
      run_command("curl -sf -X DELETE http://" + box_->registry + "/v2/prepull/" + repository_ +
                  "/manifests/" + digest);
    }
  }

  // Pushes `content` (an image in the registry) as `moving_` through the
  // manager's engine and takes the tag off the manager again: its agent, not
  // this push, must bring the manager the tag's new content. The digest the
  // registry now gives the tag.
  std::string push_as_moving(const std::string& content) {
    const auto& host = manager().docker_host;
    for (const std::string& args :
         {"pull -q " + content, "tag " + content + " " + moving_, "push -q " + moving_}) {
      const auto done = run_command(docker(host, args));
      EXPECT_EQ(done.status, 0) << "docker " << args << ": " << done.output;
    }
    run_command(docker(host, "rmi " + moving_));
    const std::string ref = pinned(moving_);
    const std::string digest = reconcile::parse_reference(ref).value().digest;
    pushed_digests_.push_back(digest);
    pulled_.push_back(ref);
    return digest;
  }

  // The tag naming `digest` on every node's own engine.
  bool everywhere(const std::string& digest) const {
    return engines_.present_everywhere(reconcile::tag_at_digest(moving_ref_, digest));
  }

  // The controller's GET /v1/images entry of the moving tag (null while absent).
  nlohmann::json listed() const {
    const auto images = controller_images();
    if (!images.contains("images")) return nullptr;
    for (const auto& image : images["images"]) {
      if (image.value("ref", "") == moving_ref_) return image;
    }
    return nullptr;
  }

  double changes() const {
    return counter_value(run_command("curl -sf " + controller_url() + "/metrics").output,
                         "swarm_prepull_image_tag_digest_changes_total");
  }

  // A service on moving_ (pushed with the content of one fresh image) by its
  // tag only, a controller with `controller_args` and an agent on every
  // node; returns once every node holds the tag and the controller lists its
  // digest. second_ is another fresh image to move the tag to.
  void deploy_moving_tag(const std::vector<std::string>& controller_args) {
    static int deployments = 0;  // each test of this process its own repository
    repository_ =
        "tag-refresh-moving-" + std::to_string(::getpid()) + "-" + std::to_string(++deployments);
    moving_ = box_->registry + "/prepull/" + repository_ + ":1";
    moving_ref_ = reconcile::parse_reference(moving_).value().canonical();
    const std::string first = fresh_image(2);
    second_ = fresh_image(2);
    digest_1_ = push_as_moving(first);
    engines_.remove_everywhere(first);

    service_ = create_service("moving", moving_, "--no-resolve-image");
    ASSERT_EQ(service_ref(service_), moving_ref_) << "the spec must hold the tag only";
    start_controller(controller_args);
    for (std::size_t node = 0; node < box_->nodes.size(); ++node) {
      agents_.push_back(start_agent(node, token_file_, static_cast<int>(node) + 1));
    }
    ASSERT_TRUE(controller_healthy()) << read_text(controller_.log);
    ASSERT_TRUE(wait_until("the tag's first content on every node", 60s, [&] {
      return everywhere(digest_1_);
    })) << read_text(controller_.log);
  }

  // The controller's listing of the tag: `digest`, present on all 3 nodes.
  ::testing::AssertionResult listed_everywhere(const std::string& digest) const {
    return wait_until("the controller listing " + digest + " on all 3 nodes", 30s, [&] {
      const auto image = listed();
      return !image.is_null() && image.value("digest", "") == digest &&
             image.value("nodes_present", 0) == 3;
    });
  }

  std::string repository_, moving_, moving_ref_, second_, digest_1_, service_;
  std::vector<std::string> pushed_digests_;
};

TEST_F(TagRefreshTest, AMovedTagReachesEveryNodeWithinOneInterval) {
  deploy_moving_tag({"--tag-refresh-interval", "2s"});
  if (HasFatalFailure()) return;
  ASSERT_TRUE(listed_everywhere(digest_1_)) << listed().dump();
  EXPECT_GT(listed().value("resolved_at", 0.0), 1.7e9);  // wall time, seconds
  EXPECT_EQ(changes(), 0);                               // the first resolution is no change
  EXPECT_EQ(counter_value(run_command("curl -sf " + controller_url() + "/metrics").output,
                          "swarm_prepull_services_unpinned"),
            1);

  const std::string digest_2 = push_as_moving(second_);
  ASSERT_NE(digest_2, digest_1_);
  const auto pushed = WaitClock::now();
  ASSERT_TRUE(wait_until("the tag's new content on every node", 60s, [&] {
    return everywhere(digest_2);
  })) << read_text(controller_.log);
  const double seconds = std::chrono::duration<double>(WaitClock::now() - pushed).count();
  ASSERT_TRUE(listed_everywhere(digest_2)) << listed().dump();
  EXPECT_EQ(changes(), 1);
  EXPECT_EQ(service_ref(service_), moving_ref_) << "the spec is swarm's, left as it was";
  EXPECT_TRUE(listed()["failures"].empty()) << "a moved tag is no failure: " << listed().dump();
  std::printf(
      "[ figures  ] tag pushed again -> new content on all 3 nodes after %.2f s "
      "(--tag-refresh-interval 2s, 2 MiB)\n",
      seconds);
}

// With no refresh period, a `wait` on the tag resolves it: the service's
// nodes follow the moved tag too, not only the wait's own name@digest.
TEST_F(TagRefreshTest, AWaitOnAMovedTagMovesItForTheServiceToo) {
  deploy_moving_tag({"--tag-refresh-interval", "off"});
  if (HasFatalFailure()) return;
  const std::string digest_2 = push_as_moving(second_);
  ASSERT_NE(digest_2, digest_1_);
  const auto pushed = WaitClock::now();
  const auto result = run_wait({moving_, "--timeout", "60s"});
  EXPECT_EQ(result.status, 0) << result.output << read_text(controller_.log);
  ASSERT_TRUE(wait_until("the tag's new content on every node", 60s, [&] {
    return everywhere(digest_2);
  })) << read_text(controller_.log);
  std::printf(
      "[ figures  ] wait on the moved tag -> exit 0 after %.2f s; the tag's new content on all 3 "
      "nodes after %.2f s (--tag-refresh-interval off)\n",
      result.seconds, std::chrono::duration<double>(WaitClock::now() - pushed).count());
  ASSERT_TRUE(listed_everywhere(digest_2)) << listed().dump();
  // The wait's resolution was this controller's first of the tag: it knew no
  // digest to compare with, so nothing counts as a change.
  EXPECT_EQ(changes(), 0);
}

}  // namespace
}  // namespace swarm_prepull::testing
