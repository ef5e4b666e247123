#include "controller/controller.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <variant>

#include "api/duration.h"
#include "compose/imageset_document.h"
#include "reconcile/constraint.h"
#include "reconcile/plan.h"
#include "reconcile/reference.h"
#include "reconcile/snapshot.h"
#include "registry/copy.h"

namespace swarm_prepull::controller {
namespace {

// Swarm is starting tasks or rolling a service over (reconcile/plan.h).
bool swarm_busy(const reconcile::Snapshot& snapshot) {
  return std::any_of(snapshot.tasks.begin(), snapshot.tasks.end(), reconcile::task_starting) ||
         std::any_of(snapshot.services.begin(), snapshot.services.end(),
                     reconcile::service_updating);
}

using namespace net::experimental::awaitable_operators;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t unix_now_nano() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::uint64_t wall_ms_now() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// A message of the agent API as a response body (api/messages.h encodes it).
template <typename Message>
http::Response message_response(const http::Request& request, http::status status,
                                const Message& message) {
  return http::make_response(request, status, api::encode(message) + "\n", "application/json");
}

std::vector<std::string> error_lines(const reconcile::Plan& plan) {
  std::vector<std::string> lines;
  for (const auto& error : plan.errors) lines.push_back(error.service + ": " + error.message);
  return lines;
}

}  // namespace

Controller::Controller(net::io_context& context, engine::Client& client, ControllerOptions options,
                       std::shared_ptr<spdlog::logger> logger, prometheus::Registry& registry)
    : context_(context),
      client_(client),
      options_(std::move(options)),
      logger_(std::move(logger)),
      registry_(registry),
      metrics_(registry),
      requests_ping_(metrics_.common.engine_requests.at("/_ping")),
      requests_nodes_(metrics_.common.engine_requests.at("/nodes")),
      requests_services_(metrics_.common.engine_requests.at("/services")),
      requests_configs_(metrics_.common.engine_requests.at("/configs")),
      requests_events_(metrics_.common.engine_requests.at("/events")),
      requests_distribution_(metrics_.common.engine_requests.at("/distribution")),
      registry_credentials_(options_.registry_auth_file),
      requests_tasks_(metrics_.common.engine_requests.at("/tasks")),
      api_requests_(metrics_.api_requests, logger_),
      state_(StateOptions{.max_parallel_node_pulls = options_.max_parallel_node_pulls,
                          .max_pulls_per_registry = options_.max_pulls_per_registry,
                          .registry_backoff_base = options_.registry_backoff_base,
                          .registry_backoff_max = options_.registry_backoff_max,
                          .agent_stale_after = options_.agent_stale_after,
                          .wall_ms = {}}),
      warm_(options_.max_warm_requests),
      registry_recovery_(options_.registry_probe_interval),
      holds_(options_.hold_new_nodes),
      cache_fills_(options_.pull_through, options_.cache_copy_retry,
                   options_.cache_recheck_interval),
      stop_signal_(context, Clock::time_point::max()),
      loops_done_(context, Clock::time_point::max()),
      reconcile_timer_(context),
      due_reads_(options_.resync_interval) {
  options_.server.bearer_token = options_.token;
  options_.server.on_answered = [this](const http::Answered& answered) {
    api_requests_.record(answered);
  };
  if (!options_.resolve) {
    options_.resolve = [this](std::string ref) {
      requests_distribution_.Increment();
      return client_.distribution(ref, registry_auth_for(ref));
    };
  }
  options_.resolve_concurrency = std::max<std::size_t>(options_.resolve_concurrency, 1);
}

Controller::~Controller() = default;

void Controller::reload_credentials() {
  if (registry_credentials_.path().empty()) return;
  // Rotated credentials take effect within a second, without a file read per
  // resolution when a pass resolves many tags.
  const auto now = Clock::now();
  if (!registry_credentials_read_ || now - *registry_credentials_read_ >= std::chrono::seconds(1)) {
    registry_credentials_read_ = now;
    registry_credentials_.reload(*logger_);
  }
}

std::string Controller::registry_auth_for(std::string_view ref) {
  if (registry_credentials_.path().empty()) return {};
  reload_credentials();
  const auto reference = reconcile::parse_reference(ref);
  return reference ? registry_credentials_.header_for(reference->domain) : std::string{};
}

net::ip::tcp::endpoint Controller::start() {
  server_ =
      std::make_unique<http::Server>(context_.get_executor(), routes(), options_.server, logger_);
  const auto bound = server_->listen(options_.listen);
  started_ = true;
  for (auto loop :
       {&Controller::reconcile_loop, &Controller::events_loop, &Controller::agents_loop}) {
    spawn((this->*loop)());
  }
  if (options_.tag_refresh_interval.count() > 0) spawn(tag_refresh_loop());
  if (options_.hold_new_nodes.count() > 0) spawn(hold_loop());
  logger_->info(
      "controller listening address={}:{} resync_interval={}ms "
      "max_parallel_node_pulls={} max_pulls_per_registry={} agent_stale_after={}ms "
      "tag_refresh_interval={} hold_new_nodes={}",
      bound.address().to_string(), bound.port(), options_.resync_interval.count(),
      options_.max_parallel_node_pulls, options_.max_pulls_per_registry,
      options_.agent_stale_after.count(),
      options_.tag_refresh_interval.count() > 0
          ? std::to_string(options_.tag_refresh_interval.count()) + "ms"
          : std::string("off"),
      options_.hold_new_nodes.count() > 0 ? std::to_string(options_.hold_new_nodes.count()) + "s"
                                          : std::string("off"));
  return bound;
}

void Controller::spawn(net::awaitable<void> task) {
  ++loops_running_;
  net::co_spawn(context_, std::move(task), [this](std::exception_ptr error) {
    if (--loops_running_ == 0) loops_done_.cancel();
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& failure) {
        logger_->critical("controller task failed: {}", failure.what());
      }
    }
  });
}

net::awaitable<void> Controller::stop() {
  if (stopping_) co_return;
  stopping_ = true;
  stop_signal_.cancel();
  reconcile_timer_.cancel();
  for (auto& [node, waiter] : waiters_) waiter.timer->cancel();
  if (server_) co_await server_->stop();
  // The loops saw stop_signal_ (every wait of theirs is `|| stopped()`) and
  // end within a turn or two; the last one cancels loops_done_.
  if (loops_running_ > 0) co_await loops_done_.async_wait(use_tuple);
  logger_->info("controller stopped");
}

