// A Compose project found and read as `docker compose config --images` does
// (compose-go cli/options.go and loader/): the project directory and its
// .env, COMPOSE_FILE, the default file names and their override file. Each
// test is a project on disk laid out like the compose-spec's examples.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compose/stack_files.h"

namespace swarm_prepull::compose {
namespace {

namespace fs = std::filesystem;

class ComposeProject : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("swarm-prepull-project-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "elsewhere");
  }
  void TearDown() override { fs::remove_all(root_); }

  void write(const std::string& path, const std::string& text) {
    fs::create_directories((root_ / path).parent_path());
    std::ofstream(root_ / path) << text;
  }
  std::string path(const std::string& relative) const { return (root_ / relative).string(); }

  Lookup environment() const {
    return [this](const std::string& name) -> std::optional<std::string> {
      auto found = environment_.find(name);
      if (found == environment_.end()) return std::nullopt;
      return found->second;
    };
  }

  // The images, "service=image" sorted by service, or "error: ...".
  std::vector<std::string> images(StackFiles stack) {
    if (stack.current_directory.empty()) stack.current_directory = path("elsewhere");
    auto result = read_stack_images(stack, environment());
    if (!result) return {"error: " + result.error().message};
    warnings_ = result->warnings;
    std::vector<std::string> out;
    for (const auto& service : result->services)
      out.push_back(service.service + "=" + service.image);
    return out;
  }

