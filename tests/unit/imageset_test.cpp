// Image-set documents (docs/imagesets.md): read as YAML or JSON by
// compose/imageset_document.h, decoded by reconcile/imageset.h.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "compose/imageset_document.h"

namespace swarm_prepull::compose {
namespace {

using reconcile::Config;
using reconcile::ImageSet;
using reconcile::Platform;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::StartsWith;

ImageSet parsed(std::string_view document) {
  auto set = read_imageset(document);
  EXPECT_TRUE(set) << set.error().message;
  return set ? *set : ImageSet{};
}

std::string parse_error(std::string_view document) {
  auto set = read_imageset(document);
  EXPECT_FALSE(set) << document;
  return set ? std::string() : set.error().message;
}

// --- the label -----------------------------------------------------------------

TEST(IsImageset, LabelTrueInAnyCase) {
  Config config;
  config.labels["swarm-prepull.imageset"] = "true";
  EXPECT_TRUE(reconcile::is_imageset(config));
  config.labels["swarm-prepull.imageset"] = "True";
  EXPECT_TRUE(reconcile::is_imageset(config));
}

TEST(IsImageset, OtherValuesOrNoLabel) {
  Config config;
  EXPECT_FALSE(reconcile::is_imageset(config));
  config.labels["swarm-prepull.imageset"] = "false";
  EXPECT_FALSE(reconcile::is_imageset(config));
  config.labels["swarm-prepull.imageset"] = "1";
  EXPECT_FALSE(reconcile::is_imageset(config));
}

// --- configs to named sets -------------------------------------------------------

Config imageset_config(std::string name, std::string data) {
  Config config;
  config.id = "cfg-" + name;
  config.name = std::move(name);
  config.labels["swarm-prepull.imageset"] = "true";
  config.data = std::move(data);
  return config;
}

TEST(ImageSets, LabelledConfigsBecomeNamedSetsOthersAreLeftOut) {
  Config plain = imageset_config("plain", "images: [redis]\n");
  plain.labels.clear();
  const auto sets = image_sets({imageset_config("warm", "images: [redis]\n"), plain,
                                imageset_config("bad", "images: [redis]\nplacment: {}\n")});
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(sets[0].source, "config:warm");
  EXPECT_FALSE(sets[0].error);
  EXPECT_THAT(sets[0].set.images, ElementsAre("docker.io/library/redis:latest"));
  EXPECT_EQ(sets[1].source, "config:bad");
  ASSERT_TRUE(sets[1].error);
  EXPECT_EQ(sets[1].error->message,
            "line 2, column 1: unknown key 'placment' (expected images, placement)");
}

TEST(ImageSets, ConfigSetsArePlacedLikeServices) {
  reconcile::Node node;
  node.id = "n1";
  node.hostname = "a";
  node.state = "ready";
  node.availability = "active";
  node.labels["zone"] = "a";
  reconcile::Node other = node;
  other.id = "n2";
  other.labels["zone"] = "b";
  const auto plan = reconcile::desired_images(
      {node, other}, {},
      image_sets({imageset_config("warm",
                                  "images:\n  - redis\nplacement:\n  constraints:\n"
                                  "    - node.labels.zone == a\n")}));
  EXPECT_THAT(reconcile::desired_refs(plan, plan.nodes[0]),
              ElementsAre("docker.io/library/redis:latest"));
  EXPECT_THAT(reconcile::desired_refs(plan, plan.nodes[1]), IsEmpty());
}

// --- YAML ------------------------------------------------------------------------

TEST(ImagesetYaml, ListOfImagesNormalized) {
  const ImageSet set = parsed("images:\n  - redis\n  - 127.0.0.1:5000/team/app:1.4\n");
  EXPECT_THAT(set.images,
              ElementsAre("docker.io/library/redis:latest", "127.0.0.1:5000/team/app:1.4"));
  EXPECT_THAT(set.placement.constraints, IsEmpty());
  EXPECT_THAT(set.placement.platforms, IsEmpty());
}

TEST(ImagesetYaml, FullDocumentWithPlacement) {
  const ImageSet set = parsed(R"(# warm caches in zone a
images:
  - redis:7            # the cache
  - nginx@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
placement:
  constraints:
    - node.labels.zone == a
    - node.role!=manager
  platforms:
    - linux/amd64
    - os: linux
      architecture: arm64
    - windows
)");
  EXPECT_THAT(set.images, ElementsAre("docker.io/library/redis:7",
                                      "docker.io/library/nginx@sha256:" + std::string(64, 'a')));
  EXPECT_THAT(set.placement.constraints,
              ElementsAre("node.labels.zone == a", "node.role!=manager"));
  EXPECT_THAT(
      set.placement.platforms,
      ElementsAre(Platform{"amd64", "linux"}, Platform{"arm64", "linux"}, Platform{"", "windows"}));
}

TEST(ImagesetYaml, ListAtTheIndentationOfItsKey) {
  const ImageSet set =
      parsed("images:\n- redis\n- nginx\nplacement:\n  constraints:\n  - node.role==worker\n");
  EXPECT_EQ(set.images.size(), 2u);
  EXPECT_THAT(set.placement.constraints, ElementsAre("node.role==worker"));
}

TEST(ImagesetYaml, FlowListsAndMappings) {
  const ImageSet set = parsed(
      "images: [redis, 'nginx:1.25', \"busybox\",]\n"
      "placement: {constraints: [node.labels.zone==a], platforms: [{os: linux, architecture: "
      "arm64}, linux/amd64]}\n");
  EXPECT_EQ(set.images.size(), 3u);
  EXPECT_THAT(set.placement.constraints, ElementsAre("node.labels.zone==a"));
  EXPECT_THAT(set.placement.platforms,
              ElementsAre(Platform{"arm64", "linux"}, Platform{"amd64", "linux"}));
}

TEST(ImagesetYaml, FlowCollectionsMaySpanLines) {
  EXPECT_EQ(parsed("images: [redis,\n  nginx]\n").images.size(), 2u);
}

TEST(ImagesetYaml, WrongShapeNamesLineColumnAndPath) {
  EXPECT_EQ(parse_error("images: [redis]\nplacement:\n  platforms:\n    - [linux]\n"),
            "line 4, column 7: placement.platforms[0]: expected 'os/architecture' or a mapping "
            "{os, architecture}, found a list");
}

TEST(ImagesetYaml, AnImageIdIsRefusedNotPlannedAsARepository) {
  EXPECT_EQ(parse_error("images:\n  - redis\n  - sha256:" + std::string(64, 'a') + "\n"),
            "line 3, column 5: images[1]: an image ID, which swarm never pulls: its task starts "
            "only where the image already is");
}

TEST(ImagesetYaml, DocumentStartMarkerCrlfAndByteOrderMark) {
  const ImageSet set = parsed("\xEF\xBB\xBF---\r\n# comment\r\n\r\nimages:\r\n  - redis\r\n");
  EXPECT_THAT(set.images, ElementsAre("docker.io/library/redis:latest"));
}

TEST(ImagesetYaml, QuotedScalarsAndEscapes) {
  const ImageSet set = parsed(
      "images:\n  - 'redis:7'\n  - \"nginx\\u003a1.25\"\n"
      "placement:\n  constraints:\n    - \"node.labels.a==b: c\"\n");
  EXPECT_THAT(set.images, ElementsAre("docker.io/library/redis:7", "docker.io/library/nginx:1.25"));
  EXPECT_THAT(set.placement.constraints, ElementsAre("node.labels.a==b: c"));
  EXPECT_EQ(parse_error("images: []\nplacement:\n  constraints: ['node.labels.note==it''s']\n"),
            "line 3, column 17: placement.constraints[0]: value 'it's' is invalid");
}

// The format has strings only: YAML 1.1's booleans and numbers stay text.
TEST(ImagesetYaml, ScalarsAreAlwaysStrings) {
  EXPECT_THAT(parsed("images: [1.0, no]\n").images,
              ElementsAre("docker.io/library/1.0:latest", "docker.io/library/no:latest"));
}

TEST(ImagesetYaml, NullAndEmptyListsAreEmpty) {
  const ImageSet set = parsed("images: []\nplacement:\n  constraints:\n  platforms: ~\n");
  EXPECT_THAT(set.images, IsEmpty());
  EXPECT_THAT(set.placement.constraints, IsEmpty());
  EXPECT_TRUE(read_imageset("images:\n"));
}

TEST(ImagesetYaml, NullPlatformFieldMatchesAny) {
  EXPECT_THAT(parsed("images: []\nplacement:\n  platforms: [{os: linux, architecture: ~}]\n")
                  .placement.platforms,
              ElementsAre(Platform{"", "linux"}));
}

TEST(ImagesetYaml, DashFollowedByACommentIsANullItem) {
  // yaml-cpp marks an empty value where the next token starts.
  EXPECT_THAT(parse_error("images:\n  - # later\n"),
              ::testing::EndsWith("images[0]: expected a string, found null"));
  EXPECT_THAT(parsed("images:\n  - # the cache\n    redis\n").images,
              ElementsAre("docker.io/library/redis:latest"));
}

TEST(ImagesetYaml, AnchorsAndAliasesAreFollowed) {
  EXPECT_THAT(
      parsed("images: []\nplacement:\n  platforms: [&p linux/amd64, *p]\n").placement.platforms,
      ElementsAre(Platform{"amd64", "linux"}, Platform{"amd64", "linux"}));
}

// "Billion laughs": aliases of aliases stand for more values than the text holds.
TEST(ImagesetYaml, AliasExpansionIsBounded) {
  std::string deep = "a0: &a0 [x]\n";
  for (int i = 1; i <= 30; ++i) {
    deep += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [*a" + std::to_string(i - 1) +
            "]\n";
  }
  EXPECT_THAT(parse_error(deep + "images: []\n"), ::testing::EndsWith("nested too deeply"));
  std::string wide = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 6; ++i) {
    const std::string last = "*a" + std::to_string(i - 1);
    wide += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) wide += (k ? ", " : "") + last;
    wide += "]\n";
  }
  EXPECT_THAT(parse_error(wide + "images: []\n"),
              ::testing::EndsWith("values (aliases expand to copies)"));
}

TEST(ImagesetYaml, SecondDocumentIsAnError) {
  EXPECT_THAT(parse_error("images: []\n---\nimages: []\n"),
              ::testing::HasSubstr("more than one document"));
}

TEST(ImagesetYaml, DuplicateKeyIsAnError) {
  EXPECT_EQ(parse_error("images: []\nimages: [redis]\n"),
            "line 2, column 1: duplicate key 'images'");
  EXPECT_EQ(parse_error("images: []\nplacement:\n  platforms: [{os: a, os: b}]\n"),
            "line 3, column 23: duplicate key 'os'");
}

TEST(ImagesetYaml, MappingKeyMustBeAString) {
  EXPECT_EQ(parse_error("images: []\n[a]: b\n"),
            "line 2, column 1: a mapping key must be a string");
}

// As in any YAML, a more indented "- nginx" continues the plain scalar above.
TEST(ImagesetYaml, AMoreIndentedLineContinuesAPlainScalar) {
  EXPECT_EQ(parse_error("images:\n  - redis\n    - nginx\n"),
            "line 2, column 5: images[0]: invalid reference format: repository path has "
            "unexpected ' ' at offset 5 in \"redis - nginx\"");
}

TEST(ImagesetYaml, SyntaxErrorsGiveLineAndColumn) {
  EXPECT_THAT(parse_error("images: [redis]\n  placement: {}\n"), StartsWith("line 2, column "));
  EXPECT_THAT(parse_error("images:\n  - 'redis\n"), StartsWith("line "));
  EXPECT_THAT(parse_error("images: [redis\n"), StartsWith("line "));
}

// YAML allows no control characters; refusing them also keeps yaml-cpp 0.7
// off an endless loop the fuzzer found (this very input).
TEST(ImagesetYaml, ControlCharactersAreRefused) {
  EXPECT_EQ(parse_error(std::string(",\"igme\x0b\0\0\0 ", 11)),
            "line 1, column 7: control character 0x0B (YAML allows none)");
  EXPECT_EQ(parse_error(std::string("images:\n  - re\0dis\n", 19)),
            "line 2, column 7: control character 0x00 (YAML allows none)");
}

TEST(ImagesetYaml, EmptyDocumentIsAnError) {
  EXPECT_EQ(parse_error(""), "the document is empty");
  EXPECT_EQ(parse_error("# nothing here\n\n"), "the document is empty");
}

TEST(ImagesetYaml, DeepNestingIsRefusedNotOverflowed) {
  EXPECT_THAT(parse_error("images: " + std::string(10000, '[') + "\n"), StartsWith("line "));
  EXPECT_THAT(parse_error("images: " + std::string(40, '[') + std::string(40, ']') + "\n"),
              ::testing::EndsWith("nested too deeply"));
  std::string staircase = "images:\n";
  for (int i = 1; i < 400; ++i) staircase += std::string(i, ' ') + "- \n";
  EXPECT_THAT(parse_error(staircase), StartsWith("line "));
}

// --- the document's structure (shared by JSON and YAML) ------------------------

TEST(ImagesetDocument, TopLevelMustBeAMapping) {
  EXPECT_EQ(parse_error("- redis\n"),
            "line 1, column 1: the document must be a mapping with an 'images' list, found a list");
  EXPECT_EQ(parse_error("redis\n"),
            "line 1, column 1: the document must be a mapping with an 'images' list, found a "
            "string");
}

TEST(ImagesetDocument, ImagesIsRequired) {
  EXPECT_EQ(parse_error("placement: {}\n"), "'images' is missing");
}

TEST(ImagesetDocument, UnknownKeyNamesTheKeyItsPlaceAndTheChoices) {
  EXPECT_EQ(parse_error("images: []\nplacment:\n  constraints: []\n"),
            "line 2, column 1: unknown key 'placment' (expected images, placement)");
  EXPECT_EQ(
      parse_error("images: []\nplacement:\n  platforms:\n    - os: linux\n      arch: arm64\n"),
      "line 5, column 7: placement.platforms[0]: unknown key 'arch' (expected os, architecture)");
}

TEST(ImagesetDocument, WrongTypeNamesThePath) {
  EXPECT_EQ(parse_error("images: redis\n"),
            "line 1, column 9: images: expected a list, found a string");
  EXPECT_EQ(parse_error("images:\n  - [redis]\n"),
            "line 2, column 5: images[0]: expected a string, found a list");
}

TEST(ImagesetDocument, BadReferenceInvalidatesTheDocument) {
  const std::string error = parse_error("images:\n  - redis\n  - Nginx:1.25\n");
  EXPECT_THAT(error, StartsWith("line 3, column 5: images[1]: ")) << error;
}

TEST(ImagesetDocument, BadConstraintInvalidatesTheDocument) {
  EXPECT_EQ(parse_error("images: [redis]\nplacement:\n  constraints:\n    - node.role = worker\n"),
            "line 4, column 7: placement.constraints[0]: constraint expected one operator from "
            "==, !=");
}

TEST(ImagesetDocument, PlatformVariantIsRefused) {
  EXPECT_EQ(parse_error("images: [redis]\nplacement:\n  platforms: [linux/arm/v7]\n"),
            "line 3, column 15: placement.platforms[0]: 'linux/arm/v7': swarm matches os and "
            "architecture only; drop the variant");
}

TEST(ImagesetDocument, MalformedPlatformString) {
  EXPECT_EQ(parse_error("images: [redis]\nplacement:\n  platforms: [linux/]\n"),
            "line 3, column 15: placement.platforms[0]: 'linux/' is not 'os' or 'os/architecture'");
}

// --- JSON ------------------------------------------------------------------------

TEST(ImagesetJson, FullDocument) {
  const ImageSet set = parsed(R"({
    "images": ["redis:7"],
    "placement": {"constraints": ["node.labels.gpu==true"],
                  "platforms": [{"os": "linux", "architecture": "amd64"}, "linux/arm64"]}})");
  EXPECT_THAT(set.images, ElementsAre("docker.io/library/redis:7"));
  EXPECT_THAT(set.placement.constraints, ElementsAre("node.labels.gpu==true"));
  EXPECT_THAT(set.placement.platforms,
              ElementsAre(Platform{"amd64", "linux"}, Platform{"arm64", "linux"}));
}

