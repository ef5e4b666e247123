// `swarm-prepull images` and `wait` on a Compose project named only by its
// directory (issue 12): the .env names the files and the version, profiles
// and build-only services as compose reads them, errors with their place.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace swarm_prepull::cli {
namespace {

namespace fs = std::filesystem;

std::map<std::string, std::string>& variables() {
  static std::map<std::string, std::string> values;
  return values;
}

std::optional<std::string> test_environment(const std::string& name) {
  auto found = variables().find(name);
  if (found == variables().end()) return std::nullopt;
  return found->second;
}

struct Output {
  int status;
  std::string out;
  std::string err;
};

class CliProject : public ::testing::Test {
 protected:
  void SetUp() override {
    variables().clear();
    dir_ = fs::temp_directory_path() /
           ("swarm-prepull-cli-project-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }

  Output run(std::vector<std::string> args) {
    std::ostringstream out;
    std::ostringstream err;
    const int status = run_main(args, CommandIo{out, err, &test_environment});
    return {status, out.str(), err.str()};
  }

  fs::path dir_;
};

TEST_F(CliProject, ImagesWithOnlyTheProjectDirectory) {
  write(".env", "COMPOSE_FILE=compose.yml:compose.mysql.yml\nVERSION=2.4\n");
  write("compose.yml",
        "services:\n  web:\n    image: example/web:${VERSION}\n"
        "  worker:\n    build: ./worker\n");
  write("compose.mysql.yml", "services:\n  db:\n    image: mysql:8.4\n");
  const auto result = run({"images", "--project-directory", dir_.string()});
  EXPECT_EQ(result.status, exit_ok) << result.err;
  EXPECT_EQ(result.out, "example/web:2.4\nmysql:8.4\n");
  EXPECT_NE(result.err.find("service worker has no image, only build:"), std::string::npos)
      << result.err;
}

TEST_F(CliProject, ImagesWithProfiles) {
  write("compose.yaml",
        "services:\n  web:\n    image: web:1\n"
        "  debug:\n    image: debug:1\n    profiles: [debug]\n");
  EXPECT_EQ(run({"images", "--project-directory", dir_.string()}).out, "web:1\n");
  EXPECT_EQ(run({"images", "--project-directory", dir_.string(), "--profile", "debug"}).out,
            "debug:1\nweb:1\n");
  variables()["COMPOSE_PROFILES"] = "debug";
  EXPECT_EQ(run({"images", "--project-directory", dir_.string()}).out, "debug:1\nweb:1\n");
}

TEST_F(CliProject, ErrorsNameFileLineColumnAndVariable) {
  write("compose.yaml", "services:\n  web:\n    image: web:${VERSION:?set VERSION}\n");
  const auto result = run({"images", "--project-directory", dir_.string()});
  EXPECT_EQ(result.status, exit_input);
  EXPECT_EQ(result.err, "swarm-prepull images: " + (dir_ / "compose.yaml").string() +
                            ":3:12: services.web.image: required variable VERSION is missing a "
                            "value: set VERSION\n");
}

TEST_F(CliProject, WaitReadsTheProjectGivenOnlyItsDirectory) {
  write("compose.yaml", "services:\n  web:\n    build: .\n");
  // Nothing to pull in the project: nothing to wait for, said before any
  // controller is asked.
  const auto built = run({"wait", "--project-directory", dir_.string()});
  EXPECT_EQ(built.status, exit_usage);
  EXPECT_NE(built.err.find("service web has no image, only build:"), std::string::npos);
  EXPECT_NE(built.err.find("no image: give IMAGE..., -f FILE or --project-directory DIR"),
            std::string::npos)
      << built.err;
  write("compose.yaml", "services:\n  web:\n    image: web:${TAG:?}\n");
  const auto missing = run({"wait", "--project-directory", dir_.string()});
  EXPECT_EQ(missing.status, exit_input);
  EXPECT_NE(missing.err.find("compose.yaml:3:12: services.web.image: required variable TAG"),
            std::string::npos)
      << missing.err;
}

}  // namespace
}  // namespace swarm_prepull::cli