net::awaitable<void> Controller::stopped() {
  if (stopping_) co_return;
  co_await stop_signal_.async_wait(use_tuple);
}

net::awaitable<bool> Controller::sleep_until(Clock::time_point deadline) {
  if (stopping_) co_return false;
  net::steady_timer timer(context_, deadline);
  co_await (timer.async_wait(use_tuple) || stopped());
  co_return !stopping_;
}

net::awaitable<std::optional<Clock::time_point>> Controller::wait_for_change(
    const std::string& node_id, Clock::time_point deadline) {
  if (stopping_) co_return std::nullopt;
  net::steady_timer timer(context_, deadline);
  const auto entry = waiters_.emplace(node_id, Waiter{&timer});
  // Completes at the deadline, or early (operation_aborted) when wake() or
  // stop() cancels the timer; the caller re-reads the state either way.
  co_await timer.async_wait(use_tuple);
  const auto woken = entry->second.woken;
  waiters_.erase(entry);
  co_return woken;
}

void Controller::wake(const std::string& node_id) {
  const auto now = Clock::now();
  auto [first, last] = waiters_.equal_range(node_id);
  for (auto it = first; it != last; ++it) {
    if (!it->second.woken) it->second.woken = now;
    it->second.timer->cancel();
  }
}

void Controller::move_next_pass(Clock::time_point at) {
  if (at < reconcile_timer_.expiry()) reconcile_timer_.expires_at(at);  // wakes the loop
}

void Controller::request_reconcile(std::chrono::milliseconds delay) {
  if (stopping_) return;
  const auto at = Clock::now() + delay;
  due_reads_.mark_all_at(at);
  move_next_pass(at);
}

std::chrono::milliseconds Controller::busy_resync_delay() const {
  return std::max(options_.busy_resync_interval,
                  std::chrono::ceil<std::chrono::milliseconds>(4 * last_full_pass_took_));
}

Clock::time_point event_pass_due(Clock::time_point now, Clock::time_point last_event_pass_started,
                                 std::chrono::milliseconds debounce) {
  return std::max(now, last_event_pass_started + debounce);
}

void Controller::request_event_reconcile(const SwarmReads& reads) {
  if (stopping_) return;
  due_reads_.mark(reads);
  move_next_pass(event_pass_due(Clock::now(), last_event_pass_started_, options_.event_debounce));
}

net::awaitable<void> Controller::reconcile_loop() {
  while (!stopping_) {
    // Armed before the pass: events during it move it earlier, not lost.
    reconcile_timer_.expires_after(options_.resync_interval);
    co_await reconcile_once();
    co_await hold_new_nodes();
    for (;;) {
      co_await reconcile_timer_.async_wait(use_tuple);
      if (stopping_) co_return;
      if (Clock::now() >= reconcile_timer_.expiry()) break;  // else moved: wait again
    }
  }
}

template <class List>
net::awaitable<std::optional<List>> Controller::read_list(prometheus::Counter& requests,
                                                          net::awaitable<engine::Result<List>> call,
                                                          std::string& failure) {
  requests.Increment();
  auto result = co_await (std::move(call) || stopped());
  if (stopping_) co_return std::nullopt;
  auto& list = std::get<0>(result);
  if (!list) {
    failure = list.error().to_string();
    co_return std::nullopt;
  }
  co_return std::move(list).value();
}

net::awaitable<void> Controller::reconcile_once() {
  const auto started = Clock::now();
  if (due_reads_.marked()) last_event_pass_started_ = started;
  const SwarmReads reads = due_reads_.take(started, snapshot_.has_value());
  std::string failure;
  // At most four list calls (nodes, services, tasks, configs), whatever the
  // size of the swarm, one after the other; each also ends when stop() is
  // called. The first failure ends the pass.
  if (!client_.api_version()) {
    requests_ping_.Increment();
    auto version = co_await (client_.negotiate() || stopped());
    if (stopping_) co_return;
    if (auto& result = std::get<0>(version); !result) failure = result.error().to_string();
  }
  std::optional<std::vector<reconcile::Node>> nodes;
  if (failure.empty() && reads.nodes) {
    nodes = co_await read_list(requests_nodes_, client_.nodes(), failure);
  }
  std::optional<std::vector<reconcile::Service>> services;
  if (failure.empty() && reads.services && !stopping_) {
    services = co_await read_list(requests_services_, client_.services(), failure);
  }
  std::optional<std::vector<reconcile::Task>> tasks;
  std::vector<std::string> agent_services;
  if (failure.empty() && reads.tasks && !stopping_) {
    // The tasks that should run: which ones swarm is starting (their nodes'
    // agents pull those images first) and where the agents run. Only those
    // are kept: the engine lists every running task (10,000 on 1,000 nodes
    // with ten global services), and nothing else here reads them.
    engine::Filters filters;
    filters["desired-state"] = {std::string("running")};
    if (options_.report_binding == ReportBinding::task_address) {
      agent_services =
          agent_service_ids(services ? *services : snapshot_->services, options_.agent_service);
    }
    auto wanted = [agent_services](const reconcile::Task& task) {
      return reconcile::task_starting(task) ||
             std::ranges::find(agent_services, task.service_id) != agent_services.end();
    };
    tasks = co_await read_list(requests_tasks_, client_.tasks(filters, wanted), failure);
  }
  std::optional<std::vector<reconcile::Config>> configs;
  if (failure.empty() && reads.configs && !stopping_) {
    configs = co_await read_list(requests_configs_, client_.configs(), failure);
  }
  if (stopping_) co_return;
  due_reads_.pass_ended(reads, failure.empty());
  // The next full read (the resync, an event's follow-up) is due by then;
  // after a failure, not sooner than now: a failing engine is asked again at
  // the resync or an event, never in a loop.
  if (failure.empty() || due_reads_.full_read_at() > Clock::now()) {
    move_next_pass(due_reads_.full_read_at());
  }
  if (!failure.empty()) {
    metrics_.common.reconcile_duration.Observe(
        std::chrono::duration<double>(Clock::now() - started).count());
    metrics_.common.reconcile_errors.Increment();
    // One warning when passes start failing, not one per pass while the engine is down.
    if (consecutive_failures_++ == 0) {
      logger_->warn("reconcile failed, keeping the last plan: {}", failure);
    } else {
      logger_->debug("reconcile failed again (#{}): {}", consecutive_failures_, failure);
    }
    co_return;
  }
  if (tasks && options_.report_binding == ReportBinding::task_address) {
    bind_agent_tasks(agent_services, *tasks);
  }
  // The lists not read are the last snapshot's, moved: this one replaces it.
  auto snapshot = reads.is_full() ? reconcile::Snapshot{} : std::move(*snapshot_);
  if (nodes) snapshot.nodes = std::move(*nodes);
  if (services) snapshot.services = std::move(*services);
  if (tasks) snapshot.tasks = std::move(*tasks);
  if (configs) snapshot.configs = std::move(*configs);
  const bool first = !state_.has_plan();
  const std::size_t service_count = snapshot.services.size();
  warm_.expire(Clock::now());
  const auto changes = apply_snapshot(std::move(snapshot));
  auto errors = error_lines(state_.plan());
  const std::size_t image_count = state_.plan().images.size();
  const std::size_t node_count = state_.plan().nodes.size();
  if (consecutive_failures_ > 0) {
    logger_->info("reconcile succeeded again after {} failed pass(es)", consecutive_failures_);
    consecutive_failures_ = 0;
  }
  const auto took = Clock::now() - started;
  const double seconds = std::chrono::duration<double>(took).count();
  metrics_.common.reconcile_duration.Observe(seconds);
  if (reads.is_full()) last_full_pass_took_ = took;
  // Tasks have no events: while swarm starts tasks or rolls a service over,
  // passes come often enough for nodes to learn what their starting tasks
  // need.
  if (swarm_busy(*snapshot_)) request_reconcile(busy_resync_delay());
  metrics_.common.last_reconcile_success.Set(unix_now());
  if (first || !changes.bumped_nodes.empty()) {
    // A rollout on a big swarm changes every node: the line names a few.
    constexpr std::size_t named_at_most = 20;
    std::string hostnames;
    std::size_t named = 0;
    for (const auto& id : changes.bumped_nodes) {
      if (named++ == named_at_most) {
        hostnames += ",+" + std::to_string(changes.bumped_nodes.size() - named_at_most) + " more";
        break;
      }
      const auto* desired = state_.desired(id);
      hostnames += (hostnames.empty() ? "" : ",") +
                   (desired != nullptr && !desired->hostname.empty() ? desired->hostname : id);
    }
    logger_->info(
        "reconcile changed nodes={} changed=[{}] services={} images={} generation={} read={} "
        "took_ms={:.1f}",
        node_count, hostnames, service_count, image_count, state_.generation(), to_string(reads),
        seconds * 1000);
  }
  if (errors != last_plan_errors_) {
    for (const auto& line : errors) logger_->warn("plan error {}", line);
    last_plan_errors_ = std::move(errors);
  }
}

