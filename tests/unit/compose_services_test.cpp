// The rules that decide which services of a Compose project give an image,
// as compose-go's loader applies them: profiles, build-only services,
// `extends` and `include`. Each test is one of the compose-spec's examples
// (spec.md, profiles.md, extends.md, include.md) or one of compose-go's
// loader test cases, with the files held in memory.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compose/project.h"

namespace swarm_prepull::compose {
namespace {

class ComposeServices : public ::testing::Test {
 protected:
  Project project(const std::vector<std::string>& paths, std::vector<std::string> profiles = {}) {
    Project result{
        .directory = "/project",
        .lookup = [this](const std::string& name) -> std::optional<std::string> {
          auto found = environment_.find(name);
          if (found == environment_.end()) return std::nullopt;
          return found->second;
        },
        .profiles = std::move(profiles),
        .access = {.read = [this](const std::string& path) -> reconcile::Expected<std::string> {
                     ++reads_;
                     auto found = files_.find(path);
                     if (found == files_.end()) {
                       return reconcile::Error{path + ": No such file or directory"};
                     }
                     return found->second;
                   },
                   .is_file = [this](const std::string& path) { return files_.count(path) > 0; }}};
    for (const auto& path : paths) result.files.push_back({path, files_.at(path)});
    return result;
  }

  // "service=image" sorted by service, or "error: ...".
  std::vector<std::string> images(const std::vector<std::string>& paths,
                                  std::vector<std::string> profiles = {}) {
    auto result = project_images(project(paths, std::move(profiles)));
    if (!result) return {"error: " + result.error().message};
    warnings_ = result->warnings;
    std::vector<std::string> out;
    for (const auto& service : result->services) {
      out.push_back(service.service + "=" + service.image);
    }
    return out;
  }

