#include "compose/stack_files.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "compose/project.h"
#include "reconcile/reference.h"

namespace swarm_prepull::compose {
namespace {

namespace fs = std::filesystem;
using reconcile::Error;
using reconcile::Expected;

// compose-go's DefaultFileNames and DefaultOverrideFileNames, in its order of
// preference: the override is the first one present, whichever name won.
constexpr const char* default_file_names[] = {"compose.yaml", "compose.yml", "docker-compose.yml",
                                              "docker-compose.yaml"};
constexpr const char* default_override_names[] = {"compose.override.yml", "compose.override.yaml",
                                                  "docker-compose.override.yml",
                                                  "docker-compose.override.yaml"};

bool is_file(const fs::path& path) {
  std::error_code error;
  return fs::is_regular_file(path, error);
}

std::string absolute_in(const fs::path& base, const std::string& path) {
  const fs::path given(path);
  return (given.is_absolute() ? given : base / given).lexically_normal().string();
}

std::vector<std::string> present(const fs::path& directory, const auto& names) {
  std::vector<std::string> found;
  for (const char* name : names) {
    if (is_file(directory / name)) found.push_back((directory / name).string());
  }
  return found;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// Go's strconv.ParseBool, which compose uses for COMPOSE_DISABLE_ENV_FILE.
std::optional<bool> parse_bool(const std::string& text) {
  for (const char* yes : {"1", "t", "T", "true", "TRUE", "True"}) {
    if (text == yes) return true;
  }
  for (const char* no : {"0", "f", "F", "false", "FALSE", "False"}) {
    if (text == no) return false;
  }
  return std::nullopt;
}

std::vector<std::string> split(const std::string& text, const std::string& separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end - start));
    if (end == std::string::npos) return parts;
    start = end + separator.size();
  }
}

// The environment first, then the env files' values (compose's precedence).
Lookup environment_then(const Lookup& environment, const std::map<std::string, std::string>& env) {
  return [&environment, &env](const std::string& name) -> std::optional<std::string> {
    if (auto value = environment(name)) return value;
    if (auto found = env.find(name); found != env.end()) return found->second;
    return std::nullopt;
  };
}

// Reads one env file into `layout.env`, its $X expanded from the environment
// and the values already read; values already there are kept (compose's
// Mapping.Merge), so the first file and the environment win.
std::optional<Error> read_env_file(const std::string& path, const Lookup& environment,
                                   ProjectLayout& layout) {
  auto text = read_text_file(path, stack_file_limit);
  if (!text) return text.error();
  auto parsed = parse_env_file(*text, environment_then(environment, layout.env));
  if (!parsed) return Error{path + ": " + parsed.error().message};
  for (auto& [name, value] : *parsed) layout.env.try_emplace(name, std::move(value));
  layout.env_files.push_back(path);
  return std::nullopt;
}

// The project directory's .env, unless --env-file replaces it or
// COMPOSE_DISABLE_ENV_FILE (read from the process environment only, as
// compose does) turns it off.
std::optional<Error> read_default_env_file(const StackFiles& stack, const Lookup& environment,
                                           ProjectLayout& layout) {
  if (!stack.env_file.empty()) return std::nullopt;
  if (auto disable = environment("COMPOSE_DISABLE_ENV_FILE")) {
    const auto value = parse_bool(*disable);
    if (!value) {
      return Error{"COMPOSE_DISABLE_ENV_FILE: expected true or false, got '" + *disable + "'"};
    }
    if (*value) return std::nullopt;
  }
  const std::string path = (fs::path(layout.directory) / ".env").string();
  for (const auto& read : layout.env_files) {
    if (read == path) return std::nullopt;
  }
  if (!is_file(path)) return std::nullopt;
  return read_env_file(path, environment, layout);
}

// compose-go's WithDefaultConfigPath: the nearest directory, from the
// project's upwards, that holds one of the default names.
Expected<std::vector<std::string>> default_files(const fs::path& directory, ProjectLayout& layout) {
  for (fs::path at = directory;; at = at.parent_path()) {
    const auto candidates = present(at, default_file_names);
    if (!candidates.empty()) {
      std::vector<std::string> files = {candidates.front()};
      if (candidates.size() > 1) {
        layout.warnings.push_back("found several Compose files: " + joined(candidates) +
                                  "; using " + candidates.front());
      }
      const auto overrides = present(at, default_override_names);
      if (!overrides.empty()) {
        files.push_back(overrides.front());
        if (overrides.size() > 1) {
          layout.warnings.push_back("found several override files: " + joined(overrides) +
                                    "; using " + overrides.front());
        }
      }
      return files;
    }
    if (at == at.parent_path() || at.empty()) break;
  }
  return Error{"no Compose file: give -f FILE, set COMPOSE_FILE, or put compose.yaml in " +
               directory.string() + " (or a directory above it)"};
}

}  // namespace