void Controller::bind_agent_tasks(const std::vector<std::string>& agent_services,
                                  const std::vector<reconcile::Task>& tasks) {
  if (agent_services.empty()) {
    // Every report is refused until the agents are deployed.
    if (!agent_service_missing_logged_) {
      logger_->warn(
          "no agent service found ({}): status reports are refused until one runs "
          "(--report-binding task-address)",
          options_.agent_service.empty()
              ? std::string("none labelled io.swarm-prepull.component=agent")
              : "none named " + options_.agent_service);
      agent_service_missing_logged_ = true;
    }
    agent_addresses_ = AgentAddresses{};
    return;
  }
  agent_service_missing_logged_ = false;
  std::vector<reconcile::Task> agent_tasks;
  for (const auto& task : tasks) {
    if (std::ranges::find(agent_services, task.service_id) != agent_services.end())
      agent_tasks.push_back(task);
  }
  apply_agent_tasks(agent_tasks);
}
void Controller::apply_agent_tasks(const std::vector<reconcile::Task>& tasks) {
  agent_addresses_ = AgentAddresses(tasks);
}

std::optional<std::string> Controller::report_refusal(const std::string& node_id,
                                                      const std::string& peer) {
  if (options_.report_binding == ReportBinding::none) return std::nullopt;
  auto refusal = agent_addresses_.refusal(node_id, peer);
  if (refusal && Clock::now() - last_binding_refresh_ > std::chrono::seconds(5)) {
    // A task swarm just started is not in the last pass's list yet.
    last_binding_refresh_ = Clock::now();
    SwarmReads agent_tasks;
    agent_tasks.tasks = true;
    request_event_reconcile(agent_tasks);
  }
  return refusal;
}

Changes Controller::apply_snapshot(reconcile::Snapshot snapshot) {
  snapshot_ = std::move(snapshot);
  holds_.observe(snapshot_->nodes, unix_seconds());
  metrics_.services_unpinned.Set(static_cast<double>(unpinned_services(snapshot_->services)));
  return republish();
}

Changes Controller::republish() {
  if (!snapshot_) return {};
  // Image-set configs are read here (YAML or JSON) so that reconcile/ sees JSON only.
  auto plan =
      reconcile::desired_images(snapshot_->nodes, snapshot_->services,
                                compose::image_sets(snapshot_->configs), warm_.image_sets());
  reconcile::mark_starting(plan, snapshot_->tasks);
  return apply_plan(std::move(plan));
}

void Controller::expire_warm_requests(Clock::time_point now) {
  const auto failures = warm_.failures().size();
  if (warm_.expire(now)) {
    logger_->info("warm request(s) expired, remaining={}", warm_.size());
    republish();
  } else if (warm_.failures().size() != failures) {
    update_readiness_metrics();
  }
}

Changes Controller::apply_plan(reconcile::Plan plan) {
  // Copies due start before the plan is published, so that no node is
  // granted a pull from the origin that the cache is about to serve.
  std::vector<CacheCopy> copies;
  if (cache_fills_.enabled()) {
    const auto wanted = cache_candidates(plan);
    copies = cache_fills_.start_due(wanted, Clock::now(), options_.max_cache_copies);
    state_.stage_cache_view(cache_fills_.view(wanted));
    start_resolving_for_caches(wanted);
  }
  for (auto& copy : copies) spawn(fill_cache(std::move(copy)));
  auto changes = state_.set_plan(std::move(plan));
  // Long polls of nodes that left the swarm answer 404 now.
  for (auto& [node, waiter] : waiters_) {
    if (state_.desired(node) == nullptr) waiter.timer->cancel();
  }
  apply(changes);
  // Not here: the answers of the long polls just woken come first (a second
  // later at most; a scrape refreshes first). 15 ms at 1,000 nodes.
  readiness_stale_ = true;
  return changes;
}

