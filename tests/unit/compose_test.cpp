#include "compose/compose.h"

#include <gtest/gtest.h>

namespace swarm_prepull::compose {
namespace {

const std::map<std::string, std::string> variables = {
    {"TAG", "1.2"}, {"EMPTY", ""}, {"REGISTRY", "10.213.37.1:5000"}, {"NAME", "app"}};

std::optional<std::string> lookup(const std::string& name) {
  auto found = variables.find(name);
  if (found == variables.end()) return std::nullopt;
  return found->second;
}

std::string expand(std::string_view text) {
  auto result = interpolate(text, lookup);
  return result ? *result : "error: " + result.error().message;
}

TEST(Interpolate, PlainAndBracedNames) {
  EXPECT_EQ(expand("redis:$TAG"), "redis:1.2");
  EXPECT_EQ(expand("redis:${TAG}"), "redis:1.2");
  EXPECT_EQ(expand("$REGISTRY/$NAME:${TAG}"), "10.213.37.1:5000/app:1.2");
  EXPECT_EQ(expand("${NAME}_x"), "app_x");
  EXPECT_EQ(expand("$NAME-x"), "app-x");  // '-' ends an unbraced name
  EXPECT_EQ(expand("no variables"), "no variables");
}

TEST(Interpolate, UnsetIsBlankAndReported) {
  std::vector<std::string> unset;
  EXPECT_EQ(*interpolate("a${MISSING}b$ALSO", lookup, &unset), "ab");
  EXPECT_EQ(unset, (std::vector<std::string>{"MISSING", "ALSO"}));
}

TEST(Interpolate, DollarDollarIsALiteralDollar) {
  EXPECT_EQ(expand("price$$5"), "price$5");
  EXPECT_EQ(expand("$${TAG}"), "${TAG}");
}

TEST(Interpolate, DefaultWhenUnsetOrEmpty) {
  EXPECT_EQ(expand("${MISSING:-d}"), "d");
  EXPECT_EQ(expand("${EMPTY:-d}"), "d");
  EXPECT_EQ(expand("${TAG:-d}"), "1.2");
}

TEST(Interpolate, DefaultOnlyWhenUnset) {
  EXPECT_EQ(expand("${MISSING-d}"), "d");
  EXPECT_EQ(expand("${EMPTY-d}"), "");
  EXPECT_EQ(expand("${TAG-d}"), "1.2");
}

TEST(Interpolate, RequiredWhenUnsetOrEmpty) {
  EXPECT_EQ(expand("${MISSING:?set it}"),
            "error: required variable MISSING is missing a value: set it");
  EXPECT_EQ(expand("${EMPTY:?set it}"),
            "error: required variable EMPTY is missing a value: set it");
  EXPECT_EQ(expand("${TAG:?set it}"), "1.2");
  EXPECT_EQ(expand("${MISSING:?}"), "error: required variable MISSING is missing a value");
}

TEST(Interpolate, RequiredOnlyWhenUnset) {
  EXPECT_EQ(expand("${MISSING?need}"), "error: required variable MISSING is missing a value: need");
  EXPECT_EQ(expand("${EMPTY?need}"), "");
}

TEST(Interpolate, AlternativeWhenSetAndNonEmpty) {
  EXPECT_EQ(expand("${TAG:+alt}"), "alt");
  EXPECT_EQ(expand("${EMPTY:+alt}"), "");
  EXPECT_EQ(expand("${MISSING:+alt}"), "");
}

TEST(Interpolate, AlternativeWhenSet) {
  EXPECT_EQ(expand("${TAG+alt}"), "alt");
  EXPECT_EQ(expand("${EMPTY+alt}"), "alt");
  EXPECT_EQ(expand("${MISSING+alt}"), "");
}

TEST(Interpolate, NestedDefaults) {
  EXPECT_EQ(expand("${MISSING:-${TAG}}"), "1.2");
  EXPECT_EQ(expand("${MISSING:-${ALSO:-x-$NAME}}"), "x-app");
  EXPECT_EQ(expand("${TAG:+v${TAG}}"), "v1.2");
  EXPECT_EQ(expand("${MISSING:?need ${NAME}}"),
            "error: required variable MISSING is missing a value: need app");
}

TEST(Interpolate, MalformedExpressionsAreErrors) {
  for (const char* bad : {"${", "${TAG", "${}", "${1A}", "${TAG:}", "${TAG!x}", "${TAG:=x}",
                          "${TAG:-x\n}", "a ${TAG-x"}) {
    auto result = interpolate(bad, lookup);
    ASSERT_FALSE(result) << bad;
    EXPECT_NE(result.error().message.find("invalid interpolation format"), std::string::npos)
        << bad << ": " << result.error().message;
  }
}

TEST(Interpolate, ADollarStartingNoExpressionIsKeptAsWritten) {
  for (const char* literal : {"$", "a$", "$-x", "$ {TAG}", "$5", "$}"}) {
    EXPECT_EQ(expand(literal), literal);
  }
}

TEST(Interpolate, NestingIsBounded) {
  std::string deep;
  for (int i = 0; i < 10000; ++i) deep += "${MISSING:-";
  deep += "x" + std::string(10000, '}');
  auto result = interpolate(deep, lookup);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("nested deeper than 64 levels"), std::string::npos);
  std::string shallow = "${MISSING:-${MISSING:-${TAG}}}";
  EXPECT_EQ(expand(shallow), "1.2");
}

StackImages images_of(const std::vector<SourceFile>& files) {
  auto result = stack_images(files, lookup);
  EXPECT_TRUE(result) << result.error().message;
  return result ? *result : StackImages{};
}

TEST(StackImages, InterpolatesEveryServiceImage) {
  auto stack = images_of({{"stack.yml",
                           "services:\n"
                           "  web:\n    image: $REGISTRY/web:${TAG}\n"
                           "  db:\n    image: redis:7\n"
                           "  build-only:\n    build: .\n"}});
  ASSERT_EQ(stack.services.size(), 2u);
  EXPECT_EQ(stack.services[0].service, "db");
  EXPECT_EQ(stack.services[1].image, "10.213.37.1:5000/web:1.2");
  EXPECT_EQ(stack.services[1].line, 3);
  ASSERT_EQ(stack.warnings.size(), 1u);
  EXPECT_NE(stack.warnings[0].find("build-only has no image"), std::string::npos);
}

TEST(StackImages, LaterFilesOverridePerService) {
  auto stack =
      images_of({{"a.yml", "services:\n  web:\n    image: web:1\n  db:\n    image: db:1\n"},
                 {"b.yml", "services:\n  web:\n    image: web:2\n  db:\n    ports: [1]\n"},
                 {"c.yml", ""}});
  ASSERT_EQ(stack.services.size(), 2u);
  EXPECT_EQ(stack.services[0].image, "db:1");
  EXPECT_EQ(stack.services[0].file, "a.yml");
  EXPECT_EQ(stack.services[1].image, "web:2");
  EXPECT_EQ(stack.services[1].file, "b.yml");
}

TEST(StackImages, FollowsMergeKeys) {
  auto stack = images_of({{"s.yml",
                           "x-base: &base\n  image: base:${TAG}\n"
                           "services:\n  a:\n    <<: *base\n  b:\n    <<: [*base]\n"
                           "  c:\n    <<: *base\n    image: own:1\n"}});
  ASSERT_EQ(stack.services.size(), 3u);
  EXPECT_EQ(stack.services[0].image, "base:1.2");
  EXPECT_EQ(stack.services[1].image, "base:1.2");
  EXPECT_EQ(stack.services[2].image, "own:1");
}

TEST(StackImages, ErrorsSayFileLineAndColumn) {
  auto malformed = stack_images({{"bad.yml", "services:\n  web:\n    image: [x\n"}}, lookup);
  ASSERT_FALSE(malformed);
  EXPECT_NE(malformed.error().message.find("bad.yml:"), std::string::npos);
  EXPECT_NE(malformed.error().message.find("malformed YAML"), std::string::npos);

  auto required =
      stack_images({{"s.yml", "services:\n  web:\n    image: web:${NOPE:?no tag}\n"}}, lookup);
  ASSERT_FALSE(required);
  EXPECT_EQ(required.error().message,
            "s.yml:3:12: services.web.image: required variable NOPE is missing a value: no tag");

  auto not_string = stack_images({{"s.yml", "services:\n  web:\n    image: {a: b}\n"}}, lookup);
  ASSERT_FALSE(not_string);
  EXPECT_NE(not_string.error().message.find("s.yml:3:12: services.web.image must be a string"),
            std::string::npos);

  // A control character is refused before yaml-cpp reads the file.
  auto control = stack_images({{"nul.yml", std::string("services:\n  a\0b: x\n", 19)}}, lookup);
  ASSERT_FALSE(control);
  EXPECT_EQ(control.error().message, "nul.yml:2:4: control character 0x00 (YAML allows none)");

  // Deep nesting and alias bombs are bounded by yaml-cpp, not by our stack.
  const std::string deep = "services: " + std::string(100000, '[') + std::string(100000, ']');
  EXPECT_FALSE(stack_images({{"deep.yml", deep}}, lookup));
  EXPECT_FALSE(stack_images({{"s.yml", "- a\n- b\n"}}, lookup));
  EXPECT_FALSE(stack_images({{"s.yml", "services: [a]\n"}}, lookup));
  EXPECT_FALSE(stack_images({{"s.yml", "services:\n  web:\n    image: ''\n"}}, lookup));
}

}  // namespace
}  // namespace swarm_prepull::compose