  using Images = std::vector<std::string>;
  std::map<std::string, std::string> files_;
  std::map<std::string, std::string> environment_;
  std::vector<std::string> warnings_;
  int reads_ = 0;
};

// compose-spec profiles.md: frontend and phpmyadmin are off unless their
// profile is; backend and db have no profiles and are always on.
const char* const profiles_example =
    "services:\n"
    "  frontend:\n    image: frontend\n    profiles: [frontend]\n"
    "  phpmyadmin:\n    image: phpmyadmin\n    depends_on: [db]\n    profiles: [debug]\n"
    "  backend:\n    image: backend\n"
    "  db:\n    image: mysql\n";

TEST_F(ComposeServices, ServicesWithProfilesAreOffUnlessOneIsActive) {
  files_["/project/compose.yaml"] = profiles_example;
  EXPECT_EQ(images({"/project/compose.yaml"}), (Images{"backend=backend", "db=mysql"}));
  EXPECT_EQ(images({"/project/compose.yaml"}, {"debug"}),
            (Images{"backend=backend", "db=mysql", "phpmyadmin=phpmyadmin"}));
  EXPECT_EQ(images({"/project/compose.yaml"}, {"frontend", "debug"}),
            (Images{"backend=backend", "db=mysql", "frontend=frontend", "phpmyadmin=phpmyadmin"}));
  EXPECT_EQ(images({"/project/compose.yaml"}, {"*"}),
            (Images{"backend=backend", "db=mysql", "frontend=frontend", "phpmyadmin=phpmyadmin"}));
  EXPECT_EQ(images({"/project/compose.yaml"}, {"other"}), (Images{"backend=backend", "db=mysql"}));
}

TEST_F(ComposeServices, ProfilesAreInterpolatedAndMergedAcrossFiles) {
  environment_ = {{"PROFILE", "debug"}};
  files_["/project/compose.yaml"] =
      "services:\n  tools:\n    image: tools\n    profiles: [\"${PROFILE}\"]\n";
  files_["/project/compose.override.yaml"] = "services:\n  tools:\n    profiles: [ops]\n";
  EXPECT_EQ(images({"/project/compose.yaml"}, {"debug"}), (Images{"tools=tools"}));
  // An override's profiles are appended (compose-go merges sequences).
  EXPECT_EQ(images({"/project/compose.yaml", "/project/compose.override.yaml"}, {"ops"}),
            (Images{"tools=tools"}));
  files_["/project/bad.yaml"] = "services:\n  tools:\n    image: tools\n    profiles: debug\n";
  EXPECT_EQ(images({"/project/bad.yaml"}),
            (Images{"error: /project/bad.yaml:4:15: services.tools.profiles must be a list"}));
}

TEST_F(ComposeServices, SplitProfilesReadsComposeProfiles) {
  EXPECT_EQ(split_profiles("frontend, debug ,,ops"),
            (std::vector<std::string>{"frontend", "debug", "ops"}));
  EXPECT_EQ(split_profiles(""), std::vector<std::string>{});
}

// compose-spec build.md: a service built from a context has nothing to pull.
TEST_F(ComposeServices, ABuildOnlyServiceYieldsNothingAndSaysSo) {
  files_["/project/compose.yaml"] =
      "services:\n"
      "  frontend:\n    image: example/webapp\n    build: ./webapp\n"
      "  backend:\n    build:\n      context: backend\n      dockerfile: ../backend.Dockerfile\n"
      "  custom:\n    build: ~/custom\n";
  EXPECT_EQ(images({"/project/compose.yaml"}), (Images{"frontend=example/webapp"}));
  ASSERT_EQ(warnings_.size(), 2u);
  EXPECT_EQ(warnings_[0],
            "/project/compose.yaml: service backend has no image, only build: (it is built, not "
            "pulled; nothing to warm)");
  EXPECT_EQ(warnings_[1],
            "/project/compose.yaml: service custom has no image, only build: (it is built, not "
            "pulled; nothing to warm)");
}

TEST_F(ComposeServices, AnOverrideCanGiveABuildOnlyServiceItsImage) {
  files_["/project/compose.yaml"] = "services:\n  web:\n    build: .\n";
  files_["/project/compose.override.yaml"] = "services:\n  web:\n    image: registry/web:2\n";
  EXPECT_EQ(images({"/project/compose.yaml", "/project/compose.override.yaml"}),
            (Images{"web=registry/web:2"}));
  EXPECT_TRUE(warnings_.empty());
}

// Merge keys that name each other many times over ("billion laughs" through
// `<<`) are followed a bounded number of times, not once per path.
TEST_F(ComposeServices, MergeKeyBombsAreBounded) {
  std::string text = "x0: &a0 {z: 1}\n";
  for (int i = 1; i <= 20; ++i) {
    text += "x" + std::to_string(i) + ": &a" + std::to_string(i) + " {<<: [";
    for (int j = 0; j < 8; ++j) text += std::string(j ? ", " : "") + "*a" + std::to_string(i - 1);
    text += "]}\n";
  }
  text += "services:\n  s:\n    <<: *a20\n";
  files_["/project/compose.yaml"] = text;
  EXPECT_EQ(images({"/project/compose.yaml"}), Images{});
}

// compose-spec extends.md: `cli` takes `common`'s image.
TEST_F(ComposeServices, ExtendsAServiceOfTheSameFile) {
  files_["/project/compose.yaml"] =
      "services:\n"
      "  common:\n    image: busybox\n    environment:\n      TZ: utc\n      PORT: 80\n"
      "  cli:\n    extends:\n      service: common\n    environment:\n      PORT: 8080\n"
      "  short:\n    extends: common\n"
      "  own:\n    extends: common\n    image: own/image:1\n";
  EXPECT_EQ(images({"/project/compose.yaml"}),
            (Images{"cli=busybox", "common=busybox", "own=own/image:1", "short=busybox"}));
}

TEST_F(ComposeServices, AnUnsetVariableOfABaseIsWarnedAboutOnce) {
  files_["/project/compose.yaml"] =
      "services:\n  base:\n    image: base:${UNSET}latest\n"
      "  a:\n    extends: base\n  b:\n    extends: base\n";
  EXPECT_EQ(images({"/project/compose.yaml"}),
            (Images{"a=base:latest", "b=base:latest", "base=base:latest"}));
  EXPECT_EQ(warnings_, std::vector<std::string>{"/project/compose.yaml:3:12: the UNSET variable is "
                                                "not set; defaulting to a blank string"});
}

// compose-spec extends.md: the base in another file, whose path is relative
// to the project directory; that file's own extends start at its directory.
TEST_F(ComposeServices, ExtendsAServiceOfAnotherFile) {
  environment_ = {{"TAG", "2.4"}};
  files_["/project/compose.yaml"] =
      "services:\n"
      "  web:\n    extends:\n      file: common-services.yml\n      service: webapp\n"
      "  worker:\n    extends:\n      file: base/worker.yml\n      service: worker\n";
  files_["/project/common-services.yml"] =
      "services:\n  webapp:\n    image: example/webapp:${TAG}\n    ports: [\"8000:8000\"]\n";
  files_["/project/base/worker.yml"] =
      "services:\n  worker:\n    extends:\n      file: ../shared/queue.yml\n      service: queue\n";
  files_["/project/shared/queue.yml"] = "services:\n  queue:\n    image: example/queue:1\n";
  EXPECT_EQ(images({"/project/compose.yaml"}),
            (Images{"web=example/webapp:2.4", "worker=example/queue:1"}));
  // Only the named services come in, and the image names the file it is in.
  auto result = project_images(project({"/project/compose.yaml"}));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->services[0].file, "/project/common-services.yml");
  EXPECT_EQ(result->services[0].line, 3);
}

TEST_F(ComposeServices, ExtendingABuildOnlyServiceWithoutAnImageGivesNone) {
  files_["/project/compose.yaml"] =
      "services:\n"
      "  base:\n    build: .\n"
      "  app:\n    extends: base\n"
      "  tagged:\n    extends: base\n    image: registry/app:1\n";
  EXPECT_EQ(images({"/project/compose.yaml"}), (Images{"tagged=registry/app:1"}));
  ASSERT_EQ(warnings_.size(), 2u);
  EXPECT_NE(warnings_[0].find("service app has no image, only build:"), std::string::npos);
}

TEST_F(ComposeServices, ExtendsErrorsNameFileLineAndWhat) {
  files_["/project/compose.yaml"] = "services:\n  web:\n    extends:\n      service: nope\n";
  EXPECT_EQ(images({"/project/compose.yaml"}),
            (Images{"error: /project/compose.yaml:4:7: cannot extend service \"web\": service "
                    "\"nope\" not found in /project/compose.yaml"}));
  files_["/project/compose.yaml"] =
      "services:\n  web:\n    extends:\n      file: missing.yml\n      service: web\n";
  EXPECT_EQ(images({"/project/compose.yaml"}),
            (Images{"error: /project/compose.yaml:4:7: services.web.extends: "
                    "/project/missing.yml: No such file or directory"}));
  files_["/project/compose.yaml"] = "services:\n  web:\n    extends:\n      file: base.yml\n";
  EXPECT_EQ(images({"/project/compose.yaml"}),
            (Images{"error: /project/compose.yaml:4:7: services.web.extends.service is required"}));
  files_["/project/compose.yaml"] =
      "services:\n  web:\n    extends:\n      file: base.yml\n      service: web\n";
  files_["/project/base.yml"] = "services:\n  web:\n    image: web:${TAG:?TAG must be set}\n";
  EXPECT_EQ(images({"/project/compose.yaml"}),
            (Images{"error: /project/base.yml:3:12: services.web.image: required variable TAG "
                    "is missing a value: TAG must be set"}));
  files_["/project/base.yml"] = std::string("services:\n  web:\n    image: a\0b\n", 32);
  EXPECT_EQ(
      images({"/project/compose.yaml"}),
      (Images{"error: /project/compose.yaml:4:7: services.web.extends: /project/base.yml:3:13: "
              "control character 0x00 (YAML allows none)"}));
}

TEST_F(ComposeServices, ExtendsCyclesAreErrors) {
  files_["/project/compose.yaml"] =
      "services:\n  a:\n    extends: b\n    image: a\n  b:\n    extends: a\n";
  auto same_file = images({"/project/compose.yaml"});
  ASSERT_EQ(same_file.size(), 1u);
  EXPECT_NE(
      same_file[0].find("circular reference: /project/compose.yaml a -> /project/compose.yaml "
                        "b -> /project/compose.yaml a"),
      std::string::npos)
      << same_file[0];
  files_["/project/compose.yaml"] =
      "services:\n  web:\n    extends:\n      file: other.yml\n      service: web\n";
  files_["/project/other.yml"] =
      "services:\n  web:\n    extends:\n      file: compose.yaml\n      service: web\n";
  auto two_files = images({"/project/compose.yaml"});
  ASSERT_EQ(two_files.size(), 1u);
  EXPECT_NE(two_files[0].find("circular reference"), std::string::npos) << two_files[0];
  files_["/project/compose.yaml"] = "services:\n  self:\n    extends: self\n";
  EXPECT_NE(images({"/project/compose.yaml"})[0].find("circular reference"), std::string::npos);
}

TEST_F(ComposeServices, ExtendsChainsAreBounded) {
  std::string text = "services:\n  s0:\n    image: base\n";
  for (int i = 1; i <= 100; ++i) {
    text += "  s" + std::to_string(i) + ":\n    extends: s" + std::to_string(i - 1) + "\n";
  }
  files_["/project/compose.yaml"] = text;
  auto result = images({"/project/compose.yaml"});
  ASSERT_EQ(result.size(), 1u);
  EXPECT_NE(result[0].find("more than 64 services deep"), std::string::npos) << result[0];
}

// compose-spec include.md: serviceB comes from the included file, as if
// declared here.
TEST_F(ComposeServices, IncludeShortSyntax) {
  files_["/project/compose.yaml"] =
      "include:\n  - my-compose-include.yaml\n"
      "services:\n  serviceA:\n    build: .\n    depends_on:\n      - serviceB\n";
  files_["/project/my-compose-include.yaml"] = "services:\n  serviceB:\n    image: example/b:1\n";
  EXPECT_EQ(images({"/project/compose.yaml"}), (Images{"serviceB=example/b:1"}));
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_NE(warnings_[0].find("service serviceA has no image, only build:"), std::string::npos);
}

// An included project reads its own .env; the including project's variables
// win over it.
TEST_F(ComposeServices, AnIncludedProjectHasItsOwnDotEnv) {
  files_["/project/compose.yaml"] = "include:\n  - sub/compose.yaml\n";
  files_["/project/sub/compose.yaml"] =
      "services:\n  sub:\n    image: example/sub:${TAG}\n    profiles: [\"${PROFILE:-on}\"]\n";
  files_["/project/sub/.env"] = "TAG=1.0\n";
  EXPECT_EQ(images({"/project/compose.yaml"}, {"on"}), (Images{"sub=example/sub:1.0"}));
  environment_ = {{"TAG", "2.0"}};
  EXPECT_EQ(images({"/project/compose.yaml"}, {"on"}), (Images{"sub=example/sub:2.0"}));
  // Profiles apply to included services too.
  EXPECT_EQ(images({"/project/compose.yaml"}), Images{});
}

// compose-spec include.md, long syntax: several files merged, the project
// directory and env_file relative to the including project.
TEST_F(ComposeServices, IncludeLongSyntax) {
  files_["/project/app/compose.yaml"] =
      "include:\n"
      "  - path:\n      - ../commons/compose.yaml\n      - ../commons/override.yaml\n"
      "    project_directory: ..\n"
      "    env_file: ../another/.env\n";
  files_["/project/commons/compose.yaml"] =
      "services:\n  db:\n    image: postgres:${PG}\n  cache:\n    image: redis:7\n";
  files_["/project/commons/override.yaml"] = "services:\n  cache:\n    image: valkey/valkey:8\n";
  files_["/project/another/.env"] = "PG=16\n";
  files_["/project/commons/.env"] = "PG=not-this-one\n";
  Project app = project({"/project/app/compose.yaml"});
  app.directory = "/project/app";
  auto result = project_images(app);
  ASSERT_TRUE(result) << result.error().message;
  ASSERT_EQ(result->services.size(), 2u);
  EXPECT_EQ(result->services[0].image, "valkey/valkey:8");
  EXPECT_EQ(result->services[1].image, "postgres:16");
  // A missing env_file is an error naming it.
  files_.erase("/project/another/.env");
  auto missing = project_images(app);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message,
            "/project/app/compose.yaml:2:5: include.env_file: /project/another/.env is not a file");
}