net::awaitable<void> Controller::events_loop() {
  std::optional<std::int64_t> since;
  auto backoff = options_.events_backoff_min;
  bool first = true;
  while (!stopping_) {
    if (!first) request_reconcile(std::chrono::milliseconds(0));  // events may have been lost
    first = false;
    const auto connected_at = Clock::now();
    const auto connected_nano = unix_now_nano();
    requests_events_.Increment();
    engine::EventOptions event_options;
    event_options.since_nano = since;
    bool seen = false;
    auto ended = co_await (client_.follow_events(event_options, [&](const reconcile::Event& event) {
      since = event.time_nano;
      seen = true;
      logger_->debug("event type={} action={} id={}", event.type, event.action, event.actor_id);
      request_event_reconcile(SwarmReads::for_event(event.type));
      // Swarm starts or moves tasks after such a change, and tasks have no
      // events: a pass that reads everything follows, as while swarm is busy.
      request_reconcile(busy_resync_delay());
    }) || stopped());
    if (stopping_) break;
    if (!seen && !since) since = connected_nano;
    // A stream that worked for a while starts the backoff over.
    if (seen || Clock::now() - connected_at > std::chrono::seconds(30)) {
      backoff = options_.events_backoff_min;
    }
    if (seen || backoff == options_.events_backoff_min) {
      logger_->warn("events stream ended, reconnecting in {}ms: {}", backoff.count(),
                    std::get<0>(ended).to_string());
    } else {
      logger_->debug("events stream failed again, reconnecting in {}ms: {}", backoff.count(),
                     std::get<0>(ended).to_string());
    }
    const bool running = co_await sleep_until(Clock::now() + backoff);
    if (!running) break;
    backoff = std::min(backoff * 2, options_.events_backoff_max);
  }
}

net::awaitable<void> Controller::agents_loop() {
  // (GCC 12 miscompiles co_await in a loop condition: keep it in the body.)
  for (;;) {
    const bool running = co_await sleep_until(Clock::now() + std::chrono::seconds(1));
    if (!running) break;
    update_agent_metrics(true);
    if (readiness_stale_) update_readiness_metrics();
    expire_warm_requests(Clock::now());
    probe_registries();
    update_registries();
  }
}

net::awaitable<void> Controller::hold_loop() {
  for (;;) {
    const bool running = co_await sleep_until(Clock::now() + std::chrono::seconds(1));
    if (!running) break;
    co_await hold_new_nodes();
  }
}

net::awaitable<void> Controller::hold_new_nodes() {
  if (options_.hold_new_nodes.count() <= 0 || !snapshot_ || holding_ || stopping_) co_return;
  holding_ = true;
  const auto now = unix_seconds();
  const auto steps = holds_.steps(snapshot_->nodes, state_, now);
  for (const auto& step : steps) {
    if (stopping_) break;
    const auto applied = co_await apply_hold(step);
    if (applied == HoldApplied::failed) continue;
    holds_.done(step);
    // Counted once per node: a release seen again in a snapshot older than
    // the release finds the node released.
    if (applied == HoldApplied::not_called_for) continue;
    using reconcile::HoldStep;
    if (step.step == HoldStep::release_timeout) metrics_.node_hold_timeouts.Increment();
    if (step.warm &&
        (step.step == HoldStep::release_warm || step.step == HoldStep::stop_watching)) {
      metrics_.node_warm_seconds.Observe(
          static_cast<double>(std::max<std::int64_t>(0, now - step.joined_at)));
    }
  }
  std::size_t held = 0;
  for (const auto& node : snapshot_->nodes) held += reconcile::held_until_warm(node) ? 1 : 0;
  metrics_.nodes_held.Set(static_cast<double>(held));
  holding_ = false;
}

net::awaitable<Controller::HoldApplied> Controller::apply_hold(const NodeHolds::Step& step) {
  using reconcile::HoldStep;
  const std::string label(reconcile::kHoldLabel);
  const std::string name = step.hostname.empty() ? step.node_id : step.hostname;
  if (step.step == HoldStep::stop_watching) {
    logger_->info("new node not held node={} warm={} seconds_since_join={}", name, step.warm,
                  unix_seconds() - step.joined_at);
    co_return HoldApplied::done;
  }
  // The spec as the engine has it now: the snapshot may be a second old, and
  // an operator may have changed the node meanwhile. Swarm refuses the update
  // if the spec changes between the read and the write.
  auto current = co_await client_.node_spec(step.node_id);
  if (!current) {
    logger_->warn("node hold: cannot read node={}: {}", name, current.error().to_string());
    co_return HoldApplied::failed;
  }
  auto& spec = current->spec;
  const std::string availability = spec.value("Availability", std::string());
  const bool labelled =
      spec.contains("Labels") && spec["Labels"].is_object() && spec["Labels"].contains(label);
  std::string action;
  switch (step.step) {
    case HoldStep::pause:
      if (availability != "active" || labelled) co_return HoldApplied::not_called_for;
      spec["Availability"] = "pause";
      spec["Labels"][label] = std::to_string(step.joined_at);
      action = "paused until warm";
      break;
    case HoldStep::release_warm:
    case HoldStep::release_timeout:
      if (!labelled) co_return HoldApplied::not_called_for;
      if (availability == "pause") spec["Availability"] = "active";
      spec["Labels"].erase(label);
      action = step.step == HoldStep::release_warm ? "released: warm" : "released: hold ran out";
      break;
    case HoldStep::forget:
      if (!labelled) co_return HoldApplied::not_called_for;
      spec["Labels"].erase(label);
      action = "hold dropped: availability set by someone else (" + availability + ")";
      break;
    case HoldStep::none:
    case HoldStep::stop_watching:
      co_return HoldApplied::done;
  }
  auto updated = co_await client_.update_node(step.node_id, *current);
  if (!updated) {
    logger_->warn("node hold: cannot update node={} ({}): {}", name, to_string(step.step),
                  updated.error().to_string());
    co_return HoldApplied::failed;
  }
  logger_->info("node {} node={} seconds_since_join={}", action, name,
                unix_seconds() - step.joined_at);
  co_return HoldApplied::done;
}