TEST(ImagesetJson, SyntaxErrorGivesLineAndColumn) {
  const std::string error = parse_error("{\n  \"images\": [\"redis\",]\n}");
  EXPECT_THAT(error, StartsWith("invalid JSON: "));
  EXPECT_THAT(error, ::testing::HasSubstr("line 2"));
}

// nlohmann throws out_of_range, not parse_error, for a number past double.
TEST(ImagesetJson, NumberTooLargeIsAnErrorNotAnException) {
  EXPECT_THAT(parse_error(R"({"images": 1E400})"), StartsWith("invalid JSON: "));
}

TEST(ImagesetJson, WrongTypeNamesThePath) {
  EXPECT_EQ(parse_error(R"({"images": [7]})"), "images[0]: expected a string, found a number");
  EXPECT_EQ(parse_error(R"({"images": [], "placement": {"platforms": [{"os": true}]}})"),
            "placement.platforms[0].os: expected a string, found a boolean");
}

TEST(ImagesetJson, UnknownKeyIsAnError) {
  EXPECT_EQ(parse_error(R"({"images": [], "version": "1"})"),
            "unknown key 'version' (expected images, placement)");
}

TEST(ImagesetJson, DeepNestingIsRefused) {
  EXPECT_EQ(parse_error("{\"images\": " + std::string(5000, '[') + std::string(5000, ']') + "}"),
            "nested too deeply");
}

}  // namespace
}  // namespace swarm_prepull::compose