  using Images = std::vector<std::string>;
  fs::path root_;
  std::map<std::string, std::string> environment_;
  std::vector<std::string> warnings_;
};

// The project: a .env that names the files and the version.
TEST_F(ComposeProject, ProjectDirectoryAloneReadsItsDotEnvAndComposeFile) {
  write("app/.env", "COMPOSE_FILE=compose.yml:compose.mysql.yml\nVERSION=2.4\n");
  write("app/compose.yml", "services:\n  web:\n    image: example/web:${VERSION}\n");
  write("app/compose.mysql.yml", "services:\n  db:\n    image: mysql:8.4\n");
  write("app/compose.yaml", "services:\n  ignored:\n    image: not/this\n");
  EXPECT_EQ(images({.project_directory = path("app")}),
            (Images{"db=mysql:8.4", "web=example/web:2.4"}));
}

TEST_F(ComposeProject, TheEnvironmentWinsOverTheDotEnv) {
  write("app/.env", "VERSION=2.4\nCOMPOSE_FILE=compose.yml\n");
  write("app/compose.yml", "services:\n  web:\n    image: example/web:${VERSION}\n");
  write("app/other.yml", "services:\n  other:\n    image: other:${VERSION}\n");
  environment_ = {{"VERSION", "3.0"}};
  EXPECT_EQ(images({.project_directory = path("app")}), (Images{"web=example/web:3.0"}));
  // COMPOSE_FILE too: the environment first, then the project's .env.
  environment_["COMPOSE_FILE"] = "other.yml";
  EXPECT_EQ(images({.project_directory = path("app")}), (Images{"other=other:3.0"}));
}

TEST_F(ComposeProject, EnvFileReplacesTheDotEnv) {
  write("app/.env", "VERSION=2.4\nREGISTRY=from.dotenv\n");
  write("release.env", "VERSION=9\n");
  write("app/compose.yaml",
        "services:\n  web:\n    image: ${REGISTRY:-docker.io}/web:${VERSION}\n");
  EXPECT_EQ(images({.env_file = path("release.env"), .project_directory = path("app")}),
            (Images{"web=docker.io/web:9"}));
}

TEST_F(ComposeProject, TheFirstFileNamesTheProjectDirectory) {
  write("app/.env", "VERSION=2.4\n");
  write("app/compose.yml", "services:\n  web:\n    image: example/web:${VERSION}\n");
  EXPECT_EQ(images({.files = {path("app/compose.yml")}}), (Images{"web=example/web:2.4"}));
  // -f wins over COMPOSE_FILE.
  environment_ = {{"COMPOSE_FILE", "nothing.yml"}};
  EXPECT_EQ(images({.files = {path("app/compose.yml")}}), (Images{"web=example/web:2.4"}));
}

TEST_F(ComposeProject, ComposePathSeparatorSplitsComposeFile) {
  write("app/a.yml", "services:\n  a:\n    image: a:1\n");
  write("app/b.yml", "services:\n  a:\n    image: a:2\n  b:\n    image: b:1\n");
  environment_ = {{"COMPOSE_FILE", "a.yml;b.yml"}, {"COMPOSE_PATH_SEPARATOR", ";"}};
  EXPECT_EQ(images({.project_directory = path("app")}), (Images{"a=a:2", "b=b:1"}));
  // Absolute paths are taken as they are.
  environment_ = {{"COMPOSE_FILE", path("app/b.yml") + ":" + path("app/a.yml")}};
  EXPECT_EQ(images({.project_directory = path("app")}), (Images{"a=a:1", "b=b:1"}));
}

TEST_F(ComposeProject, DefaultFileNamesInComposeOrder) {
  write("app/docker-compose.yaml", "services:\n  web:\n    image: web:docker-compose.yaml\n");
  EXPECT_EQ(images({.project_directory = path("app")}), (Images{"web=web:docker-compose.yaml"}));
  write("app/docker-compose.yml", "services:\n  web:\n    image: web:docker-compose.yml\n");
  EXPECT_EQ(images({.project_directory = path("app")}), (Images{"web=web:docker-compose.yml"}));
  write("app/compose.yml", "services:\n  web:\n    image: web:compose.yml\n");
  EXPECT_EQ(images({.project_directory = path("app")}), (Images{"web=web:compose.yml"}));
  write("app/compose.yaml", "services:\n  web:\n    image: web:compose.yaml\n");
  EXPECT_EQ(images({.project_directory = path("app")}), (Images{"web=web:compose.yaml"}));
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_EQ(warnings_[0].find("found several Compose files: " + path("app/compose.yaml")), 0u)
      << warnings_[0];
}

TEST_F(ComposeProject, TheOverrideFileIsMerged) {
  write("app/compose.yaml", "services:\n  web:\n    image: web:1\n  db:\n    image: postgres:16\n");
  write("app/compose.override.yaml", "services:\n  web:\n    image: web:dev\n");
  EXPECT_EQ(images({.project_directory = path("app")}), (Images{"db=postgres:16", "web=web:dev"}));
  // compose-go takes the first override name present, whichever main file won.
  write("app/docker-compose.override.yml", "services:\n  db:\n    image: postgres:17\n");
  EXPECT_EQ(images({.project_directory = path("app")}), (Images{"db=postgres:16", "web=web:dev"}));
  write("app/compose.override.yml", "services:\n  db:\n    image: postgres:17\n");
  EXPECT_EQ(images({.project_directory = path("app")}), (Images{"db=postgres:17", "web=web:1"}));
}

TEST_F(ComposeProject, TheNearestParentHoldingAComposeFileIsTheProject) {
  write("app/.env", "VERSION=2.4\n");
  write("app/compose.yaml", "services:\n  web:\n    image: example/web:${VERSION}\n");
  fs::create_directories(root_ / "app/src/deep");
  EXPECT_EQ(images({.current_directory = path("app/src/deep")}), (Images{"web=example/web:2.4"}));
}

TEST_F(ComposeProject, NoComposeFileIsAnError) {
  fs::create_directories(root_ / "empty");
  const auto result = images({.project_directory = path("empty")});
  ASSERT_EQ(result.size(), 1u);
  EXPECT_EQ(result[0].find("error: no Compose file"), 0u) << result[0];
  environment_ = {{"COMPOSE_FILE", "missing.yml"}};
  EXPECT_EQ(images({.project_directory = path("empty")}),
            (Images{"error: " + path("empty/missing.yml") + ": No such file or directory"}));
}

TEST_F(ComposeProject, ComposeDisableEnvFileSkipsTheDotEnv) {
  write("app/.env", "VERSION=2.4\n");
  write("app/compose.yaml", "services:\n  web:\n    image: example/web:${VERSION:-latest}\n");
  environment_ = {{"COMPOSE_DISABLE_ENV_FILE", "true"}};
  EXPECT_EQ(images({.project_directory = path("app")}), (Images{"web=example/web:latest"}));
  environment_ = {{"COMPOSE_DISABLE_ENV_FILE", "0"}};
  EXPECT_EQ(images({.project_directory = path("app")}), (Images{"web=example/web:2.4"}));
  environment_ = {{"COMPOSE_DISABLE_ENV_FILE", "maybe"}};
  EXPECT_EQ(images({.project_directory = path("app")})[0].find("error: COMPOSE_DISABLE_ENV_FILE"),
            0u);
}

// COMPOSE_PROFILES from the environment or the .env; --profile replaces it.
TEST_F(ComposeProject, ProfilesComeFromComposeProfilesUnlessGiven) {
  write("app/.env", "COMPOSE_PROFILES=debug, frontend\n");
  write("app/compose.yaml",
        "services:\n  backend:\n    image: backend\n"
        "  frontend:\n    image: frontend\n    profiles: [frontend]\n"
        "  phpmyadmin:\n    image: phpmyadmin\n    profiles: [debug]\n");
  EXPECT_EQ(images({.project_directory = path("app")}),
            (Images{"backend=backend", "frontend=frontend", "phpmyadmin=phpmyadmin"}));
  environment_ = {{"COMPOSE_PROFILES", "frontend"}};
  EXPECT_EQ(images({.project_directory = path("app")}),
            (Images{"backend=backend", "frontend=frontend"}));
  EXPECT_EQ(images({.project_directory = path("app"), .profiles = {"debug"}}),
            (Images{"backend=backend", "phpmyadmin=phpmyadmin"}));
}

// extends.file from disk, relative to the project directory, interpolated
// with the project's .env.
TEST_F(ComposeProject, ExtendsReadsTheOtherFileFromTheProjectDirectory) {
  write("app/.env", "VERSION=2.4\n");
  write("app/compose.yaml",
        "services:\n  web:\n    extends:\n      file: common/web.yml\n      service: web\n");
  write("app/common/web.yml", "services:\n  web:\n    image: example/web:${VERSION}\n");
  EXPECT_EQ(images({.current_directory = path("app")}), (Images{"web=example/web:2.4"}));
}

// include from disk: the included project's directory and .env.
TEST_F(ComposeProject, IncludeReadsTheIncludedProjectFromDisk) {
  write("app/compose.yaml",
        "include:\n  - ../db/compose.yaml\nservices:\n  web:\n    image: web\n");
  write("db/compose.yaml", "services:\n  db:\n    image: postgres:${PG_VERSION}\n");
  write("db/.env", "PG_VERSION=16\n");
  EXPECT_EQ(images({.project_directory = path("app")}), (Images{"db=postgres:16", "web=web"}));
  fs::remove(root_ / "db/compose.yaml");
  EXPECT_EQ(images({.project_directory = path("app")}),
            (Images{"error: " + path("app/compose.yaml") +
                    ":2:5: include: " + path("db/compose.yaml") + ": No such file or directory"}));
}

TEST_F(ComposeProject, ErrorsInTheDotEnvNameIt) {
  write("app/.env", "VERSION=2.4\nBAD KEY=1\n");
  write("app/compose.yaml", "services:\n  web:\n    image: web\n");
  EXPECT_EQ(
      images({.project_directory = path("app")}),
      (Images{"error: " + path("app/.env") + ": line 2: key \"BAD KEY\" cannot contain a space"}));
}

}  // namespace
}  // namespace swarm_prepull::compose
