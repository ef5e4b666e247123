#include "reconcile/imageset.h"

#include <algorithm>
#include <initializer_list>
#include <nlohmann/json.hpp>

#include "reconcile/constraint.h"
#include "reconcile/reference.h"

namespace swarm_prepull::reconcile {
std::string json_pointer_token(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

using nlohmann::json;

// Where the decoder is in the document, in the two spellings it needs: the
// path people read ("placement.platforms[1]") and the JSON pointer the
// source map is keyed by ("/placement/platforms/1").
struct Path {
  std::string dotted;
  std::string pointer;

  Path key(std::string_view name) const {
    return {dotted.empty() ? std::string(name) : dotted + "." + std::string(name),
            pointer + "/" + json_pointer_token(name)};
  }
  Path item(std::size_t index) const {
    return {dotted + "[" + std::to_string(index) + "]", pointer + "/" + std::to_string(index)};
  }
};

class ImageSetDecoder {
 public:
  explicit ImageSetDecoder(const SourceMap& where) : where_(where) {}

  Expected<ImageSet> decode(const json& root) {
    const Path top;
    if (!root.is_object()) {
      return fail(where_.values, top, top,
                  "the document must be a mapping with an 'images' list, found " + kind(root));
    }
    if (auto error = known_keys(root, top, {"images", "placement"})) return *error;
    const auto images = root.find("images");
    if (images == root.end()) return Error{"'images' is missing"};
    ImageSet set;
    const Path images_path = top.key("images");
    auto strings = string_list(*images, images_path);
    if (!strings) return strings.error();
    for (std::size_t i = 0; i < strings->size(); ++i) {
      // Would read as the repository "sha256"; nothing can pull an ID.
      if (is_image_id(*(*strings)[i])) {
        return at(images_path.item(i), std::string(image_id_never_pulled));
      }
      auto reference = parse_reference(*(*strings)[i]);
      if (!reference) return at(images_path.item(i), reference.error().message);
      set.images.push_back(reference->canonical());
    }
    if (const auto placement = root.find("placement"); placement != root.end()) {
      if (auto error = decode_placement(*placement, top.key("placement"), set.placement)) {
        return *error;
      }
    }
    return set;
  }

 private:
  // "line 7, column 5: " when the source map knows the pointer.
  static std::string position(const std::map<std::string, SourcePosition>& positions,
                              const std::string& pointer) {
    const auto found = positions.find(pointer);
    if (found == positions.end() || found->second.line == 0) return "";
    return "line " + std::to_string(found->second.line) + ", column " +
           std::to_string(found->second.column) + ": ";
  }

  static Error fail(const std::map<std::string, SourcePosition>& positions, const Path& located,
                    const Path& named, const std::string& message) {
    return Error{position(positions, located.pointer) +
                 (named.dotted.empty() ? "" : named.dotted + ": ") + message};
  }

  // A fault of the value at `path`.
  Error at(const Path& path, const std::string& message) const {
    return fail(where_.values, path, path, message);
  }

  static std::string kind(const json& value) {
    switch (value.type()) {
      case json::value_t::null:
        return "null";
      case json::value_t::string:
        return "a string";
      case json::value_t::array:
        return "a list";
      case json::value_t::object:
        return "a mapping";
      case json::value_t::boolean:
        return "a boolean";
      default:
        return "a number";
    }
  }

  std::optional<Error> expect(const json& value, json::value_t type, const Path& path) const {
    if (value.type() == type) return std::nullopt;
    const std::string wanted = type == json::value_t::string  ? "a string"
                               : type == json::value_t::array ? "a list"
                                                              : "a mapping";
    return at(path, "expected " + wanted + ", found " + kind(value));
  }

  // The keys of a mapping against the ones the format defines: a misspelt
  // "placment" must not silently widen a set to every node.
  std::optional<Error> known_keys(const json& mapping, const Path& path,
                                  std::initializer_list<std::string_view> known) const {
    for (const auto& [key, value] : mapping.items()) {
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      std::string expected;
      for (std::string_view name : known) {
        expected += (expected.empty() ? "" : ", ") + std::string(name);
      }
      return fail(where_.keys, path.key(key), path,
                  "unknown key '" + key + "' (expected " + expected + ")");
    }
    return std::nullopt;
  }

  // A list of strings; null stands for the empty list ("constraints:" with
  // its entries commented out).
  Expected<std::vector<const std::string*>> string_list(const json& value, const Path& path) const {
    std::vector<const std::string*> strings;
    if (value.is_null()) return strings;
    if (auto error = expect(value, json::value_t::array, path)) return *error;
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (auto error = expect(value[i], json::value_t::string, path.item(i))) return *error;
      strings.push_back(value[i].get_ptr<const std::string*>());
    }
    return strings;
  }

  // "os" or "os/architecture", as the docker CLI writes --platform, or a
  // mapping {os, architecture} as the Engine API does (lowercase keys).
  // Swarm matches os and architecture only, so a variant ("linux/arm/v7") is
  // refused rather than silently widened.
  Expected<Platform> decode_platform(const json& value, const Path& path) const {
    Platform platform;
    if (value.is_string()) {
      const auto& text = value.get_ref<const std::string&>();
      const std::size_t slash = text.find('/');
      platform.os = text.substr(0, slash);
      if (slash != std::string::npos) platform.architecture = text.substr(slash + 1);
      if (platform.architecture.find('/') != std::string::npos) {
        return at(path, "'" + text + "': swarm matches os and architecture only; drop the variant");
      }
      if (platform.os.empty() || (slash != std::string::npos && platform.architecture.empty())) {
        return at(path, "'" + text + "' is not 'os' or 'os/architecture'");
      }
      return platform;
    }
    if (!value.is_object()) {
      return at(path,
                "expected 'os/architecture' or a mapping {os, architecture}, found " + kind(value));
    }
    if (auto error = known_keys(value, path, {"os", "architecture"})) return *error;
    for (const auto& [key, field] : value.items()) {
      if (field.is_null()) continue;  // an absent field matches any
      if (auto error = expect(field, json::value_t::string, path.key(key))) return *error;
      (key == "os" ? platform.os : platform.architecture) = field.get<std::string>();
    }
    return platform;
  }

  std::optional<Error> decode_placement(const json& value, const Path& path,
                                        Placement& placement) const {
    if (value.is_null()) return std::nullopt;
    if (auto error = expect(value, json::value_t::object, path)) return *error;
    if (auto error = known_keys(value, path, {"constraints", "platforms"})) return *error;
    if (const auto constraints = value.find("constraints"); constraints != value.end()) {
      const Path list = path.key("constraints");
      auto strings = string_list(*constraints, list);
      if (!strings) return strings.error();
      for (std::size_t i = 0; i < strings->size(); ++i) {
        const std::string& text = *(*strings)[i];
        if (auto parsed = parse_constraint(text); !parsed) {
          return at(list.item(i), parsed.error().message);
        }
        placement.constraints.push_back(text);
      }
    }
    if (const auto platforms = value.find("platforms");
        platforms != value.end() && !platforms->is_null()) {
      const Path list = path.key("platforms");
      if (auto error = expect(*platforms, json::value_t::array, list)) return *error;
      for (std::size_t i = 0; i < platforms->size(); ++i) {
        auto platform = decode_platform((*platforms)[i], list.item(i));
        if (!platform) return platform.error();
        placement.platforms.push_back(std::move(platform).value());
      }
    }
    return std::nullopt;
  }

  const SourceMap& where_;
};

}  // namespace

bool label_is_true(const Labels& labels, const std::string& key) {
  const auto found = labels.find(key);
  if (found == labels.end() || found->second.size() != 4) return false;
  const std::string_view value = found->second;
  return std::equal(value.begin(), value.end(), "true",
                    [](char a, char b) { return (a >= 'A' && a <= 'Z' ? a - 'A' + 'a' : a) == b; });
}

bool is_imageset(const Config& config) {
  static const std::string key(imageset_label);
  return label_is_true(config.labels, key);
}

Expected<ImageSet> decode_imageset(const nlohmann::json& document, const SourceMap& where) {
  return ImageSetDecoder(where).decode(document);
}

}  // namespace swarm_prepull::reconcile
