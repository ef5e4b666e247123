#include "engine/client.h"

#include <algorithm>
#include <boost/beast/http/verb.hpp>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace swarm_prepull::engine {
namespace {

namespace net = boost::asio;
using nlohmann::json;

// nlohmann's own messages say where JSON breaks ("syntax error while parsing
// value - invalid literal; last read: 'x'"), which is what an operator needs.
reconcile::Expected<json> parse_json(std::string_view text,
                                     const json::parser_callback_t& keep = nullptr) {
  try {
    return json::parse(text, keep);
  } catch (const json::exception& error) {
    // Not only parse_error: a number beyond double's range ("1e400") throws
    // out_of_range, and an engine's answer must never end a loop.
    return reconcile::Error{std::string("invalid JSON: ") + error.what()};
  }
}

// For parse_json: of each element of a top-level array, only the members at
// `paths` (from the element; "*" is every element of an array) and what lies
// under them. The tree is never built for the rest, which is most of a
// swarm's task list.
json::parser_callback_t keep_only(const std::vector<std::vector<std::string_view>>& paths) {
  // By depth: the key or "*" that leads there from the element, and whether
  // the value opened there is an array (its elements are "*").
  struct Walk {
    std::vector<std::string> path;
    std::vector<bool> array;
  };
  auto walk = std::make_shared<Walk>();
  return [walk, paths](int depth, json::parse_event_t event, json& parsed) {
    const auto at = static_cast<std::size_t>(depth);
    if (walk->path.size() <= at) {
      walk->path.resize(at + 1);
      walk->array.resize(at + 1);
    }
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (at > 0 && walk->array[at - 1]) walk->path[at] = "*";
        walk->array[at] = event == json::parse_event_t::array_start;
        return true;
      case json::parse_event_t::key: {
        if (depth < 2) return true;  // the list's elements themselves
        walk->path[at] = parsed.get<std::string>();
        // Kept when it leads to, or is, one of the paths.
        const std::size_t length = at - 1;  // segments from depth 2 to here
        return std::any_of(paths.begin(), paths.end(), [&](const auto& kept) {
          if (kept.size() < length) return false;
          for (std::size_t i = 0; i < length; ++i) {
            if (kept[i] != walk->path[i + 2]) return false;
          }
          return true;
        });
      }
      default:
        return true;
    }
  };
}

const json* member(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  const auto found = object.find(key);
  return found == object.end() ? nullptr : &*found;
}

