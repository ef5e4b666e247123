#include "compose/imageset_document.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <optional>
#include <sstream>
#include <string>

#include "compose/yaml_text.h"

namespace swarm_prepull::compose {
namespace {

using nlohmann::json;
using reconcile::Error;
using reconcile::Expected;

// The format nests four levels deep (document, placement, platforms, entry);
// anything much deeper is refused before it can exhaust the stack.
constexpr int max_depth = 16;
// Aliases copy what they name: a few lines can stand for millions of values
// ("billion laughs"). No image set needs more than this.
constexpr std::size_t max_values = 100'000;

std::string at(const YAML::Mark& mark) {
  if (mark.is_null()) return "";
  return "line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1) +
         ": ";
}

reconcile::SourcePosition position(const YAML::Mark& mark) {
  if (mark.is_null()) return {};
  return {static_cast<std::size_t>(mark.line) + 1, static_cast<std::size_t>(mark.column) + 1};
}

class Converter {
 public:
  explicit Converter(reconcile::SourceMap& where) : where_(where) {}

  std::optional<Error> convert(const YAML::Node& node, const std::string& pointer, int depth,
                               json& out) {
    if (depth > max_depth) return Error{at(node.Mark()) + "nested too deeply"};
    if (++values_ > max_values) {
      return Error{at(node.Mark()) + "more than " + std::to_string(max_values) +
                   " values (aliases expand to copies)"};
    }
    where_.values[pointer] = position(node.Mark());
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out = nullptr;
        return std::nullopt;
      case YAML::NodeType::Scalar:
        out = node.Scalar();
        return std::nullopt;
      case YAML::NodeType::Sequence: {
        out = json::array();
        std::size_t index = 0;
        for (const YAML::Node& item : node) {
          json value;
          if (auto error =
                  convert(item, pointer + "/" + std::to_string(index++), depth + 1, value)) {
            return error;
          }
          out.push_back(std::move(value));
        }
        return std::nullopt;
      }
      case YAML::NodeType::Map: {
        out = json::object();
        for (const auto& member : node) {
          const YAML::Node& key = member.first;
          if (!key.IsScalar()) return Error{at(key.Mark()) + "a mapping key must be a string"};
          const std::string& name = key.Scalar();
          // YAML forbids duplicate keys; yaml-cpp does not check, and a
          // second "images:" must not silently win.
          if (out.contains(name)) return Error{at(key.Mark()) + "duplicate key '" + name + "'"};
          const std::string child = pointer + "/" + reconcile::json_pointer_token(name);
          where_.keys[child] = position(key.Mark());
          json value;
          if (auto error = convert(member.second, child, depth + 1, value)) return error;
          out[name] = std::move(value);
        }
        return std::nullopt;
      }
    }
    return std::nullopt;
  }

 private:
  reconcile::SourceMap& where_;
  std::size_t values_ = 0;
};

// JSON when the first significant character opens an object; comments and
// blank lines before it are YAML's, which a JSON parser would refuse.
bool looks_like_json(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  for (const char c : text) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '{';
  }
  return false;
}

Expected<ImageSetDocument> read_json(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  // nlohmann's parser keeps its own stack, but the value it builds is
  // walked recursively by its users: refuse depth while parsing.
  const json::parser_callback_t limit_depth = [](int depth, json::parse_event_t, json&) {
    if (depth > max_depth) throw std::length_error("nested too deeply");
    return true;
  };
  try {
    return ImageSetDocument{json::parse(text, limit_depth), {}};
  } catch (const json::exception& error) {
    // parse_error carries the line and column; out_of_range is a number
    // past double.
    return Error{std::string("invalid JSON: ") + error.what()};
  } catch (const std::length_error& error) {
    return Error{error.what()};
  }
}

// Listens to a parse and keeps nothing: counting documents this way costs no
// tree.
class NoEvents : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

Expected<ImageSetDocument> read_yaml(std::string_view text) {
  if (auto found = find_control_character(text)) {
    return Error{"line " + std::to_string(found->line) + ", column " +
                 std::to_string(found->column) + ": " + found->what};
  }
  YAML::Node root;
  try {
    // The documents are counted with a parser asked for at most two, never
    // with LoadAll, which loops without end on some malformed input.
    std::istringstream stream{std::string(text)};
    YAML::Parser parser(stream);
    NoEvents events;
    if (!parser.HandleNextDocument(events)) return Error{"the document is empty"};
    if (parser.HandleNextDocument(events)) {
      return Error{"more than one document (one image set per config)"};
    }
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& error) {
    // ParserException, and DeepRecursion (yaml-cpp's own depth guard) among them.
    return Error{at(error.mark) + error.msg};
  }
  ImageSetDocument document;
  try {
    if (auto error = Converter(document.where).convert(root, "", 0, document.value)) {
      return *error;
    }
  } catch (const YAML::Exception& error) {
    return Error{at(error.mark) + error.msg};
  }
  return document;
}

}  // namespace

Expected<ImageSetDocument> read_imageset_document(std::string_view text) {
  return looks_like_json(text) ? read_json(text) : read_yaml(text);
}

Expected<reconcile::ImageSet> read_imageset(std::string_view text) {
  auto document = read_imageset_document(text);
  if (!document) return document.error();
  return reconcile::decode_imageset(document->value, document->where);
}

std::vector<reconcile::NamedImageSet> image_sets(const std::vector<reconcile::Config>& configs) {
  std::vector<reconcile::NamedImageSet> sets;
  for (const reconcile::Config& config : configs) {
    if (!reconcile::is_imageset(config)) continue;
    reconcile::NamedImageSet named;
    named.source = "config:" + config.name;
    auto set = read_imageset(config.data);
    if (set) {
      named.set = std::move(set).value();
    } else {
      named.error = set.error();
    }
    sets.push_back(std::move(named));
  }
  return sets;
}

}  // namespace swarm_prepull::compose