net::awaitable<void> Controller::tag_refresh_loop() {
  for (;;) {
    // Until the first plan there is no tag to resolve; then one refresh per
    // interval, the first at once (it is not a change: it learns the digests).
    auto next = Clock::now() +
                std::min<Clock::duration>(options_.tag_refresh_interval, std::chrono::seconds(1));
    if (state_.has_plan()) {
      co_await refresh_tags();
      next = Clock::now() + options_.tag_refresh_interval;
    }
    const bool running = co_await sleep_until(next);
    if (!running) break;
  }
}

net::awaitable<void> Controller::refresh_tags() {
  if (stopping_ || !state_.has_plan()) co_return;
  const auto refs = floating_refs(state_.plan());
  tag_digests_.retain(refs);
  co_await resolve_tags(refs);
}

net::awaitable<void> Controller::resolve_tags(const std::vector<std::string>& refs) {
  std::size_t changed = 0, failed = 0;
  if (!refs.empty()) {
    const auto started = Clock::now();
    auto resolved = co_await resolve_all(refs);
    if (stopping_) co_return;
    for (std::size_t i = 0; i < refs.size(); ++i) {
      const auto& result = resolved[i];
      if (result) {
        changed += note_tag_digest(refs[i], result->digest) ? 1 : 0;
        continue;
      }
      ++failed;
      // Once per failing streak, not once per refresh while the registry is away.
      if (tag_digests_.record_failure(refs[i])) {
        const auto* known = tag_digests_.find(refs[i]);
        logger_->warn(
            "tag not resolved, nodes keep its last known digest image={} digest={} reason={}: {}",
            refs[i], known != nullptr ? known->digest : std::string("none"),
            api::to_string(resolve_failure_reason(result.error())), result.error().to_string());
      }
    }
    logger_->debug("tags refreshed tags={} changed={} failed={} took_ms={:.1f}", refs.size(),
                   changed, failed,
                   std::chrono::duration<double, std::milli>(Clock::now() - started).count());
  }
  publish_tag_digests();
}

bool Controller::note_tag_digest(const std::string& ref, const std::string& digest) {
  // A digest that would not parse with the name is the engine's error, not a move.
  const auto pinned = reconcile::parse_reference(ref + "@" + digest);
  if (!pinned || pinned->digest != digest) {
    if (tag_digests_.record_failure(ref)) {
      logger_->warn(
          "tag not resolved, the engine answered a digest that is not one image={} "
          "digest={}",
          ref, api::printable(digest));
    }
    return false;
  }
  const auto* known = tag_digests_.find(ref);
  const std::string previous = known != nullptr ? known->digest : std::string();
  switch (tag_digests_.record(ref, digest, wall_ms_now())) {
    case TagOutcome::moved:
      metrics_.tag_digest_changes.Increment();
      logger_->info("tag moved image={} from={} to={}: nodes pull it again", ref, previous, digest);
      return true;
    case TagOutcome::first:
      logger_->debug("tag resolved image={} digest={}", ref, digest);
      return true;
    case TagOutcome::unchanged:
      break;
  }
  return false;
}

void Controller::publish_tag_digests() {
  const auto changes = state_.set_tag_digests(tag_digests_.digests());
  apply(changes);
  // Which reports count present depends on the digests.
  if (!changes.bumped_nodes.empty()) readiness_stale_ = true;
  fill_caches();  // a tag resolved names content a cache may hold
}

CacheWants Controller::cache_candidates(const reconcile::Plan& plan) const {
  CacheWants wanted;
  for (const auto& image : plan.images) {
    // Canonical refs: name@digest when pinned, else name:tag.
    if (const auto at = image.ref.find('@'); at != std::string::npos) {
      wanted.emplace(image.ref, CacheWant{image.ref.substr(at + 1), image.priority});
    } else if (const auto* tag = tag_digests_.find(image.ref)) {
      wanted.emplace(image.ref, CacheWant{tag->digest, image.priority});
    } else if (options_.tag_refresh_interval.count() > 0 && !tag_digests_.failing(image.ref) &&
               cache_fills_.routed(image.ref)) {
      wanted.emplace(image.ref, CacheWant{{}, image.priority, true});
    }
  }
  return wanted;
}

void Controller::start_resolving_for_caches(const CacheWants& wanted) {
  if (resolving_for_caches_ || stopping_) return;
  std::vector<std::string> refs;
  for (const auto& [ref, want] : wanted) {
    if (want.resolving) refs.push_back(ref);
  }
  if (refs.empty()) return;
  resolving_for_caches_ = true;
  spawn(resolve_tags_for_caches(std::move(refs)));
}

net::awaitable<void> Controller::resolve_tags_for_caches(std::vector<std::string> refs) {
  logger_->debug("resolving tags for the caches tags={}", refs.size());
  co_await resolve_tags(refs);
  resolving_for_caches_ = false;
  // Each ref now has a digest (copied next) or a failure (left to the origin);
  // tags that became desired meanwhile are resolved now.
  fill_caches();
}

void Controller::fill_caches() {
  if (!cache_fills_.enabled() || !state_.has_plan() || stopping_) return;
  const auto wanted = cache_candidates(state_.plan());
  auto copies = cache_fills_.start_due(wanted, Clock::now(), options_.max_cache_copies);
  for (auto& copy : copies) spawn(fill_cache(std::move(copy)));
  start_resolving_for_caches(wanted);
  const auto changes = state_.set_cache_view(cache_fills_.view(wanted));
  apply(changes);
  if (!changes.bumped_nodes.empty()) readiness_stale_ = true;
}

