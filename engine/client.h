// The Docker Engine API client: typed reads of the swarm (reconcile:: types),
// image pulls with progress, the events stream. Every operation is a C++20
// coroutine on Asio that returns its failure as a value (engine::Error), is
// bounded in time and size, and uses a fresh connection.
//
// The API version is negotiated on first use (GET /_ping) and every later
// request goes to /v<version>/...; call negotiate() at start-up to fail fast.
//
// A Client is not thread-safe: use it from one thread (or strand). Its
// coroutines run on the executor of whoever awaits them and must not outlive
// the Client. Coroutine arguments are taken by value, so an operation may be
// created now and awaited later.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/api_version.h"
#include "engine/endpoint.h"
#include "engine/error.h"
#include "engine/url.h"
#include "http/client.h"
#include "reconcile/swarm.h"

namespace swarm_prepull::engine {

struct ClientOptions {
  Endpoint endpoint = default_endpoint();
  // Connect, send and read a whole bounded response (and a stream's header).
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};
  std::size_t header_limit = 64 * 1024;       // the engine sends a few hundred bytes
  std::size_t body_limit = 64 * 1024 * 1024;  // lists of services, tasks, images
  std::size_t line_limit = 1024 * 1024;       // one event, one pull progress line
  // A whole pull, and the silence allowed between two of its progress lines.
  std::chrono::milliseconds pull_timeout{std::chrono::minutes(30)};
  std::chrono::milliseconds pull_idle_timeout{std::chrono::minutes(2)};
};

// What GET /distribution/{name}/json says about a reference: the registry's
// answer, without pulling. A missing tag fails here, before any node pulls.
struct Distribution {
  std::string digest;      // Descriptor.digest: "sha256:..."
  std::string media_type;  // Descriptor.mediaType: a manifest or an index
  std::int64_t size = 0;
  std::vector<reconcile::Platform> platforms;  // what an index offers; may be empty
};

// A node's spec as the engine keeps it, with the version an update must name:
// swarm refuses an update made from an older version ("update out of
// sequence"), so a spec changed in between is never overwritten.
struct NodeSpec {
  std::uint64_t version = 0;  // Version.Index
  nlohmann::json spec;        // Spec, every member as the engine answered
};

struct PullRequest {
  std::string repository;  // fromImage without tag or digest: "10.213.37.1:5000/bb", "redis"
  std::string tag;         // a tag ("1.25") or a digest ("sha256:..."); required
  std::string platform;    // "linux/amd64"; empty for the engine's own
  // X-Registry-Auth: base64url of the JSON auth config, or empty. Never logged.
  std::string registry_auth;
};

// One line of the pull's progress stream.
struct PullProgress {
  std::string id;        // a layer id, or empty for whole-image status lines
  std::string status;    // "Pulling fs layer", "Downloading", "Digest: sha256:...", ...
  std::string progress;  // the engine's progress bar text
  std::int64_t current = 0;
  std::int64_t total = 0;
};

struct PullResult {
  std::string digest;  // from the "Digest: sha256:..." line; empty when pulled by digest
  std::string
      status;  // the last status: "Status: Downloaded newer image for ...", "... up to date ..."
};

struct EventOptions {
  Filters filters{{"type", {"service", "node", "config"}}};
  // Replays events from this time on (an Event's time_nano), so a caller that
  // reconnects misses nothing; it may see the event at exactly this time again.
  std::optional<std::int64_t> since_nano;
};

using PullHandler = std::function<void(const PullProgress&)>;
using EventHandler = std::function<void(const reconcile::Event&)>;

class Client {
 public:
  // Throws std::runtime_error when the endpoint's TLS files cannot be loaded.
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const ClientOptions& options() const { return options_; }
  // The negotiated version, once negotiate() (or the first request) succeeded.
  std::optional<ApiVersion> api_version() const { return version_; }

  // GET /_ping: min(engine's Api-Version, kMaxApiVersion); unsupported_version
  // when the engine is older than kMinApiVersion.
  boost::asio::awaitable<Result<ApiVersion>> negotiate();

