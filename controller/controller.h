// The controller's loops and its HTTP API, a thin layer around State: a
// reconcile loop (at most four engine list calls per pass, a periodic resync
// of all four, passes requested by swarm events that read what they name),
// an events loop (reconnects with backoff and reconciles at once after a
// reconnect), and the agent API of docs/agent-api.md on http::Server.
// Everything runs on one io_context thread; nothing here needs a lock.
#pragma once

#include <prometheus/registry.h>
#include <spdlog/logger.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "controller/api_requests.h"
#include "controller/cache_fills.h"
#include "controller/node_holds.h"
#include "controller/registry_recovery.h"
#include "controller/report_binding.h"
#include "controller/state.h"
#include "controller/swarm_reads.h"
#include "controller/tag_refresh.h"
#include "controller/warm.h"
#include "engine/client.h"
#include "engine/registry_auth.h"
#include "http/server.h"
#include "metrics/metrics.h"
#include "reconcile/snapshot.h"

namespace swarm_prepull::controller {

namespace net = boost::asio;

// Whom a node's status report is accepted from (docs/agent-api.md, "Whose
// report counts"): any holder of the token, or only the agent task that
// swarm runs on that node, known by its address on the agents' network.
enum class ReportBinding { task_address, none };

// Who may see the status page (GET /, controller/status_page.h): no one (no
// route), anyone (as /metrics, the default), or holders of the token.
enum class StatusPage { off, open, token };

// When a pass asked for by an event at `now` is due: at once when the last
// pass that events asked for started a debounce window or more ago (the
// leading edge: a change is acted on without waiting), else when that window
// ends, so a burst of events costs the pass at its start and at most one more
// per window. Only passes that took marked reads count (events', a refused
// report's tasks, a failed pass's left due): the resync and a busy swarm's
// pass every second would hold an event back for nothing.
Clock::time_point event_pass_due(Clock::time_point now, Clock::time_point last_event_pass_started,
                                 std::chrono::milliseconds debounce);

struct ControllerOptions {
  net::ip::tcp::endpoint listen{net::ip::make_address("0.0.0.0"), 7963};
  std::string token;  // the agents' bearer token; required
  std::chrono::milliseconds resync_interval{std::chrono::seconds(30)};
  // The resync while swarm starts tasks or updates a service: tasks have no
  // events, and a node learns only from a pass which images its starting
  // tasks need. Never sooner than 4 times the last pass took.
  std::chrono::milliseconds busy_resync_interval{std::chrono::seconds(1)};
  // An event after a quiet spell reconciles at once; further events within
  // this window of the start of the last pass that took marked reads
  // coalesce into one more pass at its end.
  std::chrono::milliseconds event_debounce{std::chrono::milliseconds(150)};
  // Longest long poll (the agent's `wait` is capped to it).
  std::chrono::milliseconds max_wait{std::chrono::seconds(60)};
  std::uint32_t max_parallel_node_pulls = 0;
  std::uint32_t max_pulls_per_registry = 0;
  // New grants in a registry that answered 429 pause this long, doubling.
  std::chrono::milliseconds registry_backoff_base{std::chrono::seconds(5)};
  std::chrono::milliseconds registry_backoff_max{std::chrono::minutes(5)};
  std::chrono::milliseconds agent_stale_after{std::chrono::seconds(90)};
  // Backoff of the events stream's reconnects, doubled up to the max.
  std::chrono::milliseconds events_backoff_min{std::chrono::milliseconds(250)};
  std::chrono::milliseconds events_backoff_max{std::chrono::seconds(10)};
  http::ServerOptions server;  // the bearer token is filled in from the above
  // Warm requests: how an image is resolved before any node pulls it (default:
  // the engine's GET /distribution/{name}/json; a seam for tests), how many
  // resolutions run at once, and how long one may take.
  std::function<net::awaitable<engine::Result<engine::Distribution>>(std::string)> resolve;
  std::size_t resolve_concurrency = 4;
  // A docker config.json with credentials for the registries the default
  // resolve asks (re-read when it changes); empty: anonymous.
  std::string registry_auth_file;
  std::chrono::milliseconds resolve_timeout{std::chrono::seconds(10)};
  // How often the desired tags without a digest are resolved again, so that
  // nodes follow a tag that moved (controller/tag_refresh.h); 0: never (warm
  // requests still refresh the tags they resolve).
  std::chrono::milliseconds tag_refresh_interval{std::chrono::minutes(5)};
  std::size_t max_warm_requests = 256;
  // While a node's pull failed with network or timeout, its registry is
  // probed this often (controller/registry_recovery.h).
  std::chrono::milliseconds registry_probe_interval{std::chrono::seconds(2)};
  ReportBinding report_binding = ReportBinding::task_address;
  // The agents' service; empty: every service labelled
  // io.swarm-prepull.component=agent (as manifests/stack.yml deploys it).
  std::string agent_service;
  StatusPage status_page = StatusPage::open;
  // A node that joins is paused until it holds the images of its running
  // services, at most this long (reconcile/node_hold.h); 0: off.
  std::chrono::seconds hold_new_nodes{0};
  // --pull-through ORIGIN=CACHE (controller/cache_fills.h): images of ORIGIN
  // are copied into CACHE first and nodes pull them from there.
  std::vector<PullThrough> pull_through;
  std::size_t max_cache_copies = 2;                                     // copies under way at once
  std::chrono::milliseconds cache_copy_retry{std::chrono::minutes(1)};  // after a failed copy
  std::chrono::milliseconds cache_copy_timeout{std::chrono::minutes(30)};  // one copy, all blobs
  // A copy done is checked again this long after (a HEAD of its manifest),
  // and made again when the cache lost it.
  std::chrono::milliseconds cache_recheck_interval{std::chrono::minutes(5)};
};

class Controller {
 public:
  Controller(net::io_context& context, engine::Client& client, ControllerOptions options,
             std::shared_ptr<spdlog::logger> logger, prometheus::Registry& registry);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Binds the HTTP listener (throws on failure) and starts the loops.
  net::ip::tcp::endpoint start();

