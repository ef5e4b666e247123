#include "compose/compose.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>

namespace swarm_prepull::compose {
namespace {

using reconcile::Error;
using reconcile::Expected;

bool is_name_start(char c) { return c == '_' || std::isalpha(static_cast<unsigned char>(c)); }
bool is_name_char(char c) { return c == '_' || std::isalnum(static_cast<unsigned char>(c)); }

// The position of the '}' closing the '{' just before `from`, counting nested
// braces (defaults may hold ${...}); npos when unterminated.
std::size_t closing_brace(std::string_view text, std::size_t from) {
  int depth = 1;
  for (std::size_t i = from; i < text.size(); ++i) {
    if (text[i] == '{') ++depth;
    if (text[i] == '}' && --depth == 0) return i;
  }
  return std::string_view::npos;
}

Error invalid(std::string_view text) {
  return Error{"invalid interpolation format in \"" + std::string(text) +
               "\" (a literal $ is written $$)"};
}

// ${...}: `body` is what stands between the braces.
Expected<std::string> expand_braced(std::string_view body, std::string_view whole,
                                    const Lookup& lookup, std::vector<std::string>* unset) {
  std::size_t end = 0;
  if (body.empty() || !is_name_start(body[0])) return invalid(whole);
  while (end < body.size() && is_name_char(body[end])) ++end;
  const std::string name(body.substr(0, end));
  const std::optional<std::string> value = lookup(name);
  const std::string_view rest = body.substr(end);
  if (rest.empty()) {
    if (!value && unset != nullptr) unset->push_back(name);
    return value.value_or("");
  }

  // The modifiers: ':' makes "set but empty" count as unset.
  const bool colon = rest[0] == ':';
  const std::string_view modifier = colon ? rest.substr(1) : rest;
  if (modifier.empty()) return invalid(whole);
  const char kind = modifier[0];
  const std::string_view argument = modifier.substr(1);
  const bool has_value = value && (!colon || !value->empty());
  switch (kind) {
    case '-':
      if (has_value) return *value;
      return interpolate(argument, lookup, unset);
    case '+':
      if (!has_value) return std::string{};
      return interpolate(argument, lookup, unset);
    case '?': {
      if (has_value) return *value;
      auto message = interpolate(argument, lookup, unset);
      if (!message) return message;
      return Error{"required variable " + name + " is missing a value" +
                   (message->empty() ? std::string{} : ": " + *message)};
    }
    default:
      return invalid(whole);
  }
}

std::string unquote_double(std::string_view value) {
  std::string out;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '\\' || i + 1 == value.size()) {
      out += value[i];
      continue;
    }
    switch (const char next = value[++i]) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      default:
        out += next;
        break;
    }
  }
  return out;
}

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r");
  return std::string(text.substr(first, last - first + 1));
}

std::string where(const std::string& path, const YAML::Mark& mark) {
  if (mark.is_null()) return path;
  return path + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

// The image: node of a service, following `<<` merge keys (yaml-cpp keeps them
// as plain keys; Compose files use them to share settings).
YAML::Node find_image(const YAML::Node& service, int depth = 0) {
  if (!service.IsMap() || depth > 16) return YAML::Node();
  if (auto image = service["image"]) return image;
  const YAML::Node merged = service["<<"];
  if (merged && merged.IsMap()) return find_image(merged, depth + 1);
  if (merged && merged.IsSequence()) {
    for (const auto& item : merged) {
      if (auto image = find_image(item, depth + 1)) return image;
    }
  }
  return YAML::Node();
}

}  // namespace

Expected<std::string> interpolate(std::string_view text, const Lookup& lookup,
                                  std::vector<std::string>* unset) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$') {
      out += text[i];
      continue;
    }
    if (i + 1 == text.size()) return invalid(text);
    const char next = text[i + 1];
    if (next == '$') {
      out += '$';
      ++i;
    } else if (next == '{') {
      const std::size_t close = closing_brace(text, i + 2);
      if (close == std::string_view::npos) return invalid(text);
      auto value = expand_braced(text.substr(i + 2, close - i - 2), text, lookup, unset);
      if (!value) return value;
      out += *value;
      i = close;
    } else if (is_name_start(next)) {
      std::size_t end = i + 1;
      while (end < text.size() && is_name_char(text[end])) ++end;
      const std::string name(text.substr(i + 1, end - i - 1));
      const auto value = lookup(name);
      if (!value && unset != nullptr) unset->push_back(name);
      out += value.value_or("");
      i = end - 1;
    } else {
      return invalid(text);
    }
  }
  return out;
}