  // GET /v<version><path> as JSON, for what has no typed read.
  // `path` includes its query: "/info", "/services?status=true".
  boost::asio::awaitable<Result<nlohmann::json>> get_json(std::string_view path);

  boost::asio::awaitable<Result<std::vector<reconcile::Node>>> nodes(const Filters& filters = {});
  boost::asio::awaitable<Result<std::vector<reconcile::Service>>> services(
      const Filters& filters = {});
  // e.g. {{"service", {"web"}}, {"node", {node_id}}, {"desired-state", {"running"}}}
  // `keep`, when set: only the tasks it takes are kept, the others dropped as
  // they are read (a swarm lists every running task; a caller may want few).
  using TaskFilter = std::function<bool(const reconcile::Task&)>;
  boost::asio::awaitable<Result<std::vector<reconcile::Task>>> tasks(const Filters& filters = {},
                                                                     TaskFilter keep = {});
  boost::asio::awaitable<Result<std::vector<reconcile::Config>>> configs(
      const Filters& filters = {});

  // GET /nodes/{id}: its spec and version, for update_node.
  boost::asio::awaitable<Result<NodeSpec>> node_spec(std::string_view id);
  // POST /nodes/{id}/update?version=N: replaces the node's spec (a manager only).
  boost::asio::awaitable<Result<void>> update_node(std::string_view id, const NodeSpec& node);

  // GET /images/json: the images present on this engine.
  boost::asio::awaitable<Result<std::vector<reconcile::Image>>> images();
  // GET /images/{name}/json: one image by name, reference or id; not_found if absent.
  boost::asio::awaitable<Result<reconcile::Image>> inspect_image(std::string_view name);
  // GET /containers/json?all=true: every container, running or not.
  boost::asio::awaitable<Result<std::vector<reconcile::Container>>> containers();
  // DELETE /images/{name}.
  boost::asio::awaitable<Result<void>> remove_image(std::string name, bool force = false);

  // GET /distribution/{reference}/json: resolves a reference at its registry.
  boost::asio::awaitable<Result<Distribution>> distribution(std::string_view reference,
                                                            std::string_view registry_auth = {});

  // POST /images/create: pulls one tag or digest, calling on_progress per
  // progress line. Fails with the engine's error whether it answers with an
  // error status (404 "manifest for ... not found") or reports the error inside
  // the progress stream (pull_failed). Bounded by pull_timeout as a whole and
  // pull_idle_timeout between lines. Throws std::invalid_argument without a
  // tag: the engine would pull every tag of the repository.
  boost::asio::awaitable<Result<PullResult>> pull(PullRequest request,
                                                  PullHandler on_progress = {});

  // GET /events: calls on_event per event until the stream ends, and returns
  // why it ended: connection_lost when the engine went away, bad_response for
  // a malformed or oversized line, cancelled when the caller cancelled (e.g.
  // `co_await (follow_events(...) || stop.async_wait())`). Reconnect with
  // since_nano set to the last event's time_nano. No overall timeout.
  boost::asio::awaitable<Error> follow_events(EventOptions options, EventHandler on_event);

 private:
  boost::asio::awaitable<Result<std::string>> versioned(std::string_view path);
  // GET `path` and `decode` its body: (std::string_view) -> Expected<T>, as
  // json_of and list_of in client.cpp make them.
  template <class T, class Decode>
  boost::asio::awaitable<Result<T>> get(std::string path, Decode decode,
                                        std::string registry_auth = {});
  http::Call call(std::string_view method, std::string_view target) const;
  // A bounded request through the HTTP layer, its errors in engine words.
  boost::asio::awaitable<Result<http::Reply>> send(const http::Call& call, http::Request request);

  ClientOptions options_;
  std::unique_ptr<http::Client> http_;
  std::optional<ApiVersion> version_;
};

// Runs one coroutine to completion on a private io_context, for the CLI's
// one-shot commands and for tests: run_blocking(client.nodes()). Never call it
// from inside a coroutine.
template <class T>
T run_blocking(boost::asio::awaitable<T> operation) {
  boost::asio::io_context context;
  auto result = boost::asio::co_spawn(context, std::move(operation), boost::asio::use_future);
  context.run();
  return result.get();
}

}  // namespace swarm_prepull::engine
