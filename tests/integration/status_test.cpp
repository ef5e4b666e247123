// `swarm-prepull status` and the status page (GET /) on the real sandbox
// swarm: a controller and one agent per node as processes; what they show
// for an image is checked against each node's engine.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "tests/integration/process_swarm.h"
#include "tests/integration/sandbox.h"

namespace swarm_prepull::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

class StatusTest : public ProcessSwarmTest {
 protected:
  void SetUp() override { set_up("status-test"); }

  void start() {
    start_controller();
    for (std::size_t node = 0; node < box_->nodes.size(); ++node) {
      agents_.push_back(start_agent(node, token_file_, static_cast<int>(node) + 1));
    }
    ASSERT_TRUE(controller_healthy()) << read_text(controller_.log);
  }

  WaitResult status(const std::vector<std::string>& args) {
    return run_client("status", args, std::chrono::seconds(30));
  }
};

TEST_F(StatusTest, ShowsOnEveryNodeWhatItsEngineHolds) {
  start();
  const std::string image = fresh_image();
  const std::string ref = pinned(image);
  // Before: the image is not desired anywhere, so nothing to show for it.
  const auto before = status({"--image", ref, "--format", "json"});
  EXPECT_EQ(before.status, 0) << before.output;

  const auto warmed = run_wait({image, "--timeout", "60s"});
  ASSERT_EQ(warmed.status, 0) << warmed.output;
  for (std::size_t node = 0; node < engines_.size(); ++node) {
    ASSERT_TRUE(engines_.present_on(node, ref)) << box_->nodes[node].name;
  }

  // JSON: one entry per node, present, as the engines hold it.
  const auto json_run = status({"--image", ref, "--format", "json"});
  EXPECT_EQ(json_run.status, 0) << json_run.output;
  const auto document = nlohmann::json::parse(json_run.output, nullptr, false);
  ASSERT_FALSE(document.is_discarded()) << json_run.output;
  ASSERT_EQ(document["images"].size(), 1u) << json_run.output;
  const auto& row = document["images"][0];
  EXPECT_EQ(row["ref"], ref);
  EXPECT_EQ(row["nodes_present"], 3);
  std::set<std::string> hostnames;
  for (const auto& cell : row["nodes"]) {
    EXPECT_EQ(cell["state"], "present") << cell.dump();
    hostnames.insert(cell["hostname"].get<std::string>());
  }
  for (const auto& node : box_->nodes) EXPECT_TRUE(hostnames.contains(node.name)) << node.name;
  EXPECT_EQ(document["ready"], true);

  // The table at 80 columns: every line fits, the image is ready.
  const auto table = status({"--image", ref, "--width", "80"});
  EXPECT_EQ(table.status, 0) << table.output;
  EXPECT_THAT(table.output, HasSubstr("ready: every image is present"));
  std::istringstream lines(table.output);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_LE(line.size(), 80u) << line;
  }
  std::printf("[ figures  ] status --image (3 nodes) -> exit 0 after %.2f s\n%s", table.seconds,
              table.output.c_str());

  // The page: one present cell per node in the image's row.
  const auto page = run_command("curl -sf '" + controller_url() + "/?image=" + ref + "'");
  ASSERT_EQ(page.status, 0) << page.output;
  const auto row_at = page.output.find("data-ref=\"" + ref + "\"");
  ASSERT_NE(row_at, std::string::npos) << page.output;
  const std::string row_html =
      page.output.substr(row_at, page.output.find("</tr>", row_at) - row_at);
  std::size_t present = 0;
  for (auto at = row_html.find("class=\"c present\""); at != std::string::npos;
       at = row_html.find("class=\"c present\"", at + 1)) {
    ++present;
  }
  EXPECT_EQ(present, 3u) << row_html;
}

TEST_F(StatusTest, AFailureMakesItExit1AndNamesTheReason) {
  start();
  const auto warmed = run_wait({box_->missing_image, "--timeout", "60s"});
  ASSERT_EQ(warmed.status, 1) << warmed.output;
  const auto table = status({"--image", box_->missing_image});
  EXPECT_EQ(table.status, 1) << table.output;
  EXPECT_THAT(table.output, HasSubstr("at the registry: not_found"));
  EXPECT_THAT(table.output, HasSubstr("not ready"));
  const auto page = run_command("curl -sf " + controller_url() + "/");
  EXPECT_THAT(page.output, HasSubstr("at the registry: not_found"));
  // A controller that does not answer: exit 3.
  controller_.stop();
  EXPECT_EQ(status({}).status, 3);
}