TEST_F(ComposeServices, AServiceBothIncludedAndDeclaredConflicts) {
  files_["/project/compose.yaml"] =
      "include:\n  - other.yaml\nservices:\n  web:\n    image: web:2\n";
  files_["/project/other.yaml"] = "services:\n  web:\n    image: web:1\n";
  EXPECT_EQ(images({"/project/compose.yaml"}),
            (Images{"error: /project/compose.yaml:5:5: services.web conflicts with imported "
                    "resource (a service of an included project)"}));
  // Two includes giving the same service alike are fine, differently not.
  files_["/project/compose.yaml"] = "include:\n  - other.yaml\n  - same.yaml\n";
  files_["/project/same.yaml"] = "services:\n  web:\n    image: web:1\n";
  EXPECT_EQ(images({"/project/compose.yaml"}), (Images{"web=web:1"}));
  files_["/project/same.yaml"] = "services:\n  web:\n    image: web:3\n";
  EXPECT_EQ(images({"/project/compose.yaml"}),
            (Images{"error: /project/compose.yaml:3:5: services.web conflicts with imported "
                    "resource"}));
  // An override file, read after the include, may change it.
  files_["/project/compose.yaml"] = "include:\n  - other.yaml\n";
  files_["/project/compose.override.yaml"] = "services:\n  web:\n    image: web:dev\n";
  EXPECT_EQ(images({"/project/compose.yaml", "/project/compose.override.yaml"}),
            (Images{"web=web:dev"}));
}

