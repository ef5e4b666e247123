// Command-line options that are also environment variables: every option
// `--foo-bar` can be given as SWARM_PREPULL_FOO_BAR, and the flag wins.
// Parsing never exits or throws on bad input; it returns what is wrong.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reconcile/expected.h"

namespace swarm_prepull::cli {

struct OptionSpec {
  std::string name{};        // without dashes: "format"
  std::string value_name{};  // "FILE"; empty for a boolean switch
  std::string help{};
  std::string default_value{};
  std::vector<std::string> choices{};  // empty: any value
  bool repeatable = false;
};

struct ParsedOptions {
  std::map<std::string, std::vector<std::string>> values;
  std::vector<std::string> positional;
  bool help = false;

  // The last value given (or the default), empty when none.
  std::string get(const std::string& name) const;
  std::vector<std::string> all(const std::string& name) const;
  bool is_set(const std::string& name) const;  // for switches
};

// "format" -> "SWARM_PREPULL_FORMAT"; "log-format" -> "SWARM_PREPULL_LOG_FORMAT".
std::string environment_name(std::string_view option);

// `environment` is a lookup (getenv in production, a map in tests).
using EnvironmentLookup = std::optional<std::string> (*)(const std::string&);
std::optional<std::string> process_environment(const std::string& name);

reconcile::Expected<ParsedOptions> parse_options(const std::vector<OptionSpec>& specs,
                                                 const std::vector<std::string>& args,
                                                 EnvironmentLookup environment);

// The options part of a --help text: one line per option with its variable.
std::string format_options_help(const std::vector<OptionSpec>& specs);

}  // namespace swarm_prepull::cli