std::string string_at(const json& object, const char* key) {
  const json* value = member(object, key);
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

std::int64_t integer_at(const json& object, const char* key) {
  const json* value = member(object, key);
  return value != nullptr && value->is_number_integer() ? value->get<std::int64_t>() : 0;
}

reconcile::Expected<Distribution> decode_distribution(const json& object) {
  if (!object.is_object()) return reconcile::Error{"expected a JSON object"};
  Distribution distribution;
  if (const json* descriptor = member(object, "Descriptor")) {
    distribution.digest = string_at(*descriptor, "digest");
    distribution.media_type = string_at(*descriptor, "mediaType");
    distribution.size = integer_at(*descriptor, "size");
  }
  if (distribution.digest.empty()) return reconcile::Error{"no Descriptor.digest"};
  if (const json* platforms = member(object, "Platforms"); platforms && platforms->is_array()) {
    for (const json& platform : *platforms) {
      // OCI platform objects: lower-case keys, unlike the swarm objects.
      distribution.platforms.push_back(
          {string_at(platform, "architecture"), string_at(platform, "os")});
    }
  }
  return distribution;
}

// A progress line: {"status": ..., "id": ..., "progressDetail": {...}}, or the
// engine's report of a failure after the 200: {"errorDetail": {"message": ...}, "error": ...}.
struct PullLine {
  PullProgress progress;
  std::string error;
};

reconcile::Expected<PullLine> decode_pull_line(std::string_view text) {
  auto object = parse_json(text);
  if (!object) return object.error();
  if (!object->is_object()) return reconcile::Error{"a progress line is not a JSON object"};
  PullLine line;
  if (const json* detail = member(*object, "errorDetail"))
    line.error = string_at(*detail, "message");
  if (line.error.empty()) line.error = string_at(*object, "error");
  if (member(*object, "errorDetail") != nullptr || member(*object, "error") != nullptr) {
    if (line.error.empty()) line.error = "the engine reported an error without a message";
    return line;
  }
  line.progress.id = string_at(*object, "id");
  line.progress.status = string_at(*object, "status");
  line.progress.progress = string_at(*object, "progress");
  if (const json* detail = member(*object, "progressDetail")) {
    line.progress.current = integer_at(*detail, "current");
    line.progress.total = integer_at(*detail, "total");
  }
  return line;
}

// The engine reads `since` as "<seconds>.<nanoseconds>".
std::string unix_time(std::int64_t nanoseconds) {
  char text[48];
  std::snprintf(text, sizeof text, "%" PRId64 ".%09" PRId64, nanoseconds / 1'000'000'000,
                nanoseconds % 1'000'000'000);
  return text;
}

http::Request make_request(http::verb method, const std::string& target, const Endpoint& endpoint) {
  http::Request request{method, target, 11};
  // The engine ignores Host on its unix socket; the Go client sends "docker" there.
  request.set(http::field::host, endpoint.host_header("docker"));
  request.set(http::field::user_agent, "swarm-prepull");
  request.set(http::field::connection, "close");  // one connection per request
  request.prepare_payload();
  return request;
}

// The limits of every request but a stream's body.
http::Limits bounded(const ClientOptions& options) {
  return {options.request_timeout, options.header_limit, options.body_limit};
}

// For Client::get: a body decoder that parses the JSON and hands the tree to
// `decode`.
template <class Decode>
auto json_of(Decode decode) {
  return [decode](std::string_view body) -> decltype(decode(std::declval<const json&>())) {
    auto parsed = parse_json(body);
    if (!parsed) return parsed.error();
    return decode(*parsed);
  };
}

// A top-level array whose elements are decoded as they are read, each then
// dropped from the tree: 10,000 tasks are never one tree, and nlohmann's
// callback parser, which looks through the parent for a dropped value after
// every object, finds the array holding just that element (on the whole
// array that look is quadratic in the tasks). `keep` (keep_only) picks the
// members that are parsed at all.
template <class T>
reconcile::Expected<std::vector<T>> parse_list(
    std::string_view text, reconcile::Decoder<T> decode,
    const std::vector<std::vector<std::string_view>>* keep,
    const std::function<bool(const T&)>& wanted) {
  std::vector<T> items;
  std::optional<reconcile::Error> failed;
  std::size_t index = 0;  // of the element being read
  bool array = false;
  const json::parser_callback_t keep_members = keep != nullptr ? keep_only(*keep) : nullptr;
  const json::parser_callback_t each = [&](int depth, json::parse_event_t event, json& parsed) {
    using event_t = json::parse_event_t;
    if (depth == 0 && event == event_t::array_start) array = true;
    const bool element_read =
        array && depth == 1 &&
        (event == event_t::object_end || event == event_t::array_end || event == event_t::value);
    if (!element_read) return keep_members ? keep_members(depth, event, parsed) : true;
    if (!failed) {
      auto item = decode(parsed);
      if (item) {
        if (!wanted || wanted(*item)) items.push_back(std::move(item).value());
      } else {
        failed = reconcile::in_element(index, item.error());
      }
    }
    ++index;
    return false;
  };
  auto top = parse_json(text, each);
  if (!top) return top.error();
  if (!array) return reconcile::not_a_list(*top);
  if (failed) return *failed;
  return items;
}

// For Client::get: a list, of which `wanted` (when set) picks the elements kept.
template <class T>
auto list_of(reconcile::Decoder<T> decode,
             const std::vector<std::vector<std::string_view>>* keep = nullptr,
             std::function<bool(const T&)> wanted = {}) {
  return [decode, keep, wanted = std::move(wanted)](std::string_view body) {
    return parse_list(body, decode, keep, wanted);
  };
}

}  // namespace

Client::Client(ClientOptions options)
    : options_(std::move(options)),
      http_(std::make_unique<http::Client>(options_.endpoint, bounded(options_))) {}

Client::~Client() = default;

http::Call Client::call(std::string_view method, std::string_view target) const {
  return http::Call{options_.endpoint.to_string(), std::string(method) + " " + std::string(target)};
}

net::awaitable<Result<http::Reply>> Client::send(const http::Call& call, http::Request request) {
  auto reply = co_await http_->request(call, std::move(request), bounded(options_));
  if (!reply) co_return engine_error(std::move(reply).error());
  co_return std::move(*reply);
}

net::awaitable<Result<ApiVersion>> Client::negotiate() {
  const auto ping = call("GET", "/_ping");
  auto response = co_await send(ping, make_request(http::verb::get, "/_ping", options_.endpoint));
  if (!response) co_return response.error();
  const std::string header(response->headers["Api-Version"]);
  const auto engine = parse_api_version(header);
  if (!engine) {
    co_return ping.fail(engine_errc::bad_response,
                        "no usable Api-Version header (\"" + header + "\")", response->status);
  }
  const auto version = negotiate_api_version(*engine);
  if (!version) {
    co_return ping.fail(engine_errc::unsupported_version,
                        "engine at " + ping.endpoint + " speaks API " + engine->to_string() +
                            "; swarm-prepull needs " + kMinApiVersion.to_string() + " or newer",
                        response->status);
  }
  version_ = *version;
  co_return *version;
}

net::awaitable<Result<std::string>> Client::versioned(std::string_view path) {
  if (!version_) {
    auto negotiated = co_await negotiate();
    if (!negotiated) co_return negotiated.error();
  }
  co_return "/v" + version_->to_string() + std::string(path);
}

template <class T, class Decode>
net::awaitable<Result<T>> Client::get(std::string path, Decode decode, std::string registry_auth) {
  auto target = co_await versioned(path);
  if (!target) co_return target.error();
  const auto context = call("GET", *target);
  auto request = make_request(http::verb::get, *target, options_.endpoint);
  if (!registry_auth.empty()) request.set("X-Registry-Auth", registry_auth);
  auto response = co_await send(context, std::move(request));
  if (!response) co_return response.error();
  auto decoded = decode(response->body);
  if (!decoded) {
    co_return context.fail(engine_errc::bad_response, decoded.error().message, response->status);
  }
  co_return std::move(decoded).value();
}

net::awaitable<Result<json>> Client::get_json(std::string_view path) {
  return get<json>(std::string(path),
                   json_of([](const json& body) -> reconcile::Expected<json> { return body; }));
}

net::awaitable<Result<std::vector<reconcile::Node>>> Client::nodes(const Filters& filters) {
  return get<std::vector<reconcile::Node>>(
      "/nodes" + query_string({{"filters", filters_json(filters)}}),
      list_of(&reconcile::decode_node));
}

net::awaitable<Result<std::vector<reconcile::Service>>> Client::services(const Filters& filters) {
  return get<std::vector<reconcile::Service>>(
      "/services" + query_string({{"filters", filters_json(filters)}}),
      list_of(&reconcile::decode_service));
}

net::awaitable<Result<std::vector<reconcile::Task>>> Client::tasks(const Filters& filters,
                                                                   TaskFilter keep) {
  return get<std::vector<reconcile::Task>>(
      "/tasks" + query_string({{"filters", filters_json(filters)}}),
      list_of(&reconcile::decode_task, &reconcile::task_members, std::move(keep)));
}

net::awaitable<Result<std::vector<reconcile::Config>>> Client::configs(const Filters& filters) {
  return get<std::vector<reconcile::Config>>(
      "/configs" + query_string({{"filters", filters_json(filters)}}),
      list_of(&reconcile::decode_config));
}

net::awaitable<Result<NodeSpec>> Client::node_spec(std::string_view id) {
  return get<NodeSpec>("/nodes/" + encode_path_name(id),
                       json_of([](const json& body) -> reconcile::Expected<NodeSpec> {
                         const auto* index = body.is_object() && body.contains("Version")
                                                 ? &body["Version"]["Index"]
                                                 : nullptr;
                         if (index == nullptr || !index->is_number_unsigned()) {
                           return reconcile::Error{"a node without Version.Index"};
                         }
                         if (!body.contains("Spec") || !body["Spec"].is_object()) {
                           return reconcile::Error{"a node without a Spec object"};
                         }
                         return NodeSpec{index->get<std::uint64_t>(), body["Spec"]};
                       }));
}

net::awaitable<Result<void>> Client::update_node(std::string_view id, const NodeSpec& node) {
  auto target = co_await versioned("/nodes/" + encode_path_name(id) +
                                   "/update?version=" + std::to_string(node.version));
  if (!target) co_return target.error();
  auto request = make_request(http::verb::post, *target, options_.endpoint);
  request.set(http::field::content_type, "application/json");
  request.body() = node.spec.dump();
  request.prepare_payload();
  auto response = co_await send(call("POST", *target), std::move(request));
  if (!response) co_return response.error();
  co_return Result<void>();
}

net::awaitable<Result<std::vector<reconcile::Image>>> Client::images() {
  return get<std::vector<reconcile::Image>>("/images/json", list_of(&reconcile::decode_image));
}

net::awaitable<Result<std::vector<reconcile::Container>>> Client::containers() {
  return get<std::vector<reconcile::Container>>("/containers/json?all=true",
                                                list_of(&reconcile::decode_container));
}

net::awaitable<Result<reconcile::Image>> Client::inspect_image(std::string_view name) {
  // The inspect object has the list entry's Id, RepoTags and RepoDigests.
  return get<reconcile::Image>("/images/" + encode_path_name(name) + "/json",
                               json_of(&reconcile::decode_image));
}

net::awaitable<Result<Distribution>> Client::distribution(std::string_view reference,
                                                          std::string_view registry_auth) {
  return get<Distribution>("/distribution/" + encode_path_name(reference) + "/json",
                           json_of(&decode_distribution), std::string(registry_auth));
}

// Paths are built before the co_await in these coroutines: GCC 12 rejects
// string literals in a braced initializer inside a co_await expression
// ("array used as initializer").
net::awaitable<Result<void>> Client::remove_image(std::string name, bool force) {
  std::string path = "/images/" + encode_path_name(name);
  if (force) path += "?force=true";
  auto target = co_await versioned(path);
  if (!target) co_return target.error();
  auto response = co_await send(call("DELETE", *target),
                                make_request(http::verb::delete_, *target, options_.endpoint));
  if (!response) co_return response.error();
  co_return Result<void>();
}

net::awaitable<Result<PullResult>> Client::pull(PullRequest pull, PullHandler on_progress) {
  if (pull.repository.empty() || pull.tag.empty()) {
    throw std::invalid_argument("pull of \"" + pull.repository +
                                "\" needs a repository and a tag " +
                                "or digest: without a tag the engine pulls every tag");
  }
  const std::string path = "/images/create" + query_string({{"fromImage", pull.repository},
                                                            {"tag", pull.tag},
                                                            {"platform", pull.platform}});
  auto target = co_await versioned(path);
  if (!target) co_return target.error();
  const auto context = call("POST", *target);
  auto request = make_request(http::verb::post, *target, options_.endpoint);
  if (!pull.registry_auth.empty()) request.set("X-Registry-Auth", pull.registry_auth);

  PullResult result;
  const auto on_line = [&](std::string_view text) -> Result<void> {
    auto line = decode_pull_line(text);
    if (!line) return context.fail(engine_errc::bad_response, line.error().message, 200);
    if (!line->error.empty()) return context.fail(engine_errc::pull_failed, line->error, 200);
    const PullProgress& progress = line->progress;
    if (progress.status.starts_with("Digest: ")) result.digest = progress.status.substr(8);
    if (progress.id.empty() && !progress.status.empty()) result.status = progress.status;
    if (on_progress) on_progress(progress);
    return {};
  };
  auto streamed = co_await http_->stream(
      context, std::move(request), bounded(options_),
      {options_.pull_timeout, options_.pull_idle_timeout, options_.line_limit}, on_line);
  if (!streamed) co_return engine_error(std::move(streamed).error());
  co_return result;
}

net::awaitable<Error> Client::follow_events(EventOptions options, EventHandler on_event) {
  std::string since;
  if (options.since_nano) since = unix_time(*options.since_nano);
  const std::string path =
      "/events" + query_string({{"filters", filters_json(options.filters)}, {"since", since}});
  auto target = co_await versioned(path);
  if (!target) co_return target.error();
  const auto context = call("GET", *target);
  const auto on_line = [&](std::string_view text) -> Result<void> {
    auto object = parse_json(text);
    if (!object) return context.fail(engine_errc::bad_response, object.error().message, 200);
    auto event = reconcile::decode_event(*object);
    if (!event) return context.fail(engine_errc::bad_response, event.error().message, 200);
    on_event(*event);
    return {};
  };
  // Events come when they happen: no overall or idle timeout, only the caller's cancellation.
  auto streamed = co_await http_->stream(
      context, make_request(http::verb::get, *target, options_.endpoint), bounded(options_),
      {std::nullopt, std::nullopt, options_.line_limit}, on_line);
  if (!streamed) co_return engine_error(std::move(streamed).error());
  co_return context.fail(engine_errc::connection_lost, "the engine ended the events stream", 200);
}

}  // namespace swarm_prepull::engine