  // Graceful stop: the loops end, long polls answer at once, the server
  // finishes in-flight requests within its stop_timeout. Idempotent.
  net::awaitable<void> stop();

  // Publishes a plan as a reconcile pass does (bumps, wakes long polls,
  // updates metrics); the reconcile loop's last step, public for tests.
  Changes apply_plan(reconcile::Plan plan);

  // Keeps the swarm's state and publishes its plan with the warm requests
  // placed in it; a reconcile pass's last step, public for tests.
  Changes apply_snapshot(reconcile::Snapshot snapshot);

  // Keeps where each node's agent task is (the agent services' running tasks);
  // a reconcile pass's step, public for tests.
  void apply_agent_tasks(const std::vector<reconcile::Task>& tasks);

  // Resolves every desired tag without a digest and publishes what moved (the
  // tag refresh loop's step, public for tests).
  net::awaitable<void> refresh_tags();
  // The digests the tags were last resolved to (for tests).
  const TagDigests& tag_digests() const { return tag_digests_; }

  // Drops expired warm requests and resolve failures (the loop calls it every
  // second); public for tests.
  void expire_warm_requests(Clock::time_point now);

  State& state() { return state_; }
  // Where each node's agent task is, as the last pass read it (for tests).
  const AgentAddresses& agent_addresses() const { return agent_addresses_; }
  // Long polls being held now (for tests).
  std::size_t long_polls() const { return waiters_.size(); }
  bool stopping() const { return stopping_; }

  // The agent API's route table (controller/api_routes.cpp): each route with
  // who may call it. Public for the test that walks every route.
  http::Router routes();