net::awaitable<void> Controller::fill_cache(CacheCopy copy) {
  const PullThrough route = cache_fills_.routes().at(copy.route);
  reload_credentials();
  const auto credential_of =
      [&](const registry::RegistryAddress& address) -> std::optional<engine::RegistryCredential> {
    const auto& known = registry_credentials_.config().registries;
    const auto found = known.find(address.host);
    return found == known.end() ? std::nullopt : std::optional(found->second);
  };
  // An index is copied for the swarm's platforms only.
  std::vector<reconcile::Platform> platforms;
  if (snapshot_) {
    for (const auto& node : snapshot_->nodes) {
      if (node.platform.architecture.empty()) continue;
      if (std::find(platforms.begin(), platforms.end(), node.platform) == platforms.end()) {
        platforms.push_back(node.platform);
      }
    }
  }
  registry::Registry origin(route.origin, credential_of(route.origin));
  registry::Registry cache(route.cache, credential_of(route.cache));
  const std::string image = route.origin.host + "/" + copy.repository + "@" + copy.digest;
  // A check asks the cache alone: the origin is read only when the cache lost
  // the image (Docker Hub counts every manifest GET as a pull).
  const auto held_digest = cache_fills_.checking(copy);
  if (!held_digest) {
    logger_->info("cache fill started image={} cache={}", image, route.cache.to_string());
  }
  const auto started = Clock::now();
  net::steady_timer deadline(context_, options_.cache_copy_timeout);
  const auto timed_out = [&] {
    const auto limit =
        std::chrono::duration_cast<std::chrono::seconds>(options_.cache_copy_timeout).count();
    return http::Call{route.cache.to_string(), "copy " + image}.fail(
        http::errc::timeout, "not done within --cache-copy-timeout " + std::to_string(limit) + "s");
  };
  std::optional<http::Result<registry::CopyReport>> ended;  // set early by a failed check
  if (held_digest) {
    auto outcome = co_await (cache.has_manifest(copy.repository, *held_digest) ||
                             deadline.async_wait(use_tuple) || stopped());
    if (stopping_) co_return;
    auto* answer = std::get_if<0>(&outcome);
    auto held = answer != nullptr ? std::move(*answer) : http::Result<bool>(timed_out());
    if (held && *held) {
      logger_->debug("cache still holds image={} cache={}", image, route.cache.to_string());
      cache_fills_.finished(copy, *held_digest, Clock::now());
      fill_caches();
      co_return;
    }
    if (held) {
      logger_->warn("cache had lost image={} cache={}: copying it again", image,
                    route.cache.to_string());
    } else {
      ended = held.error();  // the cache did not answer: nodes go to the origin
    }
  }
  if (!ended) {
    auto outcome = co_await (
        registry::copy_image(origin, cache, copy.repository, copy.digest, std::move(platforms)) ||
        deadline.async_wait(use_tuple) || stopped());
    if (stopping_) co_return;
    auto* copied = std::get_if<0>(&outcome);
    ended =
        copied != nullptr ? std::move(*copied) : http::Result<registry::CopyReport>(timed_out());
  }
  const auto& result = *ended;
  const auto seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (result) {
    metrics_.cache_fills.at("copied").Increment();
    metrics_.cache_fill_bytes.Increment(static_cast<double>(result->bytes_copied));
    logger_->info(
        "cache filled image={} cache={} pull_digest={} bytes_from_origin={} blobs_copied={} "
        "blobs_present={} seconds={:.3f}",
        image, route.cache.to_string(), result->cache_digest, result->bytes_copied,
        result->blobs_copied, result->blobs_present, seconds);
    cache_fills_.finished(copy, result->cache_digest, Clock::now());
  } else {
    metrics_.cache_fills.at("failed").Increment();
    const auto now = Clock::now();
    cache_fills_.finished(copy, std::nullopt, now);
    logger_->warn(
        "cache fill failed image={} cache={} seconds={:.3f}: nodes pull it from the origin, the "
        "copy is tried again in {}s: {}",
        image, route.cache.to_string(), seconds,
        std::chrono::duration_cast<std::chrono::seconds>(
            cache_fills_.retry_in(copy, now).value_or(std::chrono::milliseconds(0)))
            .count(),
        result.error().to_string());
  }
  fill_caches();
}

void Controller::probe_registries() {
  if (stopping_ || !state_.has_plan()) return;
  for (auto& [registry, ref] : registry_recovery_.due(state_.registries_failing(), Clock::now())) {
    spawn(probe_registry(std::move(registry), std::move(ref)));
  }
}

net::awaitable<void> Controller::probe_registry(std::string registry, std::string ref) {
  net::steady_timer timer(context_, options_.resolve_timeout);
  auto outcome = co_await (options_.resolve(ref) || timer.async_wait(use_tuple) || stopped());
  if (stopping_) co_return;
  bool answered = false;
  if (auto* result = std::get_if<0>(&outcome)) {
    // Found, not found, refused: the registry answered. Only silence is not.
    const auto reason =
        *result ? api::FailureReason::other : resolve_failure_reason(result->error());
    answered = reason != api::FailureReason::network && reason != api::FailureReason::timeout;
  }
  if (!registry_recovery_.finished(registry, answered)) co_return;
  const auto epoch = registry_recovery_.epochs().at(registry);
  const auto changes = state_.set_retry_epochs(registry_recovery_.epochs());
  apply(changes);
  logger_->info(
      "registry {} answers again: nodes retry its images now instead of waiting out their "
      "backoff (retry epoch {}, {} node(s) told)",
      registry.empty() ? "-" : registry, epoch, changes.bumped_nodes.size());
}

void Controller::apply(const Changes& changes) {
  for (const auto& node : changes.bumped_nodes) wake(node);
  if (changes.cache_hits > 0) metrics_.common.cache_hits.Increment(changes.cache_hits);
  if (changes.cache_misses > 0) metrics_.common.cache_misses.Increment(changes.cache_misses);
}

void Controller::update_readiness_metrics() {
  readiness_stale_ = false;
  const auto readiness = state_.readiness();
  std::map<std::string, double> desired, present, missing;
  for (const auto& image : readiness.images) {
    desired[image.ref] = static_cast<double>(image.nodes_desired);
    present[image.ref] = static_cast<double>(image.nodes_present);
  }
  for (const auto& [node, count] : readiness.node_missing)
    missing[node] = static_cast<double>(count);
  metrics_.image_nodes_desired.set(desired);
  metrics_.image_nodes_present.set(present);
  metrics_.node_images_missing.set(missing);
  metrics_.node_disk_free.set(readiness.node_disk_free);
  metrics_.node_disk_size.set(readiness.node_disk_size);
  metrics_.node_gc_candidate_bytes.set(readiness.node_gc_candidate_bytes);
  metrics_.node_gc_reclaimed_bytes.set(readiness.node_gc_reclaimed_bytes);
  std::map<std::string, double> unresolved;
  for (const auto& failure : warm_.failures()) unresolved[failure.ref] = 1;
  metrics_.image_resolve_failed.set(unresolved);
  metrics_.common.cache_hit_ratio.Set(readiness.hit_ratio());
}

