// compose::parse_env_file against compose-go's dotenv tests
// (dotenv/godotenv_test.go, parser_test.go, godotenv_var_expansion_test.go
// and their fixtures): the values `docker compose --env-file` reads.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "compose/compose.h"
#include "compose/stack_files.h"

namespace swarm_prepull::compose {
namespace {

using Values = std::map<std::string, std::string>;

Lookup environment_of(Values values) {
  return [values = std::move(values)](const std::string& name) -> std::optional<std::string> {
    const auto found = values.find(name);
    if (found == values.end()) return std::nullopt;
    return found->second;
  };
}

Values read(std::string_view text, const Lookup& environment = {}) {
  auto values = parse_env_file(text, environment);
  EXPECT_TRUE(values) << text << ": " << values.error().message;
  return values ? *values : Values{};
}

std::string refusal(std::string_view text) {
  auto values = parse_env_file(text);
  EXPECT_FALSE(values) << text;
  return values ? std::string{} : values.error().message;
}

struct Case {
  const char* text;
  const char* key;
  const char* value;
};

void expect_each(const std::vector<Case>& cases) {
  for (const auto& [text, key, value] : cases) {
    const Values values = read(text);
    const auto found = values.find(key);
    ASSERT_NE(found, values.end()) << text << ": no key " << key;
    EXPECT_EQ(found->second, value) << text;
  }
}

TEST(Dotenv, UnquotedValues) {
  expect_each({{"FOO=bar", "FOO", "bar"},
               {"FOO =bar", "FOO", "bar"},
               {"FOO= bar", "FOO", "bar"},
               {"FOO=bar ", "FOO", "bar"},
               {"FOO=foobar=", "FOO", "foobar="},
               {"OPTION_A=1:B", "OPTION_A", "1:B"},
               {R"(FOO=a\tb)", "FOO", R"(a\tb)"},  // no escapes outside double quotes
               {" KEY =value", "KEY", "value"},
               {"   KEY=value", "KEY", "value"},
               {"\tKEY=value", "KEY", "value"},
               {"OPTION_H = my string # Inline comment", "OPTION_H", "my string"},
               {"OPTION_D = then another one with an unquoted phrase special \xC3\xA8 char",
                "OPTION_D", "then another one with an unquoted phrase special \xC3\xA8 char"},
               {"A=1\r\nB=2\r\n", "A", "1"}});
}

TEST(Dotenv, QuotedValues) {
  expect_each({{R"(FOO="bar")", "FOO", "bar"},
               {"FOO='bar'", "FOO", "bar"},
               {R"(FOO="escaped\"bar")", "FOO", R"(escaped"bar)"},
               {R"(FOO="\"quoted\"")", "FOO", R"("quoted")"},
               {R"(FOO="'d'")", "FOO", "'d'"},
               {R"(OPTION_I = "echo 'asd'" # Inline comment)", "OPTION_I", "echo 'asd'"},
               {R"(OPTION_K='Let\'s go!')", "OPTION_K", "Let's go!"},
               {R"(OPTION_D='\n')", "OPTION_D", R"(\n)"},
               {R"(FOO="ba#r")", "FOO", "ba#r"},
               {"FOO='ba#r'", "FOO", "ba#r"},
               {R"(OPTION_A = "some quoted phrase")", "OPTION_A", "some quoted phrase"}});
}

TEST(Dotenv, QuotedValueFollowedByAComment) {
  expect_each({{R"(FOO="bar#baz"#)", "FOO", "bar#baz"},
               {R"(FOO="bar#baz" # comment)", "FOO", "bar#baz"},
               {"FOO='bar#baz' # comment", "FOO", "bar#baz"},
               {R"(FOO="bar#baz#bang" # comment)", "FOO", "bar#baz#bang"}});
  // After the closing quote the next statement starts at once.
  EXPECT_EQ(read(R"(A="x" B=y)"), (Values{{"A", "x"}, {"B", "y"}}));
}

TEST(Dotenv, InlineCommentsAfterUnquotedValuesNeedASpace) {
  expect_each({{"FOO=bar # this is foo", "FOO", "bar"},
               {"FOO=bar #this is foo", "FOO", "bar"},
               {"FOO=bar #", "FOO", "bar"},
               {"FOO=123#not-an-inline-comment", "FOO", "123#not-an-inline-comment"},
               {"FOO=bar\t#tab", "FOO", "bar\t#tab"}});  // compose-go cuts at " #" only
}

TEST(Dotenv, LinesToIgnore) {
  for (const char* ignored : {"\n", "\r\n", "\t\t ", "# Comment", "\t # comment", ""}) {
    EXPECT_EQ(read(ignored), Values{}) << ignored;
  }
}

TEST(Dotenv, ByteOrderMarkIsDropped) {
  // fixtures/utf8-bom.env
  EXPECT_EQ(read("\xEF\xBB\xBFOPTION_A=1\nOPTION_B=2\n"),
            (Values{{"OPTION_A", "1"}, {"OPTION_B", "2"}}));
}

TEST(Dotenv, ExportPrefixWithAnyBlank) {
  expect_each({{"export OPTION_A=2", "OPTION_A", "2"},
               {R"(export OPTION_B='\n')", "OPTION_B", R"(\n)"},
               {"export exportFoo=2", "exportFoo", "2"},
               {"exportFOO=2", "exportFOO", "2"},
               {"export_FOO =2", "export_FOO", "2"},
               {"export.FOO= 2", "export.FOO", "2"},
               {"export\tOPTION_A=2", "OPTION_A", "2"},
               {"export  \t OPTION_A=2", "OPTION_A", "2"},
               {"  export OPTION_A=2", "OPTION_A", "2"},
               {"\texport OPTION_A=2", "OPTION_A", "2"},
               {R"(export OPTION_A="export A")", "OPTION_A", "export A"},
               // fixtures/equals.env
               {"export OPTION_A='postgres://localhost:5432/database?sslmode=disable'\n",
                "OPTION_A", "postgres://localhost:5432/database?sslmode=disable"}});
}

TEST(Dotenv, YamlStyleColon) {
  expect_each({{"OPTION_A: 1", "OPTION_A", "1"},
               {"OPTION_A: Foo=bar", "OPTION_A", "Foo=bar"},
               {"IMAGE: registry.example:5000/app:1.2", "IMAGE", "registry.example:5000/app:1.2"}});
}

TEST(Dotenv, EscapesInDoubleQuotes) {
  expect_each({{R"(FOO="bar\nbaz")", "FOO", "bar\nbaz"},
               {R"(FOO="a\tb")", "FOO", "a\tb"},
               {R"(KEY="Z\aZ\bZ\fZ\nZ\rZ\tZ\vZ\\Z\0123Z")", "KEY", "Z\aZ\bZ\fZ\nZ\rZ\tZ\vZ\\ZSZ"},
               {R"(FOO="bar\n\ b\az")", "FOO", "bar\n\\ b\az"},
               {R"(FOO="bar\\\n\ b\az")", "FOO", "bar\\\n\\ b\az"},
               {R"(FOO="bar\\r\ b\az")", "FOO", "bar\\r\\ b\az"},
               {R"(FOO="bar\nbaz\\")", "FOO", "bar\nbaz\\"},
               {R"(KEY="\0123")", "KEY", "S"},
               {R"(KEY="\x07")", "KEY", R"(\x07)"},
               {R"(KEY="\u12e4")", "KEY", R"(\u12e4)"},
               {R"(KEY="\U00101234")", "KEY", R"(\U00101234)"},
               {R"(OPTION_H="\n")", "OPTION_H", "\n"},
               // \c is in compose-go's pattern but Go cannot unquote it; short
               // or non-octal \0 sequences stay; above \0177 is UTF-8, as Go's
               // string(rune) writes it.
               {R"(KEY="\c\01\0999\0400")", "KEY", R"(\c\01\0999\0400)"},
               {R"(KEY="\0351")", "KEY", "\xC3\xA9"}});
}

TEST(Dotenv, MultiLineQuotedValues) {
  // fixtures/quoted.env OPTION_J, TestVariableStringValueSeparator
  expect_each({{"OPTION_J = 'first line\nsecond line\nthird line\nand so on'", "OPTION_J",
                "first line\nsecond line\nthird line\nand so on"},
               {"TEST_URLS=\"stratum+tcp://stratum.antpool.com:3333\nstratum+tcp://"
                "stratum.antpool.com:443\"",
                "TEST_URLS",
                "stratum+tcp://stratum.antpool.com:3333\nstratum+tcp://stratum.antpool.com:443"}});
}

TEST(Dotenv, EmptyValues) {
  // fixtures/plain.env and quoted.env
  EXPECT_EQ(
      read("OPTION_F = \nOPTION_G=\nOPTION_C=''\nOPTION_G2=\"\"\n=\"value\""),
      (Values{
          {"OPTION_F", ""}, {"OPTION_G", ""}, {"OPTION_C", ""}, {"OPTION_G2", ""}, {"", "value"}}));
}

TEST(Dotenv, KeyCharacters) {
  // TestParseBytes, TestDash, fixtures/plain.env ("456 = ABC" is kept by
  // GetEnvFromFile, which --env-file uses; only godotenv's Read drops it)
  EXPECT_EQ(
      read("a=b\na[1]=c\na.propertyKey=d\n"
           "\xC3\xA1rv\xC3\xADzt\xC5\xB1r\xC5\x91-T\xC3\x9CK\xC3\x96RF\xC3\x9AR\xC3\x93G\xC3\x89P="
           "x\nVAR.WITH.DOTS=dots\nVAR-WITH-DASHES=dashes\n456 = ABC\n"),
      (Values{
          {"a", "b"},
          {"a[1]", "c"},
          {"a.propertyKey", "d"},
          {"\xC3\xA1rv\xC3\xADzt\xC5\xB1r\xC5\x91-T\xC3\x9CK\xC3\x96RF\xC3\x9AR\xC3\x93G\xC3\x89P",
           "x"},
          {"VAR.WITH.DOTS", "dots"},
          {"VAR-WITH-DASHES", "dashes"},
          {"456", "ABC"}}));
}

TEST(Dotenv, InvalidKeysAreRefusedWithTheirLine) {
  // TestParsing's "lol$wut", TestParseVariable, TestErrorParsing
  // (fixtures/invalid1.env: the multi-line value counts its lines)
  EXPECT_EQ(refusal("lol$wut"), R"(line 1: unexpected character '$' in variable name "lol$wut")");
  EXPECT_EQ(refusal("A=1\n%!(EXTRA string)=foo"),
            R"(line 2: unexpected character '%' in variable name "%!(EXTRA string)=foo")");
  EXPECT_EQ(refusal("# some comments\nfoo=\"\n  a\n  multine\n  value\n\"\nINVALID LINE\nzot=qix"),
            R"(line 7: key "INVALID LINE" cannot contain a space)");
  EXPECT_EQ(refusal("A B=c"), R"(line 1: key "A B" cannot contain a space)");
  EXPECT_EQ(refusal("A=\"x\" junk here\n"), R"(line 1: key "junk here" cannot contain a space)");
  EXPECT_EQ(refusal("\n\nK\xFF=1"),
            "line 3: unexpected character byte 255 in variable name \"K\xFF=1\"");
}

TEST(Dotenv, UnterminatedQuotesAreRefusedWithTheirLine) {
  for (const char* open : {R"(KEY=")", R"(KEY="value)", R"(KEY="value\")", R"(KEY="value')",
                           "KEY='", "KEY='value", R"(KEY='value\')", R"(KEY='value")"}) {
    EXPECT_NE(refusal(open).find("line 1: unterminated quoted value"), std::string::npos) << open;
  }
  EXPECT_EQ(refusal("A=1\nB=\"two\nlines\n"), "line 2: unterminated quoted value \"two");
}

TEST(Dotenv, ExpandsVariablesFromEarlierLines) {
  // TestExpanding, fixtures/substitutions.env
  expect_each({{"FOO=test\nBAR=$FOO", "BAR", "test"},
               {"FOO=test\nBAR=${FOO}bar", "BAR", "testbar"},
               {"BAR=$FOO", "BAR", ""},
               {"FOO=test\nBAR=\"quote $FOO\"", "BAR", "quote test"},
               {R"(FOO="foo\$BAR")", "FOO", "foo$BAR"},
               {R"(FOO="foo\${BAR}")", "FOO", "foo${BAR}"},
               {"FOO=test\nBAR=\"foo\\${FOO} ${FOO}\"", "BAR", "foo${FOO} test"},
               {"FOO=test\nBAR=$$FOO", "BAR", "$FOO"}});
  EXPECT_EQ(read("OPTION_A=1\nOPTION_B=${OPTION_A}\nOPTION_C=$OPTION_B\n"
                 "OPTION_D=${OPTION_A}_${OPTION_B}\nOPTION_E=${OPTION_NOT_DEFINED}\n"),
            (Values{{"OPTION_A", "1"},
                    {"OPTION_B", "1"},
                    {"OPTION_C", "1"},
                    {"OPTION_D", "1_1"},
                    {"OPTION_E", ""}}));
}

TEST(Dotenv, NothingExpandsInsideSingleQuotes) {
  expect_each({{"BAR='quote $FOO'", "BAR", "quote $FOO"},
               {"FOO=x\nBAR='${FOO:?no}'", "BAR", "${FOO:?no}"}});
}

TEST(Dotenv, TheEnvironmentComesBeforeEarlierLines) {
  // TestSubstitutionsWithEnvFilePrecedence, TestExpandingEnvironmentWithLookup,
  // TestMultipleFiles (one file: the environment's ENV_HOSTNAME wins)
  const std::string substitutions =
      "OPTION_A=1\nOPTION_B=${OPTION_A}\nOPTION_C=$OPTION_B\n"
      "OPTION_D=${OPTION_A}_${OPTION_B}\nOPTION_E=${OPTION_NOT_DEFINED}\n";
  EXPECT_EQ(read(substitutions, environment_of({{"OPTION_A", "5"}})), (Values{{"OPTION_A", "1"},
                                                                              {"OPTION_B", "5"},
                                                                              {"OPTION_C", "5"},
                                                                              {"OPTION_D", "5_5"},
                                                                              {"OPTION_E", ""}}));
  EXPECT_EQ(read("TEST=$ME", environment_of({{"ME", "YES"}})).at("TEST"), "YES");
  const std::string urls =
      "ENV_HOSTNAME=dev.my-company.com\nENV_MY_URL=\"http://${ENV_HOSTNAME}\"\n";
  EXPECT_EQ(read(urls).at("ENV_MY_URL"), "http://dev.my-company.com");
  EXPECT_EQ(read(urls, environment_of({{"ENV_HOSTNAME", "host.local"}})).at("ENV_MY_URL"),
            "http://host.local");
}

TEST(Dotenv, DefaultAndRequiredForms) {
  // godotenv_var_expansion_test.go and fixtures/substitutions-default.env,
  // EMPTY_VAR and TEST_VAR given by earlier lines
  const std::string set = "EMPTY_VAR=\nTEST_VAR=Test Value\n";
  expect_each({{(set + "RESULT=${UNSET_VAR:-Default Value}").c_str(), "RESULT", "Default Value"},
               {(set + "RESULT=${EMPTY_VAR:-Default Value}").c_str(), "RESULT", "Default Value"},
               {(set + "RESULT=${TEST_VAR:-Default Value}").c_str(), "RESULT", "Test Value"},
               {(set + "RESULT=${UNSET_VAR-Default Value}").c_str(), "RESULT", "Default Value"},
               {(set + "RESULT=${EMPTY_VAR-Default Value}").c_str(), "RESULT", ""},
               {(set + "RESULT=${TEST_VAR-Default Value}").c_str(), "RESULT", "Test Value"},
               {(set + "RESULT=${TEST_VAR:?Default Value}").c_str(), "RESULT", "Test Value"},
               {(set + "RESULT=${EMPTY_VAR?Test error}").c_str(), "RESULT", ""},
               {(set + "RESULT=${TEST_VAR?Default Value}").c_str(), "RESULT", "Test Value"}});
  EXPECT_EQ(refusal(set + "RESULT=${UNSET_VAR:?Test error}"),
            "line 3: required variable UNSET_VAR is missing a value: Test error");
  EXPECT_EQ(refusal(set + "RESULT=${EMPTY_VAR:?Test error}"),
            "line 3: required variable EMPTY_VAR is missing a value: Test error");
  EXPECT_EQ(refusal(set + "RESULT=\"${UNSET_VAR?Test error}\""),
            "line 3: required variable UNSET_VAR is missing a value: Test error");
  EXPECT_NE(refusal("A=${B\n").find("line 1: invalid interpolation format"), std::string::npos);

  const std::string defaults =
      "OPTION_A=${OPTION_A:-1}\nOPTION_B=${OPTION_A}\nOPTION_C=$OPTION_B\n"
      "OPTION_D=${OPTION_A}_${OPTION_B}\nOPTION_E=${OPTION_NOT_DEFINED}\n";
  EXPECT_EQ(read(defaults, environment_of({{"OPTION_A", "5"}})), (Values{{"OPTION_A", "5"},
                                                                         {"OPTION_B", "5"},
                                                                         {"OPTION_C", "5"},
                                                                         {"OPTION_D", "5_5"},
                                                                         {"OPTION_E", ""}}));
  EXPECT_EQ(read(defaults), (Values{{"OPTION_A", "1"},
                                    {"OPTION_B", "1"},
                                    {"OPTION_C", "1"},
                                    {"OPTION_D", "1_1"},
                                    {"OPTION_E", ""}}));
}

TEST(Dotenv, BareKeysComeFromTheEnvironment) {
  // TestInheritedEnvVariable*: fixtures/inherited-*.env
  const Lookup environment =
      environment_of({{"VAR_TO_BE_LOADED_FROM_OS_ENV", "SOME_RANDOM_VALUE"}});
  EXPECT_EQ(
      read("foo=bar\nVAR_TO_BE_LOADED_FROM_OS_ENV\nbar=baz\n", environment),
      (Values{
          {"foo", "bar"}, {"VAR_TO_BE_LOADED_FROM_OS_ENV", "SOME_RANDOM_VALUE"}, {"bar", "baz"}}));
  EXPECT_EQ(read("VARIABLE_NOT_FOUND\n", environment), Values{});
  EXPECT_EQ(read("A=1\nA\n"), (Values{{"A", "1"}}));
}

TEST(Dotenv, ManyLinesReadInLinearTime) {
  // TestMemoryExplosion's 1,000 lines, and a file near the 4 MiB limit.
  std::string text;
  for (int i = 0; i < 100000; ++i) text += "KEY" + std::to_string(i % 1000) + "=VALUE${A:-x}\n";
  EXPECT_EQ(read(text).size(), 1000u);
}

// The whole path `swarm-prepull images --env-file` takes: a file on disk
// whose values compose reads differently from plain KEY=VALUE.
TEST(Dotenv, StackImagesUseTheEnvFileAsComposeReadsIt) {
  const auto dir =
      std::filesystem::temp_directory_path() /
      ("swarm-prepull-dotenv-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  std::filesystem::create_directories(dir);
  const auto env_path = (dir / "release.env").string();
  const auto stack_path = (dir / "stack.yml").string();
  std::ofstream(env_path) << "\xEF\xBB\xBF# release\nexport\tREGISTRY: registry.example:5000\n"
                             "TAG=\"1.2\" # pinned\nNAME='app'\nIMAGE=${REGISTRY}/$NAME\n";
  std::ofstream(stack_path) << "services:\n  web:\n    image: ${IMAGE}:${TAG:?set TAG}\n";
  auto images = read_stack_images({{stack_path}, env_path}, environment_of({}));
  ASSERT_TRUE(images) << images.error().message;
  ASSERT_EQ(images->services.size(), 1u);
  EXPECT_EQ(images->services[0].image, "registry.example:5000/app:1.2");

  std::ofstream(env_path) << "TAG=1\nBAD KEY=2\n";
  auto refused = read_stack_images({{stack_path}, env_path}, environment_of({}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, env_path + ": line 2: key \"BAD KEY\" cannot contain a space");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace swarm_prepull::compose
