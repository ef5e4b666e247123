#include "cli/options.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <sstream>

namespace swarm_prepull::cli {
namespace {

// One-letter options are short forms of positional-like input (-f FILE): they
// have no environment variable.
bool has_environment_variable(const OptionSpec& spec) { return spec.name.size() > 1; }

std::string flag_name(const OptionSpec& spec) {
  return (spec.name.size() == 1 ? "-" : "--") + spec.name;
}

// What --help says of an option: its text, default and variable, so that the
// help alone tells an operator every way to set it.
std::string description(const OptionSpec& spec) {
  std::string text = spec.help;
  if (!spec.choices.empty()) {
    std::string allowed;
    for (const auto& choice : spec.choices) allowed += (allowed.empty() ? "" : ", ") + choice;
    text += " (one of " + allowed + ")";
  }
  if (!spec.default_value.empty()) text += " (default: " + spec.default_value + ")";
  if (has_environment_variable(spec)) text += " [" + environment_name(spec.name) + "]";
  return text;
}

// The CLI11 description of `specs`; `positional` receives every argument that
// is not an option (after "--" too). The help flag is ours, so that parsing
// never exits the process.
std::unique_ptr<CLI::App> make_app(const std::vector<OptionSpec>& specs,
                                   std::vector<std::string>* positional,
                                   std::vector<CLI::Option*>* options) {
  auto app = std::make_unique<CLI::App>();
  app->set_help_flag();
  app->add_flag("-h,--help")->description("show this help");
  for (const auto& spec : specs) {
    CLI::Option* option = spec.value_name.empty()
                              ? app->add_flag(flag_name(spec))
                              : app->add_option(flag_name(spec))->type_name(spec.value_name);
    option->description(description(spec));
    option->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    if (options != nullptr) options->push_back(option);
  }
  auto* rest =
      positional != nullptr ? app->add_option("args", *positional) : app->add_option("args");
  rest->group("");  // the command's own usage line names its arguments
  return app;
}

std::optional<reconcile::Error> check_choice(const OptionSpec& spec, const std::string& value,
                                             std::string_view source) {
  if (spec.choices.empty() ||
      std::find(spec.choices.begin(), spec.choices.end(), value) != spec.choices.end()) {
    return std::nullopt;
  }
  std::string allowed;
  for (const auto& choice : spec.choices) allowed += (allowed.empty() ? "" : ", ") + choice;
  return reconcile::Error{std::string(source) + ": invalid value '" + value +
                          "' (expected one of " + allowed + ")"};
}

bool parse_switch_value(const std::string& value) {
  std::string lowered = value;
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return lowered == "1" || lowered == "true" || lowered == "yes" || lowered == "on";
}

// CLI11's messages, in the words the rest of the command line uses.
reconcile::Error usage_error(const CLI::ParseError& error, const std::vector<std::string>& args) {
  const std::string what = error.what();
  if (error.get_name() == "ArgumentMismatch") {
    // "--snapshot: 1 required FILE missing"
    const auto colon = what.find(':');
    const auto required = what.find("required ");
    const auto missing = what.rfind(" missing");
    if (colon != std::string::npos && required != std::string::npos &&
        missing != std::string::npos && missing > required) {
      return reconcile::Error{"option '" + what.substr(0, colon) + "' needs a value (" +
                              what.substr(required + 9, missing - required - 9) + ")"};
    }
  }
  if (error.get_name() == "ExtrasError") {
    // Name the first argument that is not an option of this command.
    for (const auto& arg : args) {
      if (arg == "--") break;
      if (arg.size() > 1 && arg[0] == '-' &&
          what.find(arg.substr(0, arg.find('='))) != std::string::npos) {
        return reconcile::Error{"unknown option '" + arg + "'"};
      }
    }
  }
  return reconcile::Error{what};
}

}  // namespace

std::string ParsedOptions::get(const std::string& name) const {
  auto found = values.find(name);
  return found == values.end() || found->second.empty() ? std::string{} : found->second.back();
}

std::vector<std::string> ParsedOptions::all(const std::string& name) const {
  auto found = values.find(name);
  return found == values.end() ? std::vector<std::string>{} : found->second;
}

bool ParsedOptions::is_set(const std::string& name) const { return parse_switch_value(get(name)); }

std::string environment_name(std::string_view option) {
  std::string name = "SWARM_PREPULL_";
  for (char c : option) name += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return name;
}

std::optional<std::string> process_environment(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

reconcile::Expected<ParsedOptions> parse_options(const std::vector<OptionSpec>& specs,
                                                 const std::vector<std::string>& args,
                                                 EnvironmentLookup environment) {
  ParsedOptions parsed;
  std::vector<CLI::Option*> options;
  auto app = make_app(specs, &parsed.positional, &options);
  try {
    // CLI11 takes a vector of arguments last-first.
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app->parse(reversed);
  } catch (const CLI::ParseError& error) {
    if (app->get_option("--help")->count() > 0) {
      parsed.help = true;
      return parsed;
    }
    return usage_error(error, args);
  }
  parsed.help = app->get_option("--help")->count() > 0;

  // The environment is read here rather than by CLI11 (Option::envname) so
  // that tests can hand in their own; a flag wins over its variable.
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const OptionSpec& spec = specs[i];
    std::vector<std::string> given = options[i]->results();
    if (!given.empty()) {
      for (const auto& value : given) {
        if (auto error = check_choice(spec, value, flag_name(spec))) return *error;
      }
      if (!spec.repeatable) given.erase(given.begin(), given.end() - 1);
      parsed.values[spec.name] = std::move(given);
      continue;
    }
    const std::string variable = environment_name(spec.name);
    if (auto value = has_environment_variable(spec) ? environment(variable) : std::nullopt;
        value && !value->empty()) {
      if (auto error = check_choice(spec, *value, variable)) return *error;
      // A repeatable option given by environment is a comma-separated list.
      std::vector<std::string> items;
      if (spec.repeatable) {
        std::stringstream stream(*value);
        for (std::string item; std::getline(stream, item, ',');) {
          if (!item.empty()) items.push_back(item);
        }
      } else {
        items.push_back(*value);
      }
      parsed.values[spec.name] = std::move(items);
    } else if (!spec.default_value.empty()) {
      parsed.values[spec.name] = {spec.default_value};
    }
  }
  return parsed;
}

std::string format_options_help(const std::vector<OptionSpec>& specs) {
  auto app = make_app(specs, nullptr, nullptr);
  auto formatter = std::make_shared<CLI::Formatter>();
  formatter->column_width(32);
  app->formatter(formatter);
  // Only the option lines: each command prints its own usage line and heading.
  std::string groups = formatter->make_groups(app.get(), CLI::AppFormatMode::Normal);
  std::string lines;
  std::istringstream stream(groups);
  for (std::string line; std::getline(stream, line);) {
    if (line.empty() || line.back() == ':') continue;  // CLI11's blank lines and "Options:"
    lines += line + "\n";
  }
  return lines;
}

}  // namespace swarm_prepull::cli