// The page as a browser reads it (headless Chromium, Debian's `chromium`):
// from the DOM, one cell per (image, node), with the state each node's engine
// shows: a fresh image present everywhere, a tag the registry lacks failed
// everywhere. With SWARM_PREPULL_SCREENSHOT=FILE it also takes a screenshot
// while a large image is being pulled one node at a time (the docs' picture).
TEST_F(StatusTest, ChromiumReadsOneCellPerImageAndNodeWithTheEnginesState) {
  ASSERT_EQ(run_command("command -v chromium").status, 0) << "chromium is not installed";
  start_controller({"--max-parallel-node-pulls", "1"});
  for (std::size_t node = 0; node < box_->nodes.size(); ++node) {
    agents_.push_back(start_agent(node, token_file_, static_cast<int>(node) + 1));
  }
  ASSERT_TRUE(controller_healthy()) << read_text(controller_.log);
  const std::string image = fresh_image();
  const std::string ref = pinned(image);
  ASSERT_EQ(run_wait({image, "--timeout", "60s"}).status, 0);
  const std::string bad_service = create_service("bad", box_->missing_image);
  const std::string bad_ref = reconcile::parse_reference(box_->missing_image)->canonical();
  // Every node's agent has tried the missing tag and reported the failure.
  ASSERT_TRUE(wait_until("not_found on every node", 60s, [&] {
    for (const auto& listed : controller_images().value("images", nlohmann::json::array())) {
      if (listed.value("ref", "") == bad_ref) return listed["failures"].size() == 3;
    }
    return false;
  })) << controller_images().dump();

  const std::string chromium =
      "chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
      "--user-data-dir=" +
      dir_ + "/chromium ";
  const auto dom = run_command(chromium + "--dump-dom '" + controller_url() + "/' 2>/dev/null");
  ASSERT_EQ(dom.status, 0) << dom.output;
  // The columns' node ids, in order, then each row's cells under them.
  std::vector<std::string> columns;
  static const std::regex column(R"re(<th class="node[^"]*" scope="col" data-node="([^"]*)")re");
  for (auto it = std::sregex_iterator(dom.output.begin(), dom.output.end(), column);
       it != std::sregex_iterator(); ++it) {
    columns.push_back((*it)[1]);
  }
  for (const auto& id : node_ids_) {
    EXPECT_NE(std::find(columns.begin(), columns.end(), id), columns.end()) << id;
  }
  const auto cells_of = [&](const std::string& row_ref) {
    std::map<std::string, std::string> cells;
    const auto at = dom.output.find("data-ref=\"" + row_ref + "\"");
    if (at == std::string::npos) return cells;
    const std::string row = dom.output.substr(at, dom.output.find("</tr>", at) - at);
    static const std::regex cell(R"re(<td class="c (\w+)")re");
    std::size_t i = 0;
    for (auto it = std::sregex_iterator(row.begin(), row.end(), cell); it != std::sregex_iterator();
         ++it, ++i) {
      if (i < columns.size()) cells[columns[i]] = (*it)[1];
    }
    EXPECT_EQ(i, columns.size()) << row;
    return cells;
  };
  const auto fresh = cells_of(ref);
  const auto bad = cells_of(bad_ref);
  for (std::size_t node = 0; node < node_ids_.size(); ++node) {
    const auto& id = node_ids_[node];
    EXPECT_EQ(fresh.count(id) ? fresh.at(id) : "", engines_.present_on(node, ref) ? "present" : "?")
        << box_->nodes[node].name;
    EXPECT_FALSE(engines_.present_on(node, bad_ref));
    EXPECT_EQ(bad.count(id) ? bad.at(id) : "", "failed") << box_->nodes[node].name;
  }
  // The failed row comes first.
  EXPECT_LT(dom.output.find("data-ref=\"" + bad_ref + "\""),
            dom.output.find("data-ref=\"" + ref + "\""));

  const char* screenshot = std::getenv("SWARM_PREPULL_SCREENSHOT");
  if (screenshot == nullptr) return;
  // A large image pulled one node at a time: pulling on one, held on the others.
  const std::string big = fresh_image(400);
  create_service("big", big);
  const bool pulling = wait_until("a node pulling", 30s, [&] {
    return controller_images().dump().find("\"state\":\"pulling\"") != std::string::npos;
  });
  const auto shot =
      run_command(chromium + "--hide-scrollbars --window-size=1100,520 --screenshot=" +
                  std::string(screenshot) + " '" + controller_url() + "/' 2>&1");
  std::printf("[ figures  ] screenshot %s (pulling seen: %d): %s\n", screenshot, pulling ? 1 : 0,
              shot.output.c_str());
}

}  // namespace
}  // namespace swarm_prepull::testing