void Controller::update_registries() {
  const auto now = Clock::now();
  apply(state_.resume_registries(now));
  std::map<std::string, double> backoff, granted;
  std::set<std::string> paused;
  for (const auto& [registry, state] : state_.registry_backoffs(now)) {
    const double seconds = std::chrono::duration<double>(state.remaining).count();
    backoff[registry] = seconds;
    if (seconds <= 0) continue;
    paused.insert(registry);
    if (!registries_paused_.contains(registry)) {
      logger_->warn(
          "registry rate-limited (429): no new pulls from it on any node for {:.0f}s, next "
          "pause {:.0f}s registry={}",
          seconds, std::chrono::duration<double>(state.next_pause).count(), registry);
    }
  }
  for (const auto& registry : registries_paused_) {
    if (!paused.contains(registry)) logger_->info("registry pulls resume registry={}", registry);
  }
  registries_paused_ = std::move(paused);
  for (const auto& [registry, count] : state_.registry_grants()) granted[registry] = count;
  metrics_.registry_backoff.set(backoff);
  metrics_.registry_pulls_granted.set(granted);
}

void Controller::update_agent_metrics(bool log_transitions) {
  const auto now = Clock::now();
  if (log_transitions) {
    for (const auto& transition : state_.agent_transitions(now)) {
      if (transition.connected) {
        logger_->info("agent connected node={} hostname={}", transition.node_id,
                      transition.hostname);
      } else {
        logger_->warn("agent stale node={} hostname={} stale_after_ms={}", transition.node_id,
                      transition.hostname, options_.agent_stale_after.count());
      }
    }
  }
  const auto [connected, stale] = state_.agent_counts(now);
  metrics_.agents_connected.Set(static_cast<double>(connected));
  metrics_.agents_stale.Set(static_cast<double>(stale));
}

net::awaitable<http::Response> Controller::get_images(const http::RequestContext& context) {
  std::optional<RefSet> only;
  if (const auto refs = context.query_value("refs")) {
    auto decoded = api::decode_refs_query(*refs);
    if (!decoded) {
      co_return http::error_response(context.request, http::status::bad_request,
                                     decoded.error().to_string());
    }
    only = std::move(*decoded);
  }
  if (!state_.has_plan()) {
    co_return http::error_response(context.request, http::status::service_unavailable,
                                   "no reconcile has completed yet");
  }
  co_return message_response(context.request, http::status::ok,
                             images_listing(only ? &*only : nullptr));
}

api::ImagesListing Controller::images_listing(const RefSet* only) {
  auto listing = state_.images(warm_.failures(), only);
  for (auto& image : listing.images) {
    if (const auto* tag = tag_digests_.find(image.ref)) {
      image.digest = tag->digest;
      image.resolved_at = static_cast<double>(tag->resolved_at_ms) / 1000.0;
    }
  }
  // `wait` names the nodes it waits for and why, when the controller knows.
  const auto now = Clock::now();
  std::map<std::string, std::string> notes;
  for (auto& image : listing.images) {
    for (auto& node : image.nodes) {
      auto note = notes.find(node.id);
      if (note == notes.end()) note = notes.emplace(node.id, agent_note(node.id, now)).first;
      node.agent = note->second;
    }
  }
  add_status_fields(listing, notes, now, only);
  return listing;
}

std::string Controller::agent_note(const std::string& node_id, Clock::time_point now) const {
  const auto heard = state_.last_heard(node_id);
  if (heard && now - *heard <= options_.agent_stale_after) return {};
  // Refusals older than the staleness window say nothing about the agent now.
  if (auto refusal = api_requests_.refusal_of(node_id, now - options_.agent_stale_after)) {
    return "its agent's requests are refused: " + *refusal;
  }
  if (!heard) return "no report or poll from its agent since the controller started";
  return "its agent was last heard from " +
         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now - *heard).count()) +
         " s ago";
}

net::awaitable<http::Response> Controller::get_desired(const http::RequestContext& context) {
  const auto& request = context.request;
  const std::string node_id = context.params.at("node_id");
  std::uint64_t after = 0;
  if (auto text = context.query_value("after")) {
    auto value = parse_unsigned(*text);
    if (!value) {
      co_return http::error_response(request, http::status::bad_request,
                                     "after: expected a non-negative integer, got '" + *text + "'");
    }
    after = *value;
  }
  std::chrono::milliseconds wait{0};
  if (auto text = context.query_value("wait")) {
    auto value = api::parse_duration(*text);
    if (!value) {
      co_return http::error_response(request, http::status::bad_request,
                                     "wait: expected a number of seconds, got '" + *text + "'");
    }
    wait = std::min(*value, options_.max_wait);
  }
  if (!state_.has_plan()) {
    co_return http::error_response(request, http::status::service_unavailable,
                                   "no reconcile has completed yet");
  }
  const auto deadline = Clock::now() + wait;
  const NodeDesired* desired = state_.desired(node_id, Clock::now());
  std::optional<Clock::time_point> woken;
  while (desired != nullptr && desired->generation <= after && Clock::now() < deadline &&
         !stopping_) {
    woken = co_await wait_for_change(node_id, deadline);
    desired = state_.desired(node_id, Clock::now());
  }
  if (desired == nullptr) {
    co_return http::error_response(request, http::status::not_found,
                                   "node " + node_id + " is not in the swarm");
  }
  auto response = message_response(request, http::status::ok, *desired);
  if (woken && desired->generation > after) {
    metrics_.long_poll_wake.Observe(std::chrono::duration<double>(Clock::now() - *woken).count());
  }
  co_return response;
}

net::awaitable<http::Response> Controller::post_status(const http::RequestContext& context) {
  const auto& request = context.request;
  const std::string node_id = context.params.at("node_id");
  if (!state_.has_plan()) {
    co_return http::error_response(request, http::status::service_unavailable,
                                   "no reconcile has completed yet");
  }
  if (auto refusal = report_refusal(node_id, context.peer)) {
    co_return http::error_response(request, http::status::forbidden, *refusal);
  }
  auto report = api::decode_status_report(request.body());
  if (!report) {
    co_return http::error_response(request, http::status::bad_request, report.error().to_string());
  }
  auto changes = state_.report(node_id, std::move(report).value(), Clock::now());
  if (!changes) {
    co_return http::error_response(request, http::status::not_found,
                                   "node " + node_id + " is not in the swarm");
  }
  apply(*changes);
  // Readiness is a function of the plan and of which desired images each node
  // reports present; a report changes the latter exactly when it counts a hit
  // or a miss. It is O(nodes x images) (15 ms at 1,000 nodes x 20 images), and
  // a rollout brings two such reports per node: recomputed at most once a
  // second (agents_loop), and before a scrape, instead of after each.
  if (changes->cache_hits > 0 || changes->cache_misses > 0) readiness_stale_ = true;
  http::Response response{http::status::no_content, request.version()};
  response.keep_alive(request.keep_alive());
  co_return response;
}

}  // namespace swarm_prepull::controller