 private:
  net::awaitable<http::Response> get_healthz(const http::RequestContext& context);
  net::awaitable<http::Response> get_metrics(const http::RequestContext& context);
  net::awaitable<http::Response> get_images(const http::RequestContext& context);
  // GET /: the status page (controller/status_listing.cpp).
  net::awaitable<http::Response> get_status_page(const http::RequestContext& context);
  // What GET /v1/images answers (after the first reconcile): readiness, and
  // for the status page the nodes, services, presence and warm requests.
  // `only` (?refs=): these images alone, without the nodes and warm requests.
  api::ImagesListing images_listing(const RefSet* only = nullptr);
  // The status page's fields of the listing (controller/status_listing.cpp);
  // `notes`: agent notes already computed, by node id.
  void add_status_fields(api::ImagesListing& listing, std::map<std::string, std::string>& notes,
                         Clock::time_point now, const RefSet* only);
  net::awaitable<http::Response> get_desired(const http::RequestContext& context);
  net::awaitable<http::Response> post_status(const http::RequestContext& context);
  net::awaitable<http::Response> post_warm(const http::RequestContext& context);
  net::awaitable<std::vector<engine::Result<engine::Distribution>>> resolve_all(
      const std::vector<std::string>& refs);
  // X-Registry-Auth for resolving `ref`, from --registry-auth-file.
  std::string registry_auth_for(std::string_view ref);
  // Why node_id's agent is not heard from, for GET /v1/images; empty while it is.
  std::string agent_note(const std::string& node_id, Clock::time_point now) const;
  // The plan of the last snapshot with the warm requests, published.
  Changes republish();

  // Runs a task of the controller's: stop() waits for it like for the loops.
  void spawn(net::awaitable<void> task);
  // Starts the registry probes due now (controller/registry_recovery.h).
  void probe_registries();
  net::awaitable<void> probe_registry(std::string registry, std::string ref);
  net::awaitable<void> reconcile_loop();
  net::awaitable<void> events_loop();
  net::awaitable<void> agents_loop();
  net::awaitable<void> tag_refresh_loop();
  // --hold-new-nodes: the steps the last snapshot's nodes need, applied; after
  // each pass and every second (a held node is released when its agent's
  // report says it is warm, and reports start no pass).
  net::awaitable<void> hold_loop();
  net::awaitable<void> hold_new_nodes();
  // What apply_hold did: the step took effect now (stop_watching always
  // does), the node's spec no longer called for it (someone else decided, or
  // this controller did a moment ago from a snapshot older than the node), or
  // the engine refused or failed.
  enum class HoldApplied { done, not_called_for, failed };
  // Applies one step to the node's spec as the engine has it now, if that
  // spec still calls for it.
  net::awaitable<HoldApplied> apply_hold(const NodeHolds::Step& step);
  // A resolution of tag `ref` to `digest`: counts and logs a move; true when
  // the table changed what nodes are given (publish_tag_digests() then).
  bool note_tag_digest(const std::string& ref, const std::string& digest);
  void publish_tag_digests();
  // Resolves `refs` (tags), records what they name and publishes it.
  net::awaitable<void> resolve_tags(const std::vector<std::string>& refs);
  // The plan's images whose digest is known (their own, or their tag's last
  // resolution): what the caches may hold. With the tag refresh on, a tag of
  // a cached origin whose digest is not known yet (nor failing) is wanted as
  // resolving: held until resolve_tags_for_caches() learns it.
  CacheWants cache_candidates(const reconcile::Plan& plan) const;
  // Resolves the tags of `wanted` that wait for their digest at once, rather
  // than at the next refresh; one such resolution at a time.
  void start_resolving_for_caches(const CacheWants& wanted);
  net::awaitable<void> resolve_tags_for_caches(std::vector<std::string> refs);
  // Starts the copies into the caches that are due and publishes what the
  // caches hold; a no-op without --pull-through.
  void fill_caches();
  net::awaitable<void> fill_cache(CacheCopy copy);
  // Re-reads --registry-auth-file at most once a second.
  void reload_credentials();
  net::awaitable<void> reconcile_once();
  // Keeps the addresses of the tasks of `agent_services` (their ids) among
  // `tasks` (--report-binding task-address).
  void bind_agent_tasks(const std::vector<std::string>& agent_services,
                        const std::vector<reconcile::Task>& tasks);
  // nullopt when the report for `node_id` from `peer` counts (--report-binding).
  std::optional<std::string> report_refusal(const std::string& node_id, const std::string& peer);
  // One list call of a pass, counted; nullopt with `failure` set when it
  // failed, nullopt when stop() was called.
  template <class List>
  net::awaitable<std::optional<List>> read_list(prometheus::Counter& requests,
                                                net::awaitable<engine::Result<List>> call,
                                                std::string& failure);
  // Moves the next pass earlier, to `at` unless one is due sooner.
  void move_next_pass(Clock::time_point at);
  // Moves the next pass earlier, to now + delay unless one is due sooner, and
  // has it read every list.
  void request_reconcile(std::chrono::milliseconds delay);
  // When the next full pass comes while swarm starts tasks: every
  // --busy-resync-interval, but at most a fifth of the controller's time
  // goes to full reads of a big swarm.
  std::chrono::milliseconds busy_resync_delay() const;
  // For an event, or whatever needs only `reads`: at once (leading edge), or
  // at the end of the debounce window.
  void request_event_reconcile(const SwarmReads& reads);

