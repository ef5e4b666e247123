// The status page (GET /): its HTML as a pure function of the matrix (one
// cell per image and node with its state, failures first, sticky headers, a
// filter form, no script and no external asset), every untrusted text
// escaped, and the route on a live controller: who may see it
// (--status-page open, token, off) and the fields of GET /v1/images it is
// drawn from.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "api/status_view.h"
#include "controller/controller.h"
#include "controller/status_page.h"
#include "tests/unit/controller_test_support.h"
#include "tests/unit/loopback_controller.h"

namespace swarm_prepull::controller {
namespace {

using nlohmann::json;
using swarm_prepull::testing::http_call;
using swarm_prepull::testing::test_node;
using swarm_prepull::testing::test_service;
using ::testing::HasSubstr;
using ::testing::Not;
using verb = http::verb;

constexpr double now = 1'800'000'000;
const auto& token = testing::loopback_token;

api::ImagesListing listing_of(const std::string& evil = "") {
  api::ImagesListing listing;
  listing.generation = 7;
  listing.reconciled_at = now - 2;
  listing.nodes = {
      {.id = "id1" + evil, .hostname = "node-1" + evil, .availability = "active"},
      {.id = "id2", .hostname = "node-2", .availability = "drain", .agent = "no report" + evil}};
  listing.images = {
      {.ref = "r/ok:1" + evil,
       .nodes_desired = 2,
       .nodes_present = 2,
       .services = {"web" + evil},
       .present_on = {"id1" + evil, "id2"}},
      {.ref = "r/bad:1" + evil,
       .nodes_desired = 2,
       .nodes_present = 0,
       .nodes = {{.id = "id1" + evil, .state = api::ImageState::failed},
                 {.id = "id2", .state = api::ImageState::pulling, .since = now - 30}},
       .failures = {{.node = "id1" + evil,
                     .hostname = "node-1" + evil,
                     .reason = api::FailureReason::not_found,
                     .message = "manifest unknown" + evil}}},
      {.ref = "r/gone:1" + evil,
       .failures = {{.reason = api::FailureReason::unauthorized,
                     .message = "denied" + evil,
                     .stage = api::FailureStage::resolve}}},
  };
  listing.warm = {{.id = "warm:1" + evil, .images = {"r/x:1" + evil}, .expires_at = now + 60}};
  return listing;
}

// The tags of a page, in order: what the markup is made of.
std::multiset<std::string> tags_of(const std::string& page) {
  std::multiset<std::string> tags;
  static const std::regex tag(R"re(<(/?[!A-Za-z][A-Za-z0-9]*))re");
  for (auto it = std::sregex_iterator(page.begin(), page.end(), tag); it != std::sregex_iterator();
       ++it) {
    tags.insert((*it)[1]);
  }
  return tags;
}

// The page's matrix read back: per row (its data-ref), per column (its
// node's data-node), the cell's state; rows in page order.
std::vector<std::pair<std::string, std::map<std::string, std::string>>> matrix_of(
    const std::string& page) {
  static const std::regex column(R"re(<th class="node[^"]*" scope="col" data-node="([^"]*)")re");
  static const std::regex row(R"re(<tr class="\w+" data-ref="([^"]*)">(.*)</tr>)re");
  static const std::regex cell(R"re(<td class="c (\w+)")re");
  std::vector<std::string> nodes;
  for (auto it = std::sregex_iterator(page.begin(), page.end(), column);
       it != std::sregex_iterator(); ++it) {
    nodes.push_back((*it)[1]);
  }
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> rows;
  for (auto it = std::sregex_iterator(page.begin(), page.end(), row); it != std::sregex_iterator();
       ++it) {
    const std::string cells_text = (*it)[2];
    std::map<std::string, std::string> cells;
    std::size_t i = 0;
    for (auto c = std::sregex_iterator(cells_text.begin(), cells_text.end(), cell);
         c != std::sregex_iterator(); ++c, ++i) {
      EXPECT_LT(i, nodes.size()) << "more cells than columns in " << (*it)[1];
      if (i < nodes.size()) cells[nodes[i]] = (*c)[1];
    }
    EXPECT_EQ(i, nodes.size()) << "cells of " << (*it)[1];
    rows.emplace_back((*it)[1], std::move(cells));
  }
  return rows;
}

TEST(StatusPage, OneCellPerImageAndNodeWithItsStateFailuresFirst) {
  const auto view = api::status_view(listing_of());
  const std::string page = render_status_page(view, {.now = now});
  // 3 rows by 2 nodes, failures first.
  using Cells = std::map<std::string, std::string>;
  const auto rows = matrix_of(page);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].first, "r/bad:1");
  EXPECT_EQ(rows[0].second, (Cells{{"id1", "failed"}, {"id2", "pulling"}}));
  EXPECT_EQ(rows[1].first, "r/gone:1");
  EXPECT_EQ(rows[1].second, (Cells{{"id1", "not_desired"}, {"id2", "not_desired"}}));
  EXPECT_EQ(rows[2].first, "r/ok:1");
  EXPECT_EQ(rows[2].second, (Cells{{"id1", "present"}, {"id2", "present"}}));
  EXPECT_LT(page.find("data-ref=\"r/bad:1\""), page.find("data-ref=\"r/gone:1\""));
  EXPECT_LT(page.find("data-ref=\"r/gone:1\""), page.find("data-ref=\"r/ok:1\""));
  EXPECT_THAT(page, HasSubstr("title=\"node-1: failed: not_found: manifest unknown\""));
  EXPECT_THAT(page, HasSubstr("title=\"node-2: pulling for 30s\""));
  EXPECT_THAT(page, HasSubstr("<meta http-equiv=\"refresh\" content=\"5\">"));
  EXPECT_THAT(page, HasSubstr("position:sticky"));
  EXPECT_THAT(page, HasSubstr("<form method=\"get\" action=\"/\">"));
  EXPECT_THAT(page, HasSubstr("Not ready: 2 of 3 images"));
  EXPECT_THAT(page, HasSubstr("agents: 1 connected, 1 not heard from"));
  EXPECT_THAT(page, HasSubstr("hit ratio 50.0% (2 of 4"));
  EXPECT_THAT(page, HasSubstr("(2s ago)"));
  EXPECT_THAT(page, HasSubstr("warm:1: r/x:1; expires in 1m00s"));
  EXPECT_THAT(page, HasSubstr("<b>r/gone:1</b> at the registry: unauthorized: denied"));
  EXPECT_THAT(page, HasSubstr("class=\"node inactive no-agent\""));
  // Self-contained: no script, no frame, nothing fetched from anywhere.
  const auto tags = tags_of(page);
  for (const auto* banned : {"script", "iframe", "img", "link", "object", "embed"}) {
    EXPECT_EQ(tags.count(banned), 0u) << banned;
  }
  EXPECT_THAT(page, Not(HasSubstr("src=")));
  EXPECT_THAT(page, Not(HasSubstr("http://")));
  EXPECT_THAT(page, Not(HasSubstr("https://")));
  EXPECT_THAT(page, Not(HasSubstr("url(")));
}

TEST(StatusPage, EveryTextFromTheApiIsEscaped) {
  const std::string evil = "\"'><script>alert(1)</script><img src=x onerror=alert(2)>&amp;\x1b\xff";
  const auto clean_tags = tags_of(render_status_page(api::status_view(listing_of()), {.now = now}));
  const std::string page = render_status_page(
      api::status_view(listing_of(evil)), {.now = now, .image_filter = evil, .node_filter = evil});
  // The same markup as without the hostile texts: nothing they hold became a tag.
  EXPECT_EQ(tags_of(page), clean_tags);
  EXPECT_THAT(page, Not(HasSubstr("<script")));
  EXPECT_THAT(page, Not(HasSubstr("\"'>")));
  EXPECT_THAT(page, Not(HasSubstr("\x1b")));
  EXPECT_THAT(page, Not(HasSubstr("\xff")));
  EXPECT_THAT(page, HasSubstr("&quot;&#39;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(page, HasSubstr("&amp;amp;\\x1b\\xff"));
  // Each text's place: the ref, the hostname, the node id, the message, the
  // service, the agent note, the warm request, the filter's value.
  const std::string escaped = html_escape(api::printable(evil));
  for (const std::string& context :
       {"data-ref=\"r/ok:1" + escaped + "\"", "<span>node-1" + escaped + "</span>",
        "data-node=\"id1" + escaped + "\"", "manifest unknown" + escaped,
        "<small>web" + escaped + "</small>", "agent: no report" + escaped, ": r/x:1" + escaped,
        "value=\"" + escaped + "\""}) {
    EXPECT_THAT(page, HasSubstr(context));
  }
}

TEST(StatusPage, EscapesTheFiveCharacters) {
  EXPECT_EQ(html_escape("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
  EXPECT_EQ(html_escape("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(html_escape("\x01\xc3"), "\\x01\\xc3");
}

TEST(StatusPage, AnEmptySwarmAndTheStartingPage) {
  const std::string page = render_status_page(api::status_view(api::ImagesListing{}), {.now = now});
  EXPECT_THAT(page, HasSubstr("Ready: every image is present"));
  EXPECT_THAT(page, HasSubstr("No image is desired on any node."));
  EXPECT_THAT(render_status_page_unavailable(std::chrono::seconds(5)),
              HasSubstr("<meta http-equiv=\"refresh\" content=\"5\">"));
}

// A 200 × 200 matrix stays a page a browser opens at once.
TEST(StatusPage, TwoHundredNodesByTwoHundredImages) {
  api::ImagesListing listing;
  for (int n = 0; n < 200; ++n) {
    listing.nodes.push_back({.id = "node-id-" + std::to_string(n) + "-0123456789abcdef",
                             .hostname = "worker-" + std::to_string(n)});
  }
  for (int i = 0; i < 200; ++i) {
    api::ListedImage image{.ref = "registry.example.com/team/app-" + std::to_string(i) + ":1",
                           .nodes_desired = 200,
                           .nodes_present = 199};
    for (int n = 0; n < 200; ++n) {
      if (n == i) {
        image.nodes.push_back({.id = listing.nodes[n].id, .state = api::ImageState::pulling});
      } else {
        image.present_on.push_back(listing.nodes[n].id);
      }
    }
    listing.images.push_back(std::move(image));
  }
  const std::string page = render_status_page(api::status_view(listing), {.now = now});
  std::size_t cells = 0;
  for (std::size_t at = page.find("<td class=\"c "); at != std::string::npos;
       at = page.find("<td class=\"c ", at + 1)) {
    ++cells;
  }
  EXPECT_EQ(cells, 200u * 200u);
  std::printf("[ figures  ] status page of 200 images x 200 nodes: %zu bytes\n", page.size());
  EXPECT_LT(page.size(), 8u * 1024 * 1024);
}

class ControllerStatusPageTest : public testing::LoopbackControllerTest {
 protected:
  void start_with(StatusPage access) {
    auto options = loopback_options();
    options.status_page = access;
    start(std::move(options));
  }

  // node-1 (manager) and node-2; web on both, api on node-2 only.
  void publish_snapshot() {
    on_loop([&] {
      auto manager = test_node("id1", "node-1");
      manager.role = "manager";
      auto worker = test_node("id2", "node-2");
      worker.availability = "active";
      controller_->apply_snapshot(
          reconcile::Snapshot{{manager, worker},
                              {test_service("web", "registry.test/web:1"),
                               test_service("api", "registry.test/api:2", "node-2")},
                              {},
                              {}});
      return 0;
    });
  }

  void report(const std::string& node, std::vector<api::ImageStatus> images) {
    const auto generation = on_loop([&] { return controller_->state().desired(node)->generation; });
    const auto reply = http_call(
        port_, verb::post, "/v1/nodes/" + node + "/status",
        api::encode(api::StatusReport{.generation = generation, .images = std::move(images)}),
        token);
    ASSERT_EQ(reply.status, 204) << reply.body;
  }
};

TEST_F(ControllerStatusPageTest, OpenByDefaultAndDrawnFromTheListing) {
  EXPECT_EQ(ControllerOptions{}.status_page, StatusPage::open);
  start_with(StatusPage::open);
  const auto starting = http_call(port_, verb::get, "/");
  EXPECT_EQ(starting.status, 503);
  EXPECT_THAT(starting.body, HasSubstr("No reconcile has completed yet"));

  publish_snapshot();
  report("id1", {{.ref = "registry.test/web:1", .state = api::ImageState::present}});
  report("id2", {{.ref = "registry.test/web:1", .state = api::ImageState::pulling, .since = 1e9},
                 {.ref = "registry.test/api:2",
                  .state = api::ImageState::failed,
                  .reason = api::FailureReason::not_found,
                  .message = "manifest unknown"}});

  // The listing carries what the page needs.
  const auto listing =
      api::decode_images_listing(http_call(port_, verb::get, "/v1/images", {}, token).body);
  ASSERT_TRUE(listing) << listing.error().to_string();
  ASSERT_EQ(listing->nodes.size(), 2u);
  EXPECT_EQ(listing->nodes[0].hostname, "node-1");
  EXPECT_EQ(listing->nodes[0].role, "manager");
  ASSERT_EQ(listing->images.size(), 2u);
  const auto& web = listing->images[1];
  EXPECT_EQ(web.ref, "registry.test/web:1");
  EXPECT_EQ(web.services, std::vector<std::string>{"web"});
  EXPECT_EQ(web.present_on, std::vector<std::string>{"id1"});
  ASSERT_EQ(web.nodes.size(), 1u);
  EXPECT_EQ(web.nodes[0].since, 1e9);

  const auto page = http_call(port_, verb::get, "/");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(page.headers.at("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(page.headers.at("Content-Security-Policy"), std::string(status_page_policy));
  using Cells = std::map<std::string, std::string>;
  const auto rows = matrix_of(page.body);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].first, "registry.test/api:2");  // failed: first
  EXPECT_EQ(rows[0].second, (Cells{{"id1", "not_desired"}, {"id2", "failed"}}));
  EXPECT_EQ(rows[1].first, "registry.test/web:1");
  EXPECT_EQ(rows[1].second, (Cells{{"id1", "present"}, {"id2", "pulling"}}));
  // The filter box is a query the controller applies.
  const auto filtered = http_call(port_, verb::get, "/?image=api&node=node-2");
  ASSERT_EQ(filtered.status, 200);
  EXPECT_THAT(filtered.body, HasSubstr("data-ref=\"registry.test/api:2\""));
  EXPECT_THAT(filtered.body, Not(HasSubstr("data-ref=\"registry.test/web:1\"")));
  EXPECT_THAT(filtered.body, HasSubstr("value=\"api\""));
  // Only GET.
  EXPECT_EQ(http_call(port_, verb::post, "/", "x").status, 401);
  EXPECT_EQ(http_call(port_, verb::post, "/", "x", token).status, 405);
}

TEST_F(ControllerStatusPageTest, TokenModeNeedsTheToken) {
  start_with(StatusPage::token);
  publish_snapshot();
  EXPECT_EQ(http_call(port_, verb::get, "/").status, 401);
  EXPECT_EQ(http_call(port_, verb::get, "/", {}, token).status, 200);
}

TEST_F(ControllerStatusPageTest, OffHasNoRoute) {
  start_with(StatusPage::off);
  publish_snapshot();
  EXPECT_EQ(http_call(port_, verb::get, "/").status, 401);
  EXPECT_EQ(http_call(port_, verb::get, "/", {}, token).status, 404);
}

}  // namespace
}  // namespace swarm_prepull::controller
