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

}  // namespace
}  // namespace swarm_prepull::compose