reconcile::Expected<std::string> read_text_file(const std::string& path, std::size_t limit) {
  if (std::error_code error; fs::is_directory(path, error)) {
    return Error{path + ": is a directory"};
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) return Error{path + ": " + std::strerror(errno)};
  std::string content;
  char buffer[64 * 1024];
  while (file.read(buffer, sizeof buffer) || file.gcount() > 0) {
    content.append(buffer, static_cast<std::size_t>(file.gcount()));
    if (content.size() > limit) {
      return Error{path + ": larger than " + std::to_string(limit) + " bytes"};
    }
  }
  if (file.bad()) return Error{path + ": read error"};
  return content;
}

Expected<ProjectLayout> find_project(const StackFiles& stack, const Lookup& environment) {
  fs::path current = stack.current_directory;
  if (current.empty()) {
    std::error_code error;
    current = fs::current_path(error);
    if (error) return Error{"the current directory: " + error.message()};
  }
  ProjectLayout layout;
  // compose-go's GetWorkingDir: --project-directory, else the first -f
  // file's directory, else the current one.
  if (!stack.project_directory.empty()) {
    layout.directory = absolute_in(current, stack.project_directory);
  } else if (!stack.files.empty()) {
    layout.directory = fs::path(absolute_in(current, stack.files.front())).parent_path().string();
  } else {
    layout.directory = current.lexically_normal().string();
  }
  if (!stack.env_file.empty()) {
    if (auto error = read_env_file(stack.env_file, environment, layout)) return *error;
  } else if (auto error = read_default_env_file(stack, environment, layout)) {
    return *error;
  }
  const Lookup lookup = environment_then(environment, layout.env);

  if (!stack.files.empty()) {
    layout.files = stack.files;
    return layout;
  }
  if (auto compose_file = lookup("COMPOSE_FILE"); compose_file && !compose_file->empty()) {
    std::string separator = lookup("COMPOSE_PATH_SEPARATOR").value_or("");
    if (separator.empty()) separator = ":";
    // compose-go makes these absolute against the current directory; here
    // against the project directory, which is the same unless
    // --project-directory names another one, and then is the one that
    // holds the .env naming them (docker/compose#8264).
    for (const auto& path : split(*compose_file, separator)) {
      if (!path.empty()) layout.files.push_back(absolute_in(layout.directory, path));
    }
    if (layout.files.empty()) return Error{"COMPOSE_FILE names no file"};
  } else {
    auto found = default_files(layout.directory, layout);
    if (!found) return found.error();
    layout.files = std::move(*found);
  }
  // Found files move an unnamed project to their directory, whose .env is
  // then read too (compose applies WithEnvFiles and WithDotEnv again).
  if (stack.project_directory.empty()) {
    const std::string directory = fs::path(layout.files.front()).parent_path().string();
    if (directory != layout.directory) {
      layout.directory = directory;
      if (auto error = read_default_env_file(stack, environment, layout)) return *error;
    }
  }
  return layout;
}

reconcile::Expected<StackImages> read_stack_images(const StackFiles& stack,
                                                   const Lookup& environment) {
  auto layout = find_project(stack, environment);
  if (!layout) return layout.error();
  const Lookup lookup = environment_then(environment, layout->env);

  std::vector<SourceFile> files;
  for (const auto& path : layout->files) {
    auto text = read_text_file(path, stack_file_limit);
    if (!text) return text.error();
    files.push_back({path, std::move(*text)});
  }
  // COMPOSE_PROFILES is read after the .env, so the .env may set it.
  const auto profiles = !stack.profiles.empty()
                            ? stack.profiles
                            : split_profiles(lookup("COMPOSE_PROFILES").value_or(""));
  auto images = project_images(
      {.files = std::move(files),
       .directory = layout->directory,
       .lookup = lookup,
       .profiles = profiles,
       .access = {
           .read = [](const std::string& path) { return read_text_file(path, stack_file_limit); },
           .is_file = [](const std::string& path) { return is_file(path); }}});
  if (!images) return images.error();
  images->warnings.insert(images->warnings.begin(), layout->warnings.begin(),
                          layout->warnings.end());
  for (const auto& service : images->services) {
    if (auto reference = reconcile::parse_reference(service.image); !reference) {
      return Error{service.file + ":" + std::to_string(service.line) + ": services." +
                   service.service + ".image: " + reference.error().message};
    }
  }
  return images;
}

}  // namespace swarm_prepull::compose
