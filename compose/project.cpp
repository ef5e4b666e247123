#include "compose/project.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "compose/yaml_text.h"

namespace swarm_prepull::compose {
namespace {

using reconcile::Error;
using reconcile::Expected;

// compose-go has no bounds (its stacks grow and it trusts its files); these
// keep a chain of extends or includes, or a file set that reads itself
// again, from running without end. No real project comes near them.
constexpr std::size_t max_extends_depth = 64;
constexpr int max_files_read = 256;
constexpr std::size_t max_include_depth = 32;

std::string join_path(const std::string& directory, const std::string& path) {
  const std::filesystem::path given(path);
  return (given.is_absolute() ? given : std::filesystem::path(directory) / given)
      .lexically_normal()
      .string();
}

std::string parent_of(const std::string& path) {
  return std::filesystem::path(path).parent_path().string();
}

std::string joined(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

std::string where(const std::string& path, const YAML::Mark& mark) {
  if (mark.is_null()) return path;
  return path + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

// A key of a service, following `<<` merge keys (yaml-cpp keeps them as
// plain keys; Compose files use them to share settings). Merge keys may name
// the same anchors many times over, so that a few lines stand for billions of
// paths: at most `max_merge_visits` mappings are looked at.
constexpr int max_merge_visits = 1000;

YAML::Node find_key_in(const YAML::Node& node, const char* key, int depth, int& visits) {
  if (!node.IsMap() || depth > 16 || ++visits > max_merge_visits) return YAML::Node();
  if (auto found = node[key]) return found;
  const YAML::Node merged = node["<<"];
  if (merged && merged.IsMap()) return find_key_in(merged, key, depth + 1, visits);
  if (merged && merged.IsSequence()) {
    for (const auto& item : merged) {
      if (auto found = find_key_in(item, key, depth + 1, visits)) return found;
    }
  }
  return YAML::Node();
}

YAML::Node find_key(const YAML::Node& node, const char* key) {
  int visits = 0;
  return find_key_in(node, key, 0, visits);
}

bool present(const YAML::Node& node) { return node && !node.IsNull(); }

struct Located {
  std::string value;
  std::string file;
  int line = 0;
};

// What decides a service's image, after interpolation.
struct Service {
  std::optional<Located> image;
  bool build = false;
  std::vector<std::string> profiles;
  std::string file;  // where the service is first named
};

using Services = std::map<std::string, Service>;

std::optional<std::string> known(const std::map<std::string, std::string>& values,
                                 const std::string& name) {
  if (auto found = values.find(name); found != values.end()) return found->second;
  return std::nullopt;
}

// Whether an included service is the one already imported: compose-go
// accepts the same resource imported twice and refuses two different ones.
bool same(const Service& a, const Service& b) {
  const bool same_image =
      a.image.has_value() == b.image.has_value() && (!a.image || a.image->value == b.image->value);
  return same_image && a.build == b.build && a.profiles == b.profiles;
}

// One file's services as written, before `extends` is applied: what an
// `extends` in that file (or naming it) looks up.
struct FileScope {
  std::string path;
  std::string directory;  // a relative `extends.file` starts here
  std::map<std::string, YAML::Node> raw;
  Services imported;  // from `include`, which compose applies first
  Lookup lookup;
  int variables = 0;  // which lookup: the project's own is 0, each included project its own
};

// compose-go's override rules (override/merge.go) for the fields kept: a
// scalar from `over` replaces, a sequence is appended, a mapping is merged
// (so `build` is there when either side has it).
void merge_into(Service& base, const Service& over) {
  if (over.image) base.image = over.image;
  base.build = base.build || over.build;
  base.profiles.insert(base.profiles.end(), over.profiles.begin(), over.profiles.end());
}

class Loader {
 public:
  Loader(const Project& project, std::vector<std::string>& warnings)
      : project_(project), warnings_(warnings) {}

  // Every file in order, each overriding the ones before service by service.
  // `included` holds the files whose `include` led here, for cycles.
  Expected<Services> load(const std::vector<SourceFile>& files, const Lookup& lookup,
                          const std::string& directory,
                          const std::vector<std::string>& included = {}) {
    Services merged;
    for (const auto& file : files) {
      auto services = load_file(file, lookup, directory, included);
      if (!services) return services.error();
      for (auto& [name, service] : *services) {
        auto [at, inserted] = merged.try_emplace(name, service);
        if (!inserted) merge_into(at->second, service);
      }
    }
    return merged;
  }

 private:
  Expected<YAML::Node> parse(const SourceFile& file) {
    if (auto found = find_control_character(file.text)) {
      return Error{file.path + ":" + std::to_string(found->line) + ":" +
                   std::to_string(found->column) + ": " + found->what};
    }
    try {
      return YAML::Load(file.text);
    } catch (const YAML::Exception& error) {
      return Error{where(file.path, error.mark) + ": malformed YAML: " + error.msg};
    }
  }

  // A file's services as written, the `services` mapping checked.
  Expected<FileScope> scope_of(const SourceFile& file, const Lookup& lookup,
                               const std::string& directory, YAML::Node& root) {
    FileScope scope{file.path, directory, {}, {}, lookup, variables_};
    auto parsed = parse(file);
    if (!parsed) return parsed.error();
    root = *parsed;
    if (!present(root)) return scope;  // an empty override file is fine
    if (!root.IsMap()) {
      return Error{where(file.path, root.Mark()) + ": expected a mapping at the top"};
    }
    const YAML::Node services = root["services"];
    if (!present(services)) return scope;
    if (!services.IsMap()) {
      return Error{where(file.path, services.Mark()) + ": services must be a mapping"};
    }
    for (const auto& entry : services) {
      scope.raw.insert_or_assign(entry.first.as<std::string>(""), entry.second);
    }
    return scope;
  }

  // compose-go's loadYamlFile: `include` first (so that `extends` may name
  // an included service), then `extends`.
  Expected<Services> load_file(const SourceFile& file, const Lookup& lookup,
                               const std::string& directory, std::vector<std::string> included) {
    YAML::Node root;
    auto scope = scope_of(file, lookup, directory, root);
    if (!scope) return scope.error();
    if (const YAML::Node include = present(root) ? root["include"] : YAML::Node();
        present(include)) {
      // An included project's first file is already last in the chain.
      if (const auto self = join_path(directory, file.path);
          included.empty() || included.back() != self) {
        included.push_back(self);
      }
      auto imported = load_includes(include, file.path, lookup, directory, included);
      if (!imported) return imported.error();
      scope->imported = std::move(*imported);
      for (const auto& [name, node] : scope->raw) {
        if (scope->imported.count(name)) {
          // compose-go's importResources: a service both included and
          // declared is refused (an override file is the way to change it).
          return Error{where(file.path, node.Mark()) + ": services." + name +
                       " conflicts with imported resource (a service of an included project)"};
        }
      }
    }
    Services result = scope->imported;
    for (const auto& [name, node] : scope->raw) {
      auto service = resolve(*scope, name, {});
      if (!service) return service.error();
      result.insert_or_assign(name, std::move(*service));
    }
    return result;
  }

  // The services of every project `include` names, as compose-go's
  // ApplyInclude: each is loaded as a project of its own (its files merged,
  // its own includes and extends applied) from its directory (the first
  // file's, or `project_directory`), interpolated with the including
  // project's variables first and then its `.env` (or `env_file`).
  Expected<Services> load_includes(const YAML::Node& include, const std::string& path,
                                   const Lookup& lookup, const std::string& directory,
                                   const std::vector<std::string>& included) {
    if (!include.IsSequence()) {
      return Error{where(path, include.Mark()) + ": include must be a list"};
    }
    Services imported;
    for (const auto& entry : include) {
      const std::string at = where(path, entry.Mark());
      std::vector<std::string> paths;
      std::string project_directory;
      std::vector<std::string> env_files;
      bool env_file_given = false;
      if (entry.IsScalar()) {
        auto value = string_field(entry, "include", path, lookup);
        if (!value) return value.error();
        paths.push_back(std::move(*value));
      } else if (entry.IsMap()) {
        auto listed = string_list(entry["path"], "include.path", path, lookup);
        if (!listed) return listed.error();
        paths = std::move(*listed);
        if (const YAML::Node node = entry["project_directory"]; present(node)) {
          auto value = string_field(node, "include.project_directory", path, lookup);
          if (!value) return value.error();
          project_directory = std::move(*value);
        }
        env_file_given = present(entry["env_file"]);
        auto env = string_list(entry["env_file"], "include.env_file", path, lookup);
        if (!env) return env.error();
        env_files = std::move(*env);
      } else {
        return Error{at + ": include entries must be a path or a mapping"};
      }
      if (paths.empty()) return Error{at + ": include.path is required"};
      for (auto& file : paths) file = join_path(directory, file);
      const std::string included_directory = project_directory.empty()
                                                 ? parent_of(paths.front())
                                                 : join_path(directory, project_directory);

      std::vector<std::string> chain = included;
      chain.push_back(paths.front());
      if (std::find(included.begin(), included.end(), paths.front()) != included.end()) {
        return Error{at + ": include cycle: " + joined(chain, " -> ")};
      }
      if (chain.size() > max_include_depth) {
        return Error{at + ": includes nested more than " + std::to_string(max_include_depth) +
                     " deep"};
      }

      if (env_file_given) {
        for (auto& file : env_files) {
          file = join_path(directory, file);
          if (!is_file(file)) return Error{at + ": include.env_file: " + file + " is not a file"};
        }
      } else if (const std::string dot_env = join_path(included_directory, ".env");
                 is_file(dot_env)) {
        env_files.push_back(dot_env);
      }
      auto env = std::make_shared<std::map<std::string, std::string>>();
      for (const auto& file : env_files) {
        auto text = read(file);
        if (!text) return Error{at + ": include: " + text.error().message};
        auto values = parse_env_file(*text, [&](const std::string& name) {
          if (auto value = lookup(name)) return value;
          return known(*env, name);
        });
        if (!values) return Error{file + ": " + values.error().message};
        for (auto& [name, value] : *values) env->try_emplace(name, std::move(value));
      }
      // The including project's variables win over the included .env
      // (compose-go merges without overwriting).
      const Lookup included_lookup = [lookup, env](const std::string& name) {
        if (auto value = lookup(name)) return value;
        return known(*env, name);
      };

      std::vector<SourceFile> sources;
      for (const auto& file : paths) {
        auto text = read(file);
        if (!text) return Error{at + ": include: " + text.error().message};
        sources.push_back({file, std::move(*text)});
      }
      const int including_variables = variables_;
      variables_ = ++variable_sets_;
      auto services = load(sources, included_lookup, included_directory, chain);
      variables_ = including_variables;
      if (!services) return services.error();
      for (auto& [name, service] : *services) {
        auto [existing, inserted] = imported.try_emplace(name, service);
        if (!inserted && !same(existing->second, service)) {
          return Error{at + ": services." + name + " conflicts with imported resource"};
        }
      }
    }
    return imported;
  }

  // A string or a list of strings, interpolated; absent: none.
  Expected<std::vector<std::string>> string_list(const YAML::Node& node, const std::string& field,
                                                 const std::string& path, const Lookup& lookup) {
    std::vector<std::string> values;
    if (!present(node)) return values;
    if (node.IsScalar()) {
      auto value = string_field(node, field, path, lookup);
      if (!value) return value.error();
      values.push_back(std::move(*value));
      return values;
    }
    if (!node.IsSequence()) {
      return Error{where(path, node.Mark()) + ": " + field + " must be a string or a list"};
    }
    for (const auto& item : node) {
      auto value = string_field(item, field, path, lookup);
      if (!value) return value.error();
      values.push_back(std::move(*value));
    }
    return values;
  }

  bool is_file(const std::string& path) const {
    return project_.access.is_file && project_.access.is_file(path);
  }

  // A service with its `extends` applied, as compose-go's
  // applyServiceExtends: the base (from this file, from what this file
  // includes, or from `extends.file`) with the service's own fields over it.
  // `chain` holds the "file service" pairs being extended, for cycles.
  Expected<Service> resolve(FileScope& scope, const std::string& name,
                            std::vector<std::string> chain) {
    const YAML::Node node = scope.raw.at(name);
    const std::string field = "services." + name;
    auto service = read_service(node, name, scope.path, scope.lookup);
    if (!service) return service.error();
    const YAML::Node extends = find_key(node, "extends");
    if (!present(extends)) return service;

    std::string base_name;
    std::optional<std::string> base_file;
    if (extends.IsScalar()) {
      auto value = string_field(extends, field + ".extends", scope.path, scope.lookup);
      if (!value) return value.error();
      base_name = std::move(*value);
    } else if (extends.IsMap()) {
      const YAML::Node base = extends["service"];
      if (!present(base)) {
        return Error{where(scope.path, extends.Mark()) + ": " + field +
                     ".extends.service is required"};
      }
      auto value = string_field(base, field + ".extends.service", scope.path, scope.lookup);
      if (!value) return value.error();
      base_name = std::move(*value);
      if (const YAML::Node file = extends["file"]; present(file)) {
        auto path = string_field(file, field + ".extends.file", scope.path, scope.lookup);
        if (!path) return path.error();
        base_file = join_path(scope.directory, *path);
      }
    } else {
      return Error{where(scope.path, extends.Mark()) + ": " + field +
                   ".extends must be a service name or a mapping"};
    }

    const std::string link = scope.path + " " + name;
    if (std::find(chain.begin(), chain.end(), link) != chain.end()) {
      chain.push_back(link);
      return Error{where(scope.path, extends.Mark()) + ": " + field +
                   ".extends: circular reference: " + joined(chain, " -> ")};
    }
    if (chain.size() >= max_extends_depth) {
      return Error{where(scope.path, extends.Mark()) + ": " + field + ".extends: more than " +
                   std::to_string(max_extends_depth) + " services deep"};
    }
    chain.push_back(link);

    Expected<Service> base = Error{""};
    if (base_file) {
      auto other = extended_scope(*base_file, scope);
      if (!other) {
        return Error{where(scope.path, extends.Mark()) + ": " + field +
                     ".extends: " + other.error().message};
      }
      if (!(*other)->raw.count(base_name)) {
        return Error{where(scope.path, extends.Mark()) + ": cannot extend service \"" + name +
                     "\": service \"" + base_name + "\" not found in " + *base_file};
      }
      base = resolve(**other, base_name, chain);
    } else if (scope.raw.count(base_name)) {
      base = resolve(scope, base_name, chain);
    } else if (auto imported = scope.imported.find(base_name); imported != scope.imported.end()) {
      base = imported->second;
    } else {
      return Error{where(scope.path, extends.Mark()) + ": cannot extend service \"" + name +
                   "\": service \"" + base_name + "\" not found in " + scope.path};
    }
    if (!base) return base;
    merge_into(*base, *service);
    base->file = service->file;
    return base;
  }

  // Another file named by `extends.file`, read once per set of variables
  // and interpolated with the ones of the file naming it; its own relative
  // `extends.file` start at its directory.
  Expected<FileScope*> extended_scope(const std::string& path, const FileScope& from) {
    const std::string key = std::to_string(from.variables) + " " + path;
    if (auto found = extended_.find(key); found != extended_.end()) return found->second.get();
    auto text = read(path);
    if (!text) return text.error();
    YAML::Node root;
    auto scope = scope_of({path, std::move(*text)}, from.lookup, parent_of(path), root);
    if (!scope) return scope.error();
    scope->variables = from.variables;
    auto& stored = extended_[key] = std::make_unique<FileScope>(std::move(*scope));
    return stored.get();
  }

  Expected<std::string> read(const std::string& path) {
    if (!project_.access.read) return Error{path + ": reading other files is not possible here"};
    if (++files_read_ > max_files_read) {
      return Error{path + ": more than " + std::to_string(max_files_read) +
                   " files read for include and extends"};
    }
    return project_.access.read(path);
  }

  // A string field after interpolation; unset variables are warned about
  // with the field's place, as compose does.
  Expected<std::string> string_field(const YAML::Node& node, const std::string& field,
                                     const std::string& path, const Lookup& lookup) {
    if (!node.IsScalar())
      return Error{where(path, node.Mark()) + ": " + field + " must be a string"};
    std::vector<std::string> unset;
    auto value = interpolate(node.Scalar(), lookup, &unset);
    if (!value)
      return Error{where(path, node.Mark()) + ": " + field + ": " + value.error().message};
    for (const auto& variable : unset) {
      // A base service is read again for every service extending it; its
      // warnings are given once, as compose interpolates each file once.
      std::string warning = where(path, node.Mark()) + ": the " + variable +
                            " variable is not set; defaulting to a blank string";
      if (warned_.insert(warning).second) warnings_.push_back(std::move(warning));
    }
    return value;
  }

  Expected<Service> read_service(const YAML::Node& node, const std::string& name,
                                 const std::string& path, const Lookup& lookup) {
    Service service;
    service.file = path;
    const std::string field = "services." + name;
    if (const YAML::Node image = find_key(node, "image"); present(image)) {
      auto value = string_field(image, field + ".image", path, lookup);
      if (!value) return value.error();
      if (value->empty())
        return Error{where(path, image.Mark()) + ": " + field + ".image is empty"};
      service.image = Located{std::move(*value), path, image.Mark().line + 1};
    }
    service.build = present(find_key(node, "build"));
    if (const YAML::Node profiles = find_key(node, "profiles"); present(profiles)) {
      if (!profiles.IsSequence()) {
        return Error{where(path, profiles.Mark()) + ": " + field + ".profiles must be a list"};
      }
      for (const auto& profile : profiles) {
        auto value = string_field(profile, field + ".profiles", path, lookup);
        if (!value) return value.error();
        service.profiles.push_back(std::move(*value));
      }
    }
    return service;
  }

  const Project& project_;
  std::vector<std::string>& warnings_;
  std::set<std::string> warned_;
  std::map<std::string, std::unique_ptr<FileScope>> extended_;  // by variables and path
  int variables_ = 0;      // the variables of the project being loaded
  int variable_sets_ = 0;  // how many there have been
  int files_read_ = 0;
};

// compose-go's ServiceConfig.HasProfile: a service without profiles is
// always on; "*" turns every profile on.
bool enabled(const Service& service, const std::set<std::string>& active) {
  if (service.profiles.empty() || active.count("*")) return true;
  return std::any_of(service.profiles.begin(), service.profiles.end(),
                     [&](const std::string& profile) { return active.count(profile) > 0; });
}

}  // namespace

std::vector<std::string> split_profiles(std::string_view text) {
  std::vector<std::string> profiles;
  while (!text.empty()) {
    const std::size_t comma = std::min(text.find(','), text.size());
    std::string_view item = text.substr(0, comma);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) {
      item.remove_prefix(1);
    }
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) {
      item.remove_suffix(1);
    }
    if (!item.empty()) profiles.emplace_back(item);
    text.remove_prefix(std::min(comma + 1, text.size()));
  }
  return profiles;
}

Expected<StackImages> project_images(const Project& project) {
  StackImages result;
  Loader loader(project, result.warnings);
  auto services = loader.load(project.files, project.lookup, project.directory);
  if (!services) return services.error();
  const std::set<std::string> active(project.profiles.begin(), project.profiles.end());
  for (auto& [name, service] : *services) {
    if (!enabled(service, active)) continue;
    if (service.image) {
      result.services.push_back(ServiceImage{name, std::move(service.image->value),
                                             service.image->file, service.image->line});
    } else if (service.build) {
      // As `docker compose` would build it rather than pull it: nothing to
      // warm, which is worth a word but not an error.
      result.warnings.push_back(service.file + ": service " + name +
                                " has no image, only build: (it is built, not pulled; nothing "
                                "to warm)");
    } else {
      result.warnings.push_back(service.file + ": service " + name +
                                " has no image (docker stack deploy needs one)");
    }
  }
  return result;
}

Expected<StackImages> stack_images(const std::vector<SourceFile>& files, const Lookup& lookup) {
  return project_images(Project{.files = files, .directory = ".", .lookup = lookup});
}

}  // namespace swarm_prepull::compose
