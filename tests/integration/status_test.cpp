// `swarm-prepull status` and the status page (GET /) on the real sandbox
// swarm: a controller and one agent per node as processes; what they show
// for an image is checked against each node's engine.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
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

  // `swarm-prepull status ARGS` against this controller, as a process.
  WaitResult status(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"status", "--controller", controller_url(), "--token-file",
                                    token_file_};
    all.insert(all.end(), args.begin(), args.end());
    const std::string log = dir_ + "/status-" + std::to_string(++runs_) + ".log";
    const auto started = ProcessClock::now();
    auto process = Process::start(all, log);
    WaitResult result;
    result.status = process.wait_exit(std::chrono::seconds(30));
    result.seconds = seconds_since(started);
    result.output = read_text(log);
    return result;
  }

  int runs_ = 0;
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

}  // namespace
}  // namespace swarm_prepull::testing
