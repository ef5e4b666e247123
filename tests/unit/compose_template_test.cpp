// compose::interpolate against compose-go's own template tests
// (template/template_test.go), case by case: the values a stack file's image:
// gets from `docker compose config`.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "compose/compose.h"

namespace swarm_prepull::compose {
namespace {

// compose-go's `defaults` mapping.
std::optional<std::string> defaults(const std::string& name) {
  static const std::map<std::string, std::string> values = {
      {"FOO", "first"}, {"BAR", ""}, {"JSON", R"({"json":2})"}};
  const auto found = values.find(name);
  if (found == values.end()) return std::nullopt;
  return found->second;
}

struct Case {
  const char* text;
  const char* expected;
};

void expect_all(const std::vector<Case>& cases) {
  for (const auto& [text, expected] : cases) {
    auto result = interpolate(text, defaults);
    ASSERT_TRUE(result) << text << ": " << result.error().message;
    EXPECT_EQ(*result, expected) << text;
  }
}

void expect_errors(const std::vector<Case>& cases) {
  for (const auto& [text, message] : cases) {
    auto result = interpolate(text, defaults);
    ASSERT_FALSE(result) << text << " gave " << *result;
    EXPECT_NE(result.error().message.find(message), std::string::npos)
        << text << ": " << result.error().message;
  }
}

TEST(ComposeTemplate, EscapedAndUnescapedDollars) {
  expect_all({{"$${foo}", "${foo}"},  // TestEscaped
              {"foo", "foo"},         // TestSubstituteNoMatch
              // TestUnescaped
              {"a $ string", "a $ string"},
              {"^REGEX$", "^REGEX$"},
              {"$}", "$}"},
              {"$", "$"}});
}

TEST(ComposeTemplate, InvalidTemplates) {
  expect_errors({{"${", "invalid interpolation format"},
                 {"${}", "invalid interpolation format"},
                 {"${ }", "invalid interpolation format"},
                 {"${ foo}", "invalid interpolation format"},
                 {"${foo }", "invalid interpolation format"},
                 {"${foo!}", "invalid interpolation format"}});
}

TEST(ComposeTemplate, NamesAndValues) {
  expect_all({{"$FOO-bar", "first-bar"},  // TestNonBraced (docker/compose#8601)
                                          // TestNoValueNoDefault
              {"This ${missing} var", "This  var"},
              {"This ${BAR} var", "This  var"},
              // TestValueNoDefault
              {"This $FOO var", "This first var"},
              {"This ${FOO} var", "This first var"}});
}

TEST(ComposeTemplate, Defaults) {
  expect_all({{"ok ${missing:-def}", "ok def"},  // TestNoValueWithDefault
              {"ok ${missing-def}", "ok def"},
              {"ok ${BAR:-def}", "ok def"},                                  // soft default
              {"ok ${FOO:-def}", "ok first"},                                //
              {"ok ${BAR-def}", "ok "},                                      // hard default
              {"ok ${BAR:-/non:-alphanumeric}", "ok /non:-alphanumeric"}});  // non-alphanumeric
}

TEST(ComposeTemplate, Alternatives) {
  expect_all({{"ok ${UNSET_VAR:+presence_value}", "ok "},
              {"ok ${UNSET_VAR+presence_value}", "ok "},
              {"ok ${FOO:+presence_value}", "ok presence_value"},
              {"ok ${FOO+presence_value}", "ok presence_value"},
              {"ok ${BAR+presence_value}", "ok presence_value"},
              {"ok ${BAR:+presence_value}", "ok "}});
}

TEST(ComposeTemplate, OuterTextDoesNotChangeTheModifier) {
  // TestInterpolationExternalInterference
  expect_all({{"-ok ${BAR:-defaultValue}", "-ok defaultValue"},
              {"+ok ${UNSET:-${BAR-defaultValue}}", "+ok "},
              {"-ok ${FOO:-defaultValue}", "-ok first"},
              {":-ok ${UNSET-defaultValue}", ":-ok defaultValue"},
              {":-ok ${BAR-defaultValue}", ":-ok "},
              {":?ok ${BAR-defaultValue}", ":?ok "},
              {":?ok ${BAR:-defaultValue}", ":?ok defaultValue"},
              {":+ok ${BAR:-defaultValue}", ":+ok defaultValue"},
              {"+ok ${BAR-defaultValue}", "+ok "},
              {"?ok ${BAR:-defaultValue}", "?ok defaultValue"}});
}

TEST(ComposeTemplate, DefaultsWithNestedExpansion) {
  expect_all({{"ok ${UNSET_VAR-$FOO}", "ok first"},
              {"ok ${UNSET_VAR-${FOO}}", "ok first"},
              {"ok ${UNSET_VAR-${FOO} ${FOO}}", "ok first first"},
              {"ok ${BAR:-$FOO}", "ok first"},
              {"ok ${BAR:-${FOO}}", "ok first"},
              {"ok ${BAR:-${FOO} ${FOO}}", "ok first first"},
              {"ok ${BAR+$FOO}", "ok first"},
              {"ok ${BAR+$FOO ${FOO:+second}}", "ok first second"},
              // from TestSubstituteWithReplacementFunc
              {"ok ${SUBDOMAIN:-redis}.${FOO:?}", "ok redis.first"}});
}

TEST(ComposeTemplate, RequiredVariables) {
  expect_errors({{"not ok ${UNSET_VAR:?Mandatory Variable Unset}",
                  "required variable UNSET_VAR is missing a value: Mandatory Variable Unset"},
                 {"not ok ${BAR:?Mandatory Variable Empty}",
                  "required variable BAR is missing a value: Mandatory Variable Empty"},
                 {"not ok ${UNSET_VAR:?}", "required variable UNSET_VAR is missing a value"},
                 {"not ok ${UNSET_VAR?Mandatory Variable Unset}",
                  "required variable UNSET_VAR is missing a value: Mandatory Variable Unset"},
                 {"not ok ${UNSET_VAR?}", "required variable UNSET_VAR is missing a value"},
                 // TestMandatoryVariableErrorsWithNestedExpansion
                 {"not ok ${UNSET_VAR:?Mandatory Variable ${FOO}}",
                  "required variable UNSET_VAR is missing a value: Mandatory Variable first"},
                 {"not ok ${UNSET_VAR?Mandatory Variable ${FOO}}",
                  "required variable UNSET_VAR is missing a value: Mandatory Variable first"}});
  // TestDefaultsForMandatoryVariables
  expect_all(
      {{"ok ${FOO:?err}", "ok first"}, {"ok ${FOO?err}", "ok first"}, {"ok ${BAR?err}", "ok "}});
}

TEST(ComposeTemplate, TheFirstModifierAfterTheNameWins) {
  // TestPrecedence
  expect_errors(
      {{"${UNSET_VAR?bar-baz}", "required variable UNSET_VAR is missing a value: bar-baz"}});
  expect_all({{"${UNSET_VAR-myerror?msg}", "myerror?msg"},
              {"${FOO?bar-baz}", "first"},
              {"${BAR:-default_value_for_empty_var}", "default_value_for_empty_var"},
              {"${UNSET_VAR-default_value_for_unset_var}", "default_value_for_unset_var"}});
  // TestSubstitutionFunctionChoice, each input as ${...}: unset for '?' and
  // '-', set for '+', so the chosen modifier shows in the result.
  expect_errors({{"${VARNAME:?val?ue}", "missing a value: val?ue"},
                 {"${VARNAME?val:?ue}", "missing a value: val:?ue"},
                 {"${VARNAME?va-lu+e:?e}", "missing a value: va-lu+e:?e"},
                 {"${VARNAME?va+lu-e:?e}", "missing a value: va+lu-e:?e"}});
  expect_all({{"${VARNAME:-value}", "value"},
              {"${VARNAME-va:-lu:?e}", "va:-lu:?e"},
              {"${VARNAME-va+lu?e}", "va+lu?e"},
              {"${VARNAME-va?lu+e}", "va?lu+e"},
              {"${FOO:+va:?lu:-e}", "va:?lu:-e"},
              {"${FOO+va:+lue}", "va:+lue"},
              {"${FOO+va?lu-e}", "va?lu-e"},
              {"${FOO+va-lu?e}", "va-lu?e"}});
}

TEST(ComposeTemplate, BracesInDefaults) {
  // TestNoValueWithCurlyBracesDefault, TestValueWithCurlyBracesDefault
  expect_all({{R"(ok ${missing:-{"json":1}})", R"(ok {"json":1})"},
              {R"(ok ${missing-{"json":1}})", R"(ok {"json":1})"},
              {R"(ok ${JSON:-{"json":1}})", R"(ok {"json":2})"},
              {R"(ok ${JSON-{"json":1}})", R"(ok {"json":2})"}});
  // compose-go's pattern runs the argument to the line's last '}' and cuts it
  // at the first balanced one, skipping the character after each '{'; an
  // unbalanced argument is used whole, and is not read when not needed.
  expect_all({{"${UNSET:-{}}x}", "{}}x"}, {"${FOO:-${x}", "first"}, {"${UNSET:-a}b}", "ab}"}});
}

TEST(ComposeTemplate, UnsetVariablesAreNamedOnlyWhenRead) {
  // TestLazyDefaultDoesNotWarn, TestLazyDefaultWarnsWhenUsed,
  // TestLazyRequiredMessageDoesNotWarn
  std::vector<std::string> unset;
  EXPECT_EQ(*interpolate("${A:+${A},}B", defaults, &unset), "B");
  EXPECT_TRUE(unset.empty());
  EXPECT_EQ(*interpolate("${A:-${B}}", defaults, &unset), "");
  EXPECT_EQ(unset, std::vector<std::string>{"B"});
  unset.clear();
  const Lookup a_only = [](const std::string& name) -> std::optional<std::string> {
    if (name == "A") return "value";
    return std::nullopt;
  };
  EXPECT_EQ(*interpolate("${A?${B}}", a_only, &unset), "value");
  EXPECT_TRUE(unset.empty());
}

}  // namespace
}  // namespace swarm_prepull::compose
