// `swarm-prepull status`: the matrix computed from one GET /v1/images answer
// (api/status_view.h), its text layout at 80 and 200 columns and with --wide,
// the filters, the exit status and the JSON, and untrusted texts kept off the
// terminal's control channel.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "api/status_view.h"
#include "cli/commands.h"
#include "cli/status_output.h"

namespace swarm_prepull::cli {
namespace {

using api::CellState;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr double now = 1'800'000'000;
const std::string digest = "sha256:" + std::string(64, 'a');

// Three nodes; web present everywhere, api pulling on node-2 and held on
// node-3 (pull cap), bad failed on node-3 only (node-1 and node-2 do not want
// it), gone refused at the registry.
api::ImagesListing small_listing() {
  api::ImagesListing listing;
  listing.generation = 42;
  listing.reconciled_at = now - 3;
  listing.nodes = {
      {.id = "id1",
       .hostname = "node-1",
       .role = "manager",
       .availability = "active",
       .state = "ready"},
      {.id = "id2",
       .hostname = "node-2",
       .role = "worker",
       .availability = "active",
       .state = "ready"},
      {.id = "id3",
       .hostname = "node-3",
       .role = "worker",
       .availability = "drain",
       .state = "ready",
       .agent = "its agent was last heard from 95 s ago"},
  };
  listing.images = {
      {.ref = "10.0.0.1:5000/shop/api:2",
       .nodes_desired = 3,
       .nodes_present = 1,
       .nodes =
           {{.id = "id2",
             .hostname = "node-2",
             .state = api::ImageState::pulling,
             .since = now - 12},
            {.id = "id3", .hostname = "node-3", .state = api::ImageState::waiting, .held = true}},
       .services = {"shop_api"},
       .present_on = {"id1"}},
      {.ref = "10.0.0.1:5000/shop/bad:1",
       .nodes_desired = 1,
       .nodes_present = 0,
       .nodes = {{.id = "id3", .hostname = "node-3", .state = api::ImageState::failed}},
       .failures = {{.node = "id3",
                     .hostname = "node-3",
                     .reason = api::FailureReason::not_found,
                     .message = "manifest unknown"}},
       .services = {"shop_bad"}},
      {.ref = "10.0.0.1:5000/shop/gone:9",
       .failures = {{.reason = api::FailureReason::unauthorized,
                     .message = "denied",
                     .stage = api::FailureStage::resolve}}},
      {.ref = "10.0.0.1:5000/shop/web@" + digest,
       .nodes_desired = 3,
       .nodes_present = 3,
       .services = {"shop_web"},
       .present_on = {"id1", "id2", "id3"}},
  };
  listing.warm = {{.id = "warm:3f9c0a1b2c4d", .images = {"a@" + digest}, .expires_at = now + 600}};
  return listing;
}

// `images` images on `nodes` nodes, every cell present but node n's image n.
api::ImagesListing large_listing(std::size_t images, std::size_t nodes) {
  api::ImagesListing listing;
  for (std::size_t n = 0; n < nodes; ++n) {
    listing.nodes.push_back({.id = "id" + std::to_string(n),
                             .hostname = "worker-" + std::to_string(n) + ".dc1.example.com",
                             .availability = "active",
                             .state = "ready"});
  }
  for (std::size_t i = 0; i < images; ++i) {
    api::ListedImage image{.ref = "registry.example.com/team-" + std::to_string(i) +
                                  "/service-with-a-long-name:1." + std::to_string(i),
                           .nodes_desired = nodes,
                           .nodes_present = nodes};
    for (std::size_t n = 0; n < nodes; ++n) {
      if (n == i) {
        image.nodes.push_back({.id = "id" + std::to_string(n), .state = api::ImageState::pulling});
        --image.nodes_present;
      } else {
        image.present_on.push_back("id" + std::to_string(n));
      }
    }
    listing.images.push_back(std::move(image));
  }
  return listing;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

void expect_fits(const std::vector<std::string>& lines, std::size_t width) {
  for (const auto& line : lines) {
    EXPECT_LE(display_width(line), width) << "'" << line << "'";
  }
}

TEST(StatusView, OneCellPerImageAndNodeWithTheStateTheControllerGives) {
  const auto view = api::status_view(small_listing());
  ASSERT_EQ(view.nodes.size(), 3u);
  EXPECT_EQ(view.nodes[0].hostname, "node-1");
  ASSERT_EQ(view.rows.size(), 4u);
  // Failures first (bad, gone), then not ready (api), then ready (web).
  EXPECT_EQ(view.rows[0].ref, "10.0.0.1:5000/shop/bad:1");
  EXPECT_EQ(view.rows[1].ref, "10.0.0.1:5000/shop/gone:9");
  EXPECT_EQ(view.rows[2].ref, "10.0.0.1:5000/shop/api:2");
  EXPECT_EQ(view.rows[3].ref, "10.0.0.1:5000/shop/web@" + digest);
  const auto& bad = view.rows[0];
  EXPECT_EQ(bad.cells[0].state, CellState::not_desired);
  EXPECT_EQ(bad.cells[2].state, CellState::failed);
  EXPECT_EQ(bad.cells[2].reason, "not_found");
  EXPECT_EQ(bad.cells[2].message, "manifest unknown");
  EXPECT_TRUE(view.rows[1].failed);
  ASSERT_EQ(view.rows[1].resolve_failures.size(), 1u);
  const auto& api_row = view.rows[2];
  EXPECT_EQ(api_row.cells[0].state, CellState::present);
  EXPECT_EQ(api_row.cells[1].state, CellState::pulling);
  EXPECT_EQ(api_row.cells[1].since, now - 12);
  EXPECT_EQ(api_row.cells[2].state, CellState::held);
  for (const auto& cell : view.rows[3].cells) EXPECT_EQ(cell.state, CellState::present);
  EXPECT_FALSE(view.ready);
  EXPECT_EQ(view.agents_heard, 2u);
  EXPECT_EQ(view.agents_not_heard, 1u);
  EXPECT_EQ(view.pairs_desired, 7u);
  // An agent that holds an image (its disk) says why.
  auto listing = small_listing();
  listing.images[0].nodes[1] = {
      .id = "id3", .state = api::ImageState::held, .message = "disk_low: 12.5MiB free"};
  const auto held = api::status_view(listing).rows[2].cells[2];
  EXPECT_EQ(held.state, CellState::held);
  EXPECT_EQ(held.message, "disk_low: 12.5MiB free");
  EXPECT_EQ(view.pairs_present, 4u);
}

TEST(StatusView, ReadyWhenEveryDesiredImageIsPresentEverywhere) {
  auto listing = small_listing();
  EXPECT_FALSE(api::status_view(listing).ready);
  // Only web: ready.
  EXPECT_TRUE(api::status_view(listing, {.images = {"shop/web"}}).ready);
  // node-1 holds everything it wants (api, web).
  EXPECT_TRUE(api::status_view(listing, {.nodes = {"node-1"}}).ready);
  EXPECT_FALSE(api::status_view(listing, {.nodes = {"node-3"}}).ready);
  // Nothing desired at all is ready.
  EXPECT_TRUE(api::status_view(api::ImagesListing{}).ready);
}

TEST(StatusView, FiltersKeepTheMatchingImagesAndNodes) {
  const auto view = api::status_view(small_listing(), {.images = {"api", "web"}, .nodes = {"id2"}});
  ASSERT_EQ(view.nodes.size(), 1u);
  EXPECT_EQ(view.nodes[0].id, "id2");
  ASSERT_EQ(view.rows.size(), 2u);
  EXPECT_EQ(view.rows[0].ref, "10.0.0.1:5000/shop/api:2");
  EXPECT_EQ(view.rows[0].cells.size(), 1u);
  EXPECT_EQ(view.images_hidden, 2u);
  EXPECT_EQ(view.nodes_hidden, 2u);
  // An image wanted on none of the shown nodes is left out.
  const auto node1 = api::status_view(small_listing(), {.nodes = {"node-1"}});
  for (const auto& row : node1.rows) EXPECT_NE(row.ref, "10.0.0.1:5000/shop/bad:1");
}

TEST(StatusView, AnOlderControllersAnswerStillGivesItsNodes) {
  // No `nodes`, `present_on` or `since`: the columns are the nodes named.
  auto listing = small_listing();
  listing.nodes.clear();
  for (auto& image : listing.images) image.present_on.clear();
  const auto view = api::status_view(listing);
  ASSERT_EQ(view.nodes.size(), 2u);  // node-2 and node-3 are named; node-1 nowhere
  EXPECT_EQ(view.nodes[0].hostname, "node-2");
  EXPECT_EQ(view.nodes[1].agent, "");  // the agent note comes with the first listing of it
}

TEST(StatusLayout, At80ColumnsEveryLineFitsAndNamesTheNodes) {
  const auto lines = status_lines(api::status_view(small_listing()),
                                  {.width = 80, .now = now, .controller = "http://c:7963"});
  expect_fits(lines, 80);
  const std::string text = joined(lines);
  EXPECT_THAT(text, HasSubstr("node-1"));
  EXPECT_THAT(text, HasSubstr("reconciled 3s ago"));
  EXPECT_THAT(text, HasSubstr("agents 2 heard, 1 not"));
  EXPECT_THAT(text, HasSubstr("hit ratio 57.1% (4/7"));
  EXPECT_THAT(text, HasSubstr("failed 10.0.0.1:5000/shop/bad:1 on node-3: not_found: manifest"));
  EXPECT_THAT(text, HasSubstr("at the registry: unauthorized: denied"));
  EXPECT_THAT(text, HasSubstr("agent of node-3: its agent was last heard from 95 s ago"));
  EXPECT_THAT(text, HasSubstr("warm request warm:3f9c0a1b2c4d: 1 image(s), expires in 10m00s"));
  EXPECT_THAT(text, HasSubstr("not ready: 3 of 4 image(s)"));
  // The digest is shortened as docker shortens ids.
  EXPECT_THAT(text, HasSubstr("shop/web@sha256:aaaaaaaaaaaa "));
  EXPECT_THAT(text, Not(HasSubstr(std::string(13, 'a'))));
  // The row of api: present, pulling, held.
  EXPECT_THAT(text, ::testing::ContainsRegex("shop/api:2 +1/3 ok +pull +held"));
}

TEST(StatusLayout, At80ColumnsManyNodesBecomeNumberedSymbolColumns) {
  const auto view = api::status_view(large_listing(30, 200));
  const auto lines = status_lines(view, {.width = 80, .now = now});
  expect_fits(lines, 80);
  const std::string text = joined(lines);
  EXPECT_THAT(text, HasSubstr("1=worker-0.dc1.example.com"));
  EXPECT_THAT(text, HasSubstr("more node(s) do not fit"));
  EXPECT_THAT(text, HasSubstr("+ present ~ pulling"));
  // Nodes in their natural order: worker-2 before worker-10.
  EXPECT_THAT(text, HasSubstr("3=worker-2.dc1"));
  // image 0 pulls on node 0 (column 1), the others are present.
  EXPECT_THAT(text, ::testing::ContainsRegex("long-name:1\\.0 +199/200 ~ \\+ \\+"));
}

TEST(StatusLayout, At200ColumnsMoreNodesFitAndLinesStayWithin) {
  const auto view = api::status_view(large_listing(30, 200));
  const auto narrow = status_lines(view, {.width = 80, .now = now});
  const auto lines = status_lines(view, {.width = 200, .now = now});
  expect_fits(lines, 200);
  // Counting the symbols of the first image row: more nodes at 200 columns.
  const auto symbols = [](const std::vector<std::string>& all) {
    for (const auto& line : all) {
      if (line.find("long-name:1.0 ") != std::string::npos) {
        return std::count(line.begin(), line.end(), '+') +
               std::count(line.begin(), line.end(), '~');
      }
    }
    return std::ptrdiff_t{0};
  };
  EXPECT_GT(symbols(lines), symbols(narrow) + 50);
  // A few nodes at 200 columns: named columns with words, full refs.
  const auto few = status_lines(api::status_view(large_listing(5, 6)), {.width = 200, .now = now});
  expect_fits(few, 200);
  EXPECT_THAT(joined(few), HasSubstr("registry.example.com/team-3/service-with-a-long-name:1.3"));
  EXPECT_THAT(joined(few), ::testing::ContainsRegex("PRESENT worker-0.dc1"));
}

TEST(StatusLayout, WideNamesEveryNodeAndGivesReasonsAndElapsedTimes) {
  const auto lines =
      status_lines(api::status_view(small_listing()), {.width = 80, .wide = true, .now = now});
  const std::string text = joined(lines);
  EXPECT_THAT(text, HasSubstr("FAIL not_found"));
  EXPECT_THAT(text, HasSubstr("pull 12s"));
  EXPECT_THAT(text, HasSubstr("shop/web@" + digest));
  const auto many = status_lines(api::status_view(large_listing(3, 40)), {.wide = true});
  EXPECT_THAT(joined(many), HasSubstr("worker-39.dc1.example.com"));
}

TEST(StatusLayout, UntrustedTextsCannotDriveTheTerminal) {
  auto listing = small_listing();
  listing.nodes[0].hostname = "evil\x1b]0;owned\x07\x1b[2J";
  listing.images[1].failures[0].message =
      "line\nbreak\r\x1b[31mred \xc2\x9b"
      "31m \xe2\x80\xae"
      "rev";
  listing.images[0].ref = "a\x1b[1A:1";
  const auto lines = status_lines(api::status_view(listing), {.width = 200, .now = now});
  for (const auto& line : lines) {
    for (const char c : line) {
      EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20) << "control character in '" << line << "'";
    }
    EXPECT_EQ(line.find("\xc2\x9b"), std::string::npos) << line;
    EXPECT_EQ(line.find("\xe2\x80\xae"), std::string::npos) << line;
  }
  EXPECT_THAT(joined(lines), HasSubstr("evil\\x1b]0;"));
}

TEST(StatusJson, HoldsTheMatrixAndReadiness) {
  const auto document = nlohmann::json::parse(status_json(api::status_view(small_listing()), now));
  EXPECT_EQ(document["ready"], false);
  EXPECT_EQ(document["generation"], 42);
  ASSERT_EQ(document["images"].size(), 4u);
  EXPECT_EQ(document["images"][0]["ref"], "10.0.0.1:5000/shop/bad:1");
  EXPECT_EQ(document["images"][0]["nodes"][0]["state"], "failed");
  EXPECT_EQ(document["images"][0]["nodes"][0]["reason"], "not_found");
  const auto& api_nodes = document["images"][2]["nodes"];
  ASSERT_EQ(api_nodes.size(), 3u);
  EXPECT_EQ(api_nodes[1]["state"], "pulling");
  EXPECT_EQ(api_nodes[1]["pulling_seconds"], 12);
  EXPECT_EQ(api_nodes[2]["state"], "held");
  EXPECT_EQ(document["agents"]["not_heard"], 1);
  EXPECT_EQ(document["nodes"].size(), 3u);
  // Bytes that are not UTF-8 do not make the output fail.
  auto listing = small_listing();
  listing.nodes[0].hostname = "bad\xff";
  EXPECT_NO_THROW((void)nlohmann::json::parse(status_json(api::status_view(listing), now)));
}

TEST(StatusElapsed, ReadsAsDurations) {
  EXPECT_EQ(api::format_elapsed(0), "0s");
  EXPECT_EQ(api::format_elapsed(-5), "0s");
  EXPECT_EQ(api::format_elapsed(59.9), "59s");
  EXPECT_EQ(api::format_elapsed(185), "3m05s");
  EXPECT_EQ(api::format_elapsed(7440), "2h04m");
  EXPECT_EQ(api::format_elapsed(1e300), "366d00h");
  EXPECT_EQ(api::format_elapsed(std::nan("")), "0s");
}

int run(const std::vector<std::string>& args, std::string& out, std::string& err) {
  std::ostringstream out_stream, err_stream;
  const int status = run_main(
      args, CommandIo{out_stream, err_stream, [](const std::string&) -> std::optional<std::string> {
                        return std::nullopt;
                      }});
  out = out_stream.str();
  err = err_stream.str();
  return status;
}

TEST(CliStatus, HelpUsageAndAnUnreachableController) {
  std::string out, err;
  EXPECT_EQ(run({"status", "--help"}, out, err), exit_ok);
  EXPECT_THAT(out, HasSubstr("--wide"));
  EXPECT_THAT(out, HasSubstr("Exit status: 0"));
  EXPECT_EQ(run({"status", "--format", "yaml"}, out, err), exit_usage);
  EXPECT_EQ(run({"status", "--width", "5"}, out, err), exit_usage);
  EXPECT_EQ(run({"status", "extra"}, out, err), exit_usage);
  EXPECT_EQ(run({"status", "--interval", "0s"}, out, err), exit_usage);
  // Port 1 on loopback: nothing listens.
  EXPECT_EQ(run({"status", "--controller", "http://127.0.0.1:1"}, out, err), exit_input);
  EXPECT_THAT(err, HasSubstr("swarm-prepull status: http://127.0.0.1:1"));
  EXPECT_EQ(run({"help"}, out, err), exit_ok);
  EXPECT_THAT(out, HasSubstr("status"));
}

}  // namespace
}  // namespace swarm_prepull::cli