Expected<std::map<std::string, std::string>> parse_env_file(std::string_view text) {
  std::map<std::string, std::string> values;
  int number = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    std::string line = trim(text.substr(start, end - start));
    start = end + 1;
    ++number;
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("export ", 0) == 0) line = trim(std::string_view(line).substr(7));
    const auto equals = line.find('=');
    const std::string key = trim(std::string_view(line).substr(0, equals));
    const bool valid_key =
        !key.empty() && is_name_start(key[0]) && std::all_of(key.begin(), key.end(), [](char c) {
          return is_name_char(c) || c == '.' || c == '-';
        });
    if (equals == std::string::npos || !valid_key) {
      return Error{"line " + std::to_string(number) + ": expected KEY=VALUE, got \"" + line + "\""};
    }
    std::string value = trim(std::string_view(line).substr(equals + 1));
    if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'') {
      value = value.substr(1, value.size() - 2);
    } else if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = unquote_double(std::string_view(value).substr(1, value.size() - 2));
    } else if (!value.empty() && (value.front() == '"' || value.front() == '\'')) {
      return Error{"line " + std::to_string(number) + ": unterminated quote in value of " + key};
    } else if (const auto comment = value.find(" #"); comment != std::string::npos) {
      value = trim(std::string_view(value).substr(0, comment));
    }
    values[key] = std::move(value);
  }
  return values;
}

Expected<StackImages> stack_images(const std::vector<SourceFile>& files, const Lookup& lookup) {
  std::map<std::string, ServiceImage> by_service;
  std::map<std::string, std::string> first_seen_in;  // services named anywhere
  StackImages result;
  for (const auto& file : files) {
    YAML::Node root;
    try {
      root = YAML::Load(file.text);
    } catch (const YAML::Exception& error) {
      return Error{where(file.path, error.mark) + ": malformed YAML: " + error.msg};
    }
    if (!root || root.IsNull()) continue;  // an empty override file is fine
    if (!root.IsMap())
      return Error{where(file.path, root.Mark()) + ": expected a mapping at the top"};
    const YAML::Node services = root["services"];
    if (!services || services.IsNull()) continue;
    if (!services.IsMap()) {
      return Error{where(file.path, services.Mark()) + ": services must be a mapping"};
    }
    for (const auto& entry : services) {
      const std::string name = entry.first.as<std::string>("");
      first_seen_in.try_emplace(name, file.path);
      const YAML::Node image = find_image(entry.second);
      if (!image || image.IsNull()) continue;
      if (!image.IsScalar()) {
        return Error{where(file.path, image.Mark()) + ": services." + name +
                     ".image must be a string"};
      }
      std::vector<std::string> unset;
      auto value = interpolate(image.Scalar(), lookup, &unset);
      if (!value) {
        return Error{where(file.path, image.Mark()) + ": services." + name +
                     ".image: " + value.error().message};
      }
      for (const auto& variable : unset) {
        result.warnings.push_back(where(file.path, image.Mark()) + ": the " + variable +
                                  " variable is not set; defaulting to a blank string");
      }
      if (value->empty()) {
        return Error{where(file.path, image.Mark()) + ": services." + name + ".image is empty"};
      }
      by_service[name] = ServiceImage{name, std::move(*value), file.path, image.Mark().line + 1};
    }
  }
  for (const auto& [name, path] : first_seen_in) {
    if (!by_service.count(name)) {
      result.warnings.push_back(path + ": service " + name +
                                " has no image (docker stack deploy needs one)");
    }
  }
  for (auto& [name, image] : by_service) result.services.push_back(std::move(image));
  return result;
}

}  // namespace swarm_prepull::compose