// The same extended file, read for two projects with different variables.
TEST_F(ComposeServices, AnExtendedFileTakesTheVariablesOfTheProjectNamingIt) {
  files_["/project/compose.yaml"] =
      "include:\n  - sub/compose.yaml\n"
      "services:\n  web:\n    extends:\n      file: base.yaml\n      service: base\n";
  files_["/project/sub/compose.yaml"] =
      "services:\n  sub:\n    extends:\n      file: ../base.yaml\n      service: base\n";
  files_["/project/sub/.env"] = "TAG=sub\n";
  files_["/project/base.yaml"] = "services:\n  base:\n    image: base:${TAG:-main}\n";
  EXPECT_EQ(images({"/project/compose.yaml"}), (Images{"sub=base:sub", "web=base:main"}));
}

// compose-go applies include before extends: a service may extend an
// included one.
TEST_F(ComposeServices, ExtendsAnIncludedService) {
  files_["/project/compose.yaml"] =
      "include:\n  - base.yaml\nservices:\n  web:\n    extends: base\n";
  files_["/project/base.yaml"] = "services:\n  base:\n    image: example/base:1\n";
  EXPECT_EQ(images({"/project/compose.yaml"}),
            (Images{"base=example/base:1", "web=example/base:1"}));
}

// compose-go's testdata/compose-include-cycle.yaml.
TEST_F(ComposeServices, IncludeCyclesAreErrors) {
  files_["/project/compose.yaml"] = "include:\n  - sub/compose.yaml\n";
  files_["/project/sub/compose.yaml"] = "include:\n  - ../compose.yaml\n";
  EXPECT_EQ(images({"/project/compose.yaml"}),
            (Images{"error: /project/sub/compose.yaml:2:5: include cycle: /project/compose.yaml "
                    "-> /project/sub/compose.yaml -> /project/compose.yaml"}));
  files_["/project/compose.yaml"] = "include:\n  - compose.yaml\n";
  EXPECT_NE(images({"/project/compose.yaml"})[0].find("include cycle"), std::string::npos);
}

TEST_F(ComposeServices, IncludesAreBounded) {
  // Each level includes the next twice: 2^20 reads without a bound.
  for (int i = 0; i < 20; ++i) {
    files_["/project/level" + std::to_string(i) + ".yaml"] =
        "include:\n  - level" + std::to_string(i + 1) + ".yaml\n  - path: level" +
        std::to_string(i + 1) + ".yaml\n";
  }
  files_["/project/level20.yaml"] = "services:\n  leaf:\n    image: leaf\n";
  auto result = images({"/project/level0.yaml"});
  ASSERT_EQ(result.size(), 1u);
  EXPECT_NE(result[0].find("more than 256 files read"), std::string::npos) << result[0];
  EXPECT_LE(reads_, 257);
  files_["/project/bad.yaml"] = "include: other.yaml\n";
  EXPECT_EQ(images({"/project/bad.yaml"}),
            (Images{"error: /project/bad.yaml:1:10: include must be a list"}));
}

}  // namespace
}  // namespace swarm_prepull::compose
