#include "cli/options.h"

#include <gtest/gtest.h>

namespace swarm_prepull::cli {
namespace {

std::map<std::string, std::string> fake_environment;
std::optional<std::string> lookup(const std::string& name) {
  auto found = fake_environment.find(name);
  if (found == fake_environment.end()) return std::nullopt;
  return found->second;
}

const std::vector<OptionSpec> specs = {
    {.name = "format",
     .value_name = "FORMAT",
     .help = "output format",
     .default_value = "table",
     .choices = {"table", "json"}},
    {.name = "snapshot", .value_name = "FILE", .help = "read a snapshot"},
    {.name = "verbose", .help = "more output"},
    {.name = "constraint", .value_name = "EXPR", .help = "a constraint", .repeatable = true},
    {.name = "f", .value_name = "FILE", .help = "a file", .repeatable = true},
};

class OptionsTest : public ::testing::Test {
 protected:
  void SetUp() override { fake_environment.clear(); }
};

TEST_F(OptionsTest, FlagsInBothFormsAndPositionals) {
  auto parsed =
      parse_options(specs, {"--format", "json", "x", "--snapshot=s.json", "--", "--y"}, lookup);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->get("format"), "json");
  EXPECT_EQ(parsed->get("snapshot"), "s.json");
  EXPECT_EQ(parsed->positional, (std::vector<std::string>{"x", "--y"}));
}

TEST_F(OptionsTest, DefaultsEnvironmentAndPrecedence) {
  auto defaults = parse_options(specs, {}, lookup);
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->get("format"), "table");
  EXPECT_FALSE(defaults->is_set("verbose"));

  fake_environment["SWARM_PREPULL_FORMAT"] = "json";
  fake_environment["SWARM_PREPULL_VERBOSE"] = "true";
  fake_environment["SWARM_PREPULL_CONSTRAINT"] = "node.role==worker,node.labels.a==b";
  fake_environment["SWARM_PREPULL_F"] = "ignored.yml";
  auto from_environment = parse_options(specs, {}, lookup);
  ASSERT_TRUE(from_environment);
  EXPECT_EQ(from_environment->get("format"), "json");
  EXPECT_TRUE(from_environment->is_set("verbose"));
  EXPECT_EQ(from_environment->all("constraint").size(), 2u);
  EXPECT_TRUE(from_environment->all("f").empty());

  auto flag_wins = parse_options(specs, {"--format=table"}, lookup);
  ASSERT_TRUE(flag_wins);
  EXPECT_EQ(flag_wins->get("format"), "table");
}

TEST_F(OptionsTest, RepeatableOptionsAccumulate) {
  auto parsed = parse_options(
      specs, {"-f", "a.yml", "-f", "b.yml", "--format", "json", "--format", "table"}, lookup);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->all("f"), (std::vector<std::string>{"a.yml", "b.yml"}));
  EXPECT_EQ(parsed->all("format"), (std::vector<std::string>{"table"}));
}

TEST_F(OptionsTest, BadInputIsAnErrorThatSaysWhat) {
  auto unknown = parse_options(specs, {"--nope"}, lookup);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("--nope"), std::string::npos);

  auto no_value = parse_options(specs, {"--snapshot"}, lookup);
  ASSERT_FALSE(no_value);
  EXPECT_NE(no_value.error().message.find("needs a value"), std::string::npos);

  auto bad_choice = parse_options(specs, {"--format", "xml"}, lookup);
  ASSERT_FALSE(bad_choice);
  EXPECT_NE(bad_choice.error().message.find("table, json"), std::string::npos);

  fake_environment["SWARM_PREPULL_FORMAT"] = "yaml";
  auto bad_environment = parse_options(specs, {}, lookup);
  ASSERT_FALSE(bad_environment);
  EXPECT_NE(bad_environment.error().message.find("SWARM_PREPULL_FORMAT"), std::string::npos);
}

TEST_F(OptionsTest, HelpNamesTheVariables) {
  const std::string help = format_options_help(specs);
  EXPECT_NE(help.find("--format FORMAT"), std::string::npos);
  EXPECT_NE(help.find("[SWARM_PREPULL_FORMAT]"), std::string::npos);
  EXPECT_NE(help.find("(default: table)"), std::string::npos);
  EXPECT_EQ(help.find("SWARM_PREPULL_F]"), std::string::npos);
}

}  // namespace
}  // namespace swarm_prepull::cli