  // Completes when stop() is called (at once if it was).
  net::awaitable<void> stopped();
  // Sleeps until `deadline` or until stop(); false when stopped.
  net::awaitable<bool> sleep_until(Clock::time_point deadline);
  // Waits until the node's generation may have moved, `deadline`, or stop().
  // When wake() cut the wait short: when it did.
  net::awaitable<std::optional<Clock::time_point>> wait_for_change(const std::string& node_id,
                                                                   Clock::time_point deadline);
  void wake(const std::string& node_id);

  // Wakes long polls and counts hits and misses after State changed (readiness
  // metrics are the callers': a report rarely changes them).
  void apply(const Changes& changes);
  void update_readiness_metrics();
  void update_agent_metrics(bool log_transitions);
  // Resumes the registries whose rate-limit pause is over; their gauges, and
  // one log line when a registry's pause starts or ends.
  void update_registries();

  net::io_context& context_;
  engine::Client& client_;
  ControllerOptions options_;
  std::shared_ptr<spdlog::logger> logger_;
  prometheus::Registry& registry_;
  metrics::ControllerMetrics metrics_;
  prometheus::Counter& requests_ping_;
  prometheus::Counter& requests_nodes_;
  prometheus::Counter& requests_services_;
  prometheus::Counter& requests_configs_;
  prometheus::Counter& requests_events_;
  prometheus::Counter& requests_distribution_;
  engine::RegistryAuthFile registry_credentials_;
  std::optional<Clock::time_point> registry_credentials_read_;
  prometheus::Counter& requests_tasks_;

  ApiRequestRecorder api_requests_;
  State state_;
  std::optional<reconcile::Snapshot> snapshot_;  // the last one a pass read
  AgentAddresses agent_addresses_;               // the last ones a pass read
  bool agent_service_missing_logged_ = false;
  // A refused report asks for an early pass (its task may be new), at most
  // this often: a caller with the token must not make the controller poll.
  Clock::time_point last_binding_refresh_{};
  WarmRequests warm_;
  RegistryRecovery registry_recovery_;
  TagDigests tag_digests_;
  bool resolving_for_caches_ = false;  // resolve_tags_for_caches() runs
  NodeHolds holds_;
  CacheFills cache_fills_;
  bool holding_ = false;  // hold_new_nodes() runs (from a pass or hold_loop)
  std::unique_ptr<http::Server> server_;
  net::steady_timer stop_signal_;      // never expires; cancelled by stop()
  net::steady_timer loops_done_;       // never expires; cancelled when the last loop ends
  net::steady_timer reconcile_timer_;  // when the next pass is due
  DueReads due_reads_;                 // what it reads
  Clock::duration last_full_pass_took_{};
  Clock::time_point last_event_pass_started_{};  // of the last pass that took marked reads
  // Reports or a publish changed what readiness counts since the gauges were
  // last set: refreshed once a second and before a scrape, not inside the
  // publish, ahead of the answers of the long polls it wakes.
  bool readiness_stale_ = false;
  // A long poll being held: its timer, and when wake() first cut it short
  // (swarm_prepull_long_poll_wake_seconds counts from then).
  struct Waiter {
    net::steady_timer* timer;
    std::optional<Clock::time_point> woken{};
  };
  std::multimap<std::string, Waiter> waiters_;  // long polls by node id
  std::vector<std::string> last_plan_errors_;
  std::set<std::string> registries_paused_;  // as update_registries() last logged them
  int consecutive_failures_ = 0;
  bool stopping_ = false;
  bool started_ = false;
  int loops_running_ = 0;  // the loops and the tasks spawn() started
};

}  // namespace swarm_prepull::controller