namespace swarm_prepull::controller {

net::awaitable<std::vector<engine::Result<engine::Distribution>>> Controller::resolve_all(
    const std::vector<std::string>& refs) {
  std::vector<engine::Result<engine::Distribution>> results(
      refs.size(), engine::Error{make_error_code(engine::engine_errc::cancelled),
                                 {},
                                 {},
                                 0,
                                 "the controller is stopping"});
  std::size_t next = 0;
  // A few workers take the refs in turn: at most resolve_concurrency requests
  // to the manager's engine at once, each bounded by resolve_timeout.
  auto worker = [&]() -> net::awaitable<void> {
    while (next < refs.size() && !stopping_) {
      const std::size_t i = next++;
      net::steady_timer timer(context_, options_.resolve_timeout);
      auto outcome =
          co_await (options_.resolve(refs[i]) || timer.async_wait(use_tuple) || stopped());
      if (outcome.index() == 0) {
        results[i] = std::move(std::get<0>(outcome));
      } else if (outcome.index() == 1) {
        results[i] = engine::Error{
            make_error_code(engine::engine_errc::timeout),
            {},
            "GET /distribution/" + refs[i] + "/json",
            0,
            "no answer within " + std::to_string(options_.resolve_timeout.count()) + " ms"};
      }
    }
  };
  std::size_t running = std::min(options_.resolve_concurrency, refs.size());
  net::steady_timer all_done(context_, Clock::time_point::max());
  for (std::size_t i = 0, count = running; i < count; ++i) {
    net::co_spawn(context_, worker(), [&](std::exception_ptr) {
      if (--running == 0) all_done.cancel();
    });
  }
  // Every worker ends within resolve_timeout of its last start, or at stop().
  if (running > 0) co_await all_done.async_wait(use_tuple);
  co_return results;
}

}  // namespace swarm_prepull::controller

namespace swarm_prepull::controller {

net::awaitable<http::Response> Controller::post_warm(const http::RequestContext& context) {
  const auto& request = context.request;
  auto warm = api::decode_warm_request(request.body());
  if (!warm) {
    co_return http::error_response(request, http::status::bad_request, warm.error().to_string());
  }
  if (!snapshot_) {
    co_return http::error_response(request, http::status::service_unavailable,
                                   "no reconcile has completed yet");
  }
  const auto started = Clock::now();
  auto resolved = co_await resolve_all(warm->images);
  if (stopping_) {
    co_return http::error_response(request, http::status::service_unavailable,
                                   "the controller is stopping");
  }

  const auto now = Clock::now();
  const auto expires = now + warm->ttl;
  std::vector<WarmImage> images;
  api::WarmAnswer answer;
  std::size_t failed = 0;
  bool tags_changed = false;
  for (std::size_t i = 0; i < warm->images.size(); ++i) {
    const std::string& ref = warm->images[i];
    api::WarmImage item{.ref = ref};
    if (auto& result = resolved[i]) {
      auto reference = reconcile::parse_reference(ref).value();
      // A `wait` on a tag that services also name refreshes it for them too.
      if (reference.digest.empty()) tags_changed |= note_tag_digest(ref, result->digest);
      reference.digest = result->digest;
      auto pinned = reconcile::parse_reference(reference.canonical());
      // A digest the engine made up would not parse: keep the tag then.
      const std::string target = pinned ? pinned->canonical() : ref;
      images.push_back({ref, target});
      warm_.clear_failure(ref);
      item.warm = target;
      item.resolved = true;
    } else {
      const auto reason = resolve_failure_reason(result.error());
      const std::string& message = result.error().message;
      if (is_final_resolve_failure(reason)) {
        ++failed;
        warm_.record_failure({ref, reason, message}, expires);
        item.failure = api::WarmFailure{reason, message};
        logger_->warn("warm image not resolvable image={} reason={} message={}", ref,
                      api::to_string(reason), message);
      } else {
        // The manager's engine could not say: the nodes try the tag themselves.
        images.push_back({ref, ref});
        item.warm = ref;
        item.resolved = false;
        item.note = std::string(api::to_string(reason)) + ": " + message;
        logger_->warn("warm image not resolved, warming by tag image={} reason={} error={}", ref,
                      api::to_string(reason), result.error().to_string());
      }
    }
    answer.images.push_back(std::move(item));
  }
  const std::size_t accepted = images.size();
  auto id = warm_.add(*warm, std::move(images), expires);
  if (!id) {
    co_return http::error_response(request, http::status::too_many_requests, id.error().message);
  }
  if (tags_changed) publish_tag_digests();
  republish();

  // The nodes this request's placement selects (a service may want the same
  // image on more): what `wait` waits for.
  const auto constraints_parsed = reconcile::parse_constraints(warm->constraints).value();
  std::vector<api::WarmNode> selected;
  for (const auto& node : snapshot_->nodes) {
    if (reconcile::node_is_eligible(node) &&
        reconcile::constraints_match(constraints_parsed, node)) {
      selected.push_back({node.id, node.hostname});
    }
  }
  for (auto& item : answer.images) {
    // A failed image names the nodes it was meant for, none of which was told.
    item.nodes = selected;
    if (!item.failure) item.nodes_desired = selected.size();
  }
  std::string constraints;
  for (const auto& text : warm->constraints) constraints += (constraints.empty() ? "" : ",") + text;
  logger_->info(
      "warm request id={} images={} accepted={} failed={} constraints=[{}] ttl_s={} "
      "took_ms={:.1f}",
      *id, warm->images.size(), accepted, failed, constraints,
      std::chrono::duration_cast<std::chrono::seconds>(warm->ttl).count(),
      std::chrono::duration<double, std::milli>(Clock::now() - started).count());
  answer.id = *id;
  answer.expires_in = warm->ttl;
  co_return message_response(request, http::status::accepted, answer);
}

}  // namespace swarm_prepull::controller
