#include "agent/agent.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>

#include "reconcile/plan.h"
#include "reconcile/reference.h"

namespace swarm_prepull::agent {

namespace net = boost::asio;
using namespace std::chrono_literals;

namespace {

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double seconds_between(TimePoint from, TimePoint to) {
  return std::chrono::duration<double>(to - from).count();
}

// What names an image: its tags and digests, without the "<none>" the engine
// lists for an image that has none.
std::vector<std::string> image_references(const GcImage& image) {
  std::vector<std::string> names;
  for (const auto& tag : image.repo_tags) {
    if (tag != "<none>:<none>") names.push_back(tag);
  }
  for (const auto& digest : image.repo_digests) {
    if (digest != "<none>@<none>") names.push_back(digest);
  }
  return names;
}

std::string describe_refs(const GcImage& image) {
  std::string text;
  for (const auto& name : image_references(image)) text += (text.empty() ? "" : ",") + name;
  return text.empty() ? "<none>" : text;
}

}  // namespace

std::vector<std::string> agent_engine_endpoints() {
  return {"/version", "/images/json", "/images/create", "/containers/json",
          "DELETE /images/{name}"};
}

Agent::Agent(AgentOptions options, engine::Client& engine, api::ControllerClient& controller,
             metrics::AgentMetrics* metrics, std::shared_ptr<spdlog::logger> logger,
             RandomSource& random)
    : options_(std::move(options)),
      engine_(engine),
      controller_(controller),
      metrics_(metrics),
      logger_(std::move(logger)),
      random_(random),
      state_(
          {.max_concurrent_pulls = options_.max_concurrent_pulls, .backoff = options_.pull_backoff},
          random),
      engine_backoff_(options_.engine_backoff, random),
      credentials_(options_.registry_auth_file) {}

void Agent::count_engine_request(std::string_view endpoint) {
  if (metrics_ != nullptr) metrics_->common.engine_requests.at(endpoint).Increment();
}

void Agent::record_contact(Exchange exchange, const api::Error* error) {
  const auto change = contact_.record(exchange, error, Clock::now(), wall_seconds());
  if (metrics_ != nullptr) {
    metrics_->controller_up.Set(contact_.up() ? 1 : 0);
    metrics_->controller_last_status.Set(contact_.last_status());
    metrics_->controller_last_contact.Set(contact_.last_contact());
  }
  publish_hit_ratio();
  if (change.kind == ContactChange::Kind::restored) {
    logger_->info("controller contact restored after {:.0f} s node={} generation={}",
                  std::chrono::duration<double>(change.lost_for).count(), options_.node_id,
                  state_.generation());
  } else if (change.kind == ContactChange::Kind::lost && error->status == 0) {
    logger_->warn(
        "controller unreachable, not in contact, keeping the last desired set generation={} and "
        "retrying: {}",
        state_.generation(), error->to_string());
  } else if (change.kind == ContactChange::Kind::lost) {
    // 401: the token; 403: the controller does not take this agent's reports
    // for its node. Both are the operator's to fix, hence an error.
    logger_->error(
        "controller answered HTTP {}, not in contact, keeping the last desired set generation={} "
        "and retrying: {}",
        error->status, state_.generation(), error->to_string());
  }
}

void Agent::publish_hit_ratio() {
  if (metrics_ == nullptr) return;
  // A ratio over a set the controller may have replaced meanwhile would
  // read healthy for the wrong images: unknown until both are current.
  const bool current = have_set_ && checked_ && contact_.up();
  metrics_->common.cache_hit_ratio.Set(current ? state_.hit_ratio()
                                               : std::numeric_limits<double>::quiet_NaN());
}

void Agent::wake() {
  wake_pending_ = true;
  if (wake_timer_ != nullptr) wake_timer_->cancel();
}

void Agent::stop() {
  if (stopping_) return;
  stopping_ = true;
  logger_->info("agent stopping node={}", options_.node_id);
  poll_cancel_.emit(net::cancellation_type::terminal);
  for (auto& [ref, signal] : pull_cancels_) signal->emit(net::cancellation_type::terminal);
  if (wake_timer_ != nullptr) wake_timer_->cancel();
}

net::awaitable<void> Agent::sleep(std::chrono::milliseconds duration) {
  net::steady_timer timer(co_await net::this_coro::executor, duration);
  co_await timer.async_wait(net::as_tuple(net::use_awaitable));
}

std::optional<DiskSpace> Agent::check_disk() {
  std::optional<DiskSpace> space;
  if (auto measured = measure_disk(options_.data_root)) {
    space = *measured;
    if (!disk_measured_) logger_->info("data root measured again path={}", options_.data_root);
    disk_measured_ = true;
  } else if (disk_measured_) {
    logger_->error(
        "cannot measure the engine's data root, pulling without disk admission (mount it into "
        "the agent, or set --data-root): {}",
        measured.error().message);
    disk_measured_ = false;
  }
  const auto admission = admit_pulls(space, options_.min_free_disk);
  std::string why;
  if (space) {
    why = "disk_low: " + format_bytes(space->free_bytes) + " free of " +
          format_bytes(space->size_bytes) + " on " + options_.data_root +
          ", below --min-free-disk " + options_.min_free_disk.to_string() + " (" +
          format_bytes(admission.required_free) + ")";
  }
  const bool flipped = state_.set_disk(admission, why);
  if (metrics_ != nullptr) {
    const double unknown = std::numeric_limits<double>::quiet_NaN();
    metrics_->disk_free.Set(space ? static_cast<double>(space->free_bytes) : unknown);
    metrics_->disk_size.Set(space ? static_cast<double>(space->size_bytes) : unknown);
  }
  if (flipped && !admission.admit) {
    logger_->warn("pulls held node={} reason={}", options_.node_id, why);
  } else if (flipped && space) {
    logger_->info("pulls resumed node={} free={} required={}", options_.node_id,
                  format_bytes(space->free_bytes), format_bytes(admission.required_free));
  }
  return space;
}

net::awaitable<bool> Agent::collect_garbage(const std::vector<reconcile::Image>& images,
                                            DiskSpace disk) {
  if (options_.gc.mode == GcMode::off) co_return false;
  const auto now = Clock::now();
  if (last_gc_pass_ && now - *last_gc_pass_ < options_.gc_interval) co_return false;
  last_gc_pass_ = now;
  count_engine_request("/containers/json");
  auto containers = co_await engine_.containers();
  if (stopping_) co_return false;
  if (!containers) {
    // Without the containers nothing is known to be unused: no pass.
    logger_->warn("gc pass skipped node={}: cannot list the containers: {}", options_.node_id,
                  containers.error().to_string());
    co_return false;
  }
  const auto wall = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  const auto in_use = images_in_use(*containers);
  gc_.observe(images, in_use, wall);
  const auto listed = gc_.gc_images(images);
  const auto plan = plan_gc(listed, in_use, state_.desired().images, disk, options_.gc, wall);
  // The desired set decides what stays: while the controller is out of
  // reach it may have replaced that set, so nothing is removed on it.
  const bool remove = plan.remove && contact_.up();
  const bool postponed = plan.remove && !remove;
  if (plan.triggered) {
    logger_->info(
        "gc pass node={} mode={} used={} of {} above --gc-high {}% (low {}%): candidates={} "
        "bytes={}{}",
        options_.node_id, gc_mode_name(plan.mode), format_bytes(plan.used_bytes),
        format_bytes(plan.disk.size_bytes), options_.gc.high_percent, options_.gc.low_percent,
        plan.candidates.size(), format_bytes(plan.candidate_bytes),
        postponed ? "; removal postponed until the controller is in contact" : "");
  }
  std::uint64_t removed = 0, reclaimed = 0;
  for (const auto& candidate : postponed ? std::vector<GcCandidate>{} : plan.candidates) {
    const GcImage& image = listed[candidate.image];
    const auto size = static_cast<std::uint64_t>(std::max<std::int64_t>(image.size, 0));
    const std::string why = explain(candidate, listed);
    if (!remove) {
      if (!gc_.first_candidacy(image.id)) continue;
      logger_->info("gc dry-run would remove node={} image={} refs={} size={} reason=\"{}\"",
                    options_.node_id, image.id, describe_refs(image), format_bytes(size), why);
    } else if (!co_await remove_image(image, why)) {
      if (stopping_) break;
      continue;
    }
    ++removed;
    reclaimed += size;
  }
  gc_.record_pass(plan, removed, reclaimed);
  if (metrics_ != nullptr) {
    metrics_->gc_candidates.Set(static_cast<double>(plan.candidates.size()));
    metrics_->gc_candidate_bytes.Set(static_cast<double>(plan.candidate_bytes));
    const std::string_view mode = remove ? "on" : "dry-run";
    metrics_->gc_removed_images.at(mode).Increment(static_cast<double>(removed));
    metrics_->gc_reclaimed_bytes.at(mode).Increment(static_cast<double>(reclaimed));
  }
  co_return remove&& removed > 0;
}

net::awaitable<void> Agent::forget_cache_name(const std::string& ref, const std::string& via) {
  // The node's image list then looks as if it had pulled from the origin;
  // the layers stay, held by the origin's name.
  count_engine_request("DELETE /images/{name}");
  auto removed = co_await engine_.remove_image(via);
  if (!removed) {
    logger_->warn("cache name not removed node={} image={} via={}: {}", options_.node_id, ref, via,
                  removed.error().to_string());
  }
}

net::awaitable<bool> Agent::remove_image(const GcImage& image, const std::string& why) {
  // By each reference, not by ID: an ID that several repositories name is
  // refused without force, and force is what we must not use. The last
  // reference removed takes the image with it.
  std::vector<std::string> names = image_references(image);
  if (names.empty()) names.push_back(image.id);
  for (const auto& name : names) {
    count_engine_request("DELETE /images/{name}");
    auto removed = co_await engine_.remove_image(name);
    if (stopping_) co_return false;
    if (removed || removed.error().code == engine::engine_errc::not_found) continue;
    if (metrics_ != nullptr) metrics_->gc_removal_failures.Increment();
    logger_->warn("gc could not remove node={} image={} ref={} (kept): {}", options_.node_id,
                  image.id, name, removed.error().to_string());
    co_return false;
  }
  logger_->info("gc removed node={} image={} refs={} size={} reason=\"{}\"", options_.node_id,
                image.id, describe_refs(image),
                format_bytes(static_cast<std::uint64_t>(std::max<std::int64_t>(image.size, 0))),
                why);
  co_return true;
}

void Agent::load_credentials() {
  if (credentials_.reload(*logger_)) state_.set_credentials(credentials_.fingerprint());
}

net::awaitable<void> Agent::refresh_engine_version() {
  count_engine_request("/version");
  auto version = co_await engine_.get_json("/version");
  if (version && version->is_object() && version->contains("Version") &&
      (*version)["Version"].is_string()) {
    engine_version_ = (*version)["Version"].get<std::string>();
  }
}

net::awaitable<void> Agent::run() {
  logger_->info(
      "agent starting node={} controller={} max_concurrent_pulls={} check_interval={}s "
      "data_root={} min_free_disk={}",
      options_.node_id, controller_.options().url.endpoint.to_string(),
      options_.max_concurrent_pulls, std::chrono::duration<double>(options_.check_interval).count(),
      options_.data_root, options_.min_free_disk.to_string());
  const auto executor = co_await net::this_coro::executor;
  co_await refresh_engine_version();
  net::co_spawn(executor, poll_loop(),
                net::bind_cancellation_slot(poll_cancel_.slot(), net::detached));

  net::steady_timer timer(executor);
  wake_timer_ = &timer;
  while (!stopping_) {
    wake_pending_ = false;
    co_await check();
    if (stopping_) break;
    if (wake_pending_) continue;
    const auto now = Clock::now();
    auto deadline = now + (engine_ok_ ? options_.check_interval : engine_backoff_.next());
    if (const auto retry = state_.next_retry(now); retry && *retry < deadline) deadline = *retry;
    timer.expires_at(deadline);
    co_await timer.async_wait(net::as_tuple(net::use_awaitable));
  }
  wake_timer_ = nullptr;
}

net::awaitable<void> Agent::poll_loop() {
  Backoff backoff(options_.controller_backoff, random_);
  try {
    while (!stopping_) {
      const auto asked = Clock::now();
      auto set = co_await controller_.desired(have_set_ ? state_.generation() : 0);
      if (stopping_) break;
      if (!set) {
        const auto error = set.error();
        if (error.code == api::api_errc::cancelled) break;
        record_contact(Exchange::poll, &error);
        co_await sleep(backoff.next());
        continue;
      }
      record_contact(Exchange::poll, nullptr);
      backoff.reset();
      const bool first = !have_set_;
      if (first || set->generation != state_.generation()) {
        const std::size_t count = set->images.size();
        const std::uint64_t generation = set->generation;
        const bool changed = state_.set_desired(std::move(*set));
        have_set_ = true;
        cancel_withdrawn_pulls();
        logger_->info("desired set received node={} generation={} images={}{}", options_.node_id,
                      generation, count, changed || first ? "" : " (unchanged)");
        wake();
      } else if (Clock::now() - asked < 1s) {
        // The controller answered at once with nothing new: do not spin.
        co_await sleep(1s);
      }
    }
  } catch (const boost::system::system_error& error) {
    if (error.code() != net::error::operation_aborted) throw;
  }
}

net::awaitable<void> Agent::check() {
  const auto started = Clock::now();
  load_credentials();
  count_engine_request("/images/json");
  auto images = co_await engine_.images();
  if (stopping_) co_return;
  if (!images) {
    if (engine_ok_) {
      logger_->error("engine unavailable, will retry: {}", images.error().to_string());
      engine_ok_ = false;
    }
    if (metrics_ != nullptr) metrics_->common.reconcile_errors.Increment();
    co_return;
  }
  if (!engine_ok_) {
    engine_ok_ = true;
    engine_backoff_.reset();
    logger_->info("engine available again");
    co_await refresh_engine_version();
  }
  // Every check, so that pulling resumes by itself once space comes back.
  const auto space = check_disk();
  // Without a desired set there is nothing to check or report yet, and
  // nothing GC may safely remove.
  if (!have_set_) co_return;
  if (space && co_await collect_garbage(*images, *space)) {
    if (stopping_) co_return;
    check_disk();  // what GC freed may admit pulls in this very check
  }
  if (stopping_) co_return;
  const auto counts = state_.observe_present(reconcile::present_refs(*images));
  checked_ = true;
  if (metrics_ != nullptr) {
    metrics_->common.cache_hits.Increment(static_cast<double>(counts.present));
    metrics_->common.cache_misses.Increment(static_cast<double>(counts.missing));
  }
  publish_hit_ratio();
  if (metrics_ != nullptr) metrics_->images_held_disk_low.Set(static_cast<double>(state_.held()));
  const auto executor = co_await net::this_coro::executor;
  cancel_withdrawn_pulls();
  for (auto& ref : state_.start_pulls(Clock::now(), wall_seconds())) {
    auto& signal = pull_cancels_[ref];
    signal = std::make_unique<net::cancellation_signal>();
    net::co_spawn(executor, pull(ref, via_of(ref)),
                  net::bind_cancellation_slot(signal->slot(), net::detached));
  }
  co_await report();
  if (metrics_ != nullptr) {
    metrics_->common.reconcile_duration.Observe(seconds_between(started, Clock::now()));
    metrics_->common.last_reconcile_success.Set(wall_seconds());
  }
}

void Agent::cancel_withdrawn_pulls() {
  for (const auto& ref : state_.withdrawn_grants()) {
    const auto signal = pull_cancels_.find(ref);
    if (signal == pull_cancels_.end() || !withdrawing_.insert(ref).second) continue;
    logger_->info("pull withdrawn node={} image={}: its grant went to a task swarm is starting",
                  options_.node_id, ref);
    signal->second->emit(net::cancellation_type::terminal);
  }
}

bool Agent::desires(const std::string& ref) const {
  const auto& images = state_.desired().images;
  return std::any_of(images.begin(), images.end(),
                     [&](const api::DesiredImage& image) { return image.ref == ref; });
}

std::string Agent::via_of(const std::string& ref) const {
  const auto& images = state_.desired().images;
  const auto found = std::find_if(images.begin(), images.end(),
                                  [&](const api::DesiredImage& image) { return image.ref == ref; });
  return found == images.end() ? std::string() : found->via;
}

engine::PullRequest Agent::pull_request(const reconcile::Reference& reference) const {
  engine::PullRequest request;
  request.repository = reference.name();
  request.tag = reference.digest.empty() ? reference.tag : reference.digest;
  request.platform = options_.platform;
  request.registry_auth = credentials_.header_for(reference.domain);
  return request;
}

net::awaitable<bool> Agent::pull_from_cache(const std::string& ref, const std::string& via) {
  const auto reference = reconcile::parse_reference(via);
  std::optional<PullFailure> failure;
  if (!reference) {
    failure = PullFailure{Reason::other, reference.error().message};
  } else {
    count_engine_request("/images/create");
    auto pulled = co_await engine_.pull(pull_request(*reference));
    if (stopping_) co_return false;
    if (pulled) {
      if (metrics_ != nullptr) metrics_->cache_pulls.Increment();
      co_return true;
    }
    failure = PullFailure{classify_pull_failure(pulled.error()), pulled.error().message};
  }
  if (withdrawing_.contains(ref)) co_return false;  // cancelled: no fallback to the origin
  if (metrics_ != nullptr) metrics_->cache_fallbacks.at(to_string(failure->reason)).Increment();
  logger_->warn("cache pull failed node={} image={} via={} reason={}, pulling from the origin: {}",
                options_.node_id, ref, via, to_string(failure->reason), failure->message);
  co_return false;
}

net::awaitable<void> Agent::pull(std::string ref, std::string via) {
  const auto started = Clock::now();
  std::optional<PullFailure> failure;
  std::unordered_set<std::string> present_after;
  std::string digest;
  try {
    const auto reference = reconcile::parse_reference(ref);
    if (!reference) {
      failure = PullFailure{Reason::other, reference.error().message};
    } else {
      auto request = pull_request(*reference);
      logger_->info("pull started node={} image={} auth={}{}{}", options_.node_id, ref,
                    request.registry_auth.empty() ? "none" : "config",
                    via.empty() ? "" : " via=", via);
      // The layers from the cache; the origin's pull below then fetches
      // only its manifest, and gives the engine the name swarm's task asks for.
      const bool through_cache = !via.empty() && co_await pull_from_cache(ref, via);
      if (stopping_) co_return;
      // Withdrawn during the cache's pull: no origin pull to start (it would
      // end at once, cancelled).
      if (withdrawing_.contains(ref))
        throw boost::system::system_error(net::error::operation_aborted);
      count_engine_request("/images/create");
      auto pulled = co_await engine_.pull(std::move(request));
      if (stopping_) co_return;
      if (!pulled) {
        failure = PullFailure{classify_pull_failure(pulled.error()), pulled.error().message};
      } else {
        digest = pulled->digest;
        // Done only when the engine lists it: a "success" that left the store cold is caught.
        count_engine_request("/images/json");
        auto images = co_await engine_.images();
        if (stopping_) co_return;
        if (!images) {
          failure = PullFailure{
              classify_pull_failure(images.error()),
              "pull reported success but the image list failed: " + images.error().message};
        } else {
          present_after = reconcile::present_refs(*images);
        }
      }
      // Also when the origin's pull failed: the cache's name alone is no use
      // to swarm's task (it asks for the origin's), and the retry fetches its
      // layers from the cache again.
      if (through_cache && !desires(via)) co_await forget_cache_name(ref, via);
    }
  } catch (const boost::system::system_error& error) {
    if (error.code() == net::error::operation_aborted && stopping_) co_return;
    failure = PullFailure{Reason::other, error.code().message()};
  } catch (const std::exception& error) {
    failure = PullFailure{Reason::other, error.what()};
  }
  // Out of the map, alive until this coroutine ends: co_spawn keeps this
  // coroutine's cancellation state in the signal's slot, which the awaits
  // below still use.
  const auto cancel = pull_cancels_.extract(ref);
  const auto now = Clock::now();
  const double seconds = seconds_between(started, now);
  // Cancelled for a starting task elsewhere: no failure, pulled again once
  // granted again. (One that finished anyway is finished as usual.)
  if (withdrawing_.erase(ref) != 0 && failure) {
    if (!via.empty() && !desires(via) && !stopping_) {
      // The cache's name, if its pull got that far: the cancelled pull's
      // own removal of it was skipped (every operation after the cancellation
      // ends at once), and nothing else would remove it.
      co_await net::this_coro::reset_cancellation_state();
      count_engine_request("DELETE /images/{name}");
      (void)co_await engine_.remove_image(via);
      if (stopping_) co_return;
    }
    state_.withdraw_pull(ref);
    if (metrics_ != nullptr) metrics_->pulls_withdrawn.Increment();
    logger_->info("pull cancelled node={} image={} seconds={:.3f}", options_.node_id, ref, seconds);
    wake();
    co_return;
  }
  const auto outcome = state_.finish_pull(ref, failure, present_after, now);
  if (outcome.success) {
    if (metrics_ != nullptr) {
      metrics_->pulls_success.Increment();
      metrics_->pull_duration.Observe(seconds);
    }
    if (outcome.other_digest) {
      logger_->info(
          "pull finished node={} image={} seconds={:.3f}{}{}: the tag names other content than "
          "the controller resolved, waiting for its next resolution, retry_in={:.1f}s",
          options_.node_id, ref, seconds, digest.empty() ? "" : " digest=", digest,
          std::chrono::duration<double>(outcome.retry_in).count());
    } else {
      logger_->info("pull finished node={} image={} seconds={:.3f}{}{}", options_.node_id, ref,
                    seconds, digest.empty() ? "" : " digest=", digest);
    }
  } else {
    if (metrics_ != nullptr) {
      metrics_->pulls_failure.Increment();
      metrics_->pull_failures.at(to_string(outcome.failure.reason)).Increment();
    }
    if (outcome.permanent) {
      logger_->warn(
          "pull failed node={} image={} reason={} attempts={} retry=after the desired set or "
          "credentials change: {}",
          options_.node_id, ref, to_string(outcome.failure.reason), outcome.attempts,
          outcome.failure.message);
    } else {
      logger_->warn("pull failed node={} image={} reason={} attempts={} retry_in={:.1f}s: {}",
                    options_.node_id, ref, to_string(outcome.failure.reason), outcome.attempts,
                    std::chrono::duration<double>(outcome.retry_in).count(),
                    outcome.failure.message);
    }
  }
  wake();
}

net::awaitable<void> Agent::report() {
  if (!have_set_ || stopping_) co_return;
  if (reporting_) {
    report_again_ = true;
    co_return;
  }
  reporting_ = true;
  do {
    report_again_ = false;
    auto status = state_.status_report(SWARM_PREPULL_VERSION, engine_version_);
    status.gc = gc_.summary();
    status.gc->mode = std::string(gc_mode_name(options_.gc.mode));
    auto sent = co_await controller_.post_status(status);
    if (stopping_) break;
    if (sent) {
      record_contact(Exchange::report, nullptr);
    } else {
      // Dropped, not retried: the next cycle sends a fresh report.
      const auto error = sent.error();
      if (error.code == api::api_errc::cancelled) break;
      record_contact(Exchange::report, &error);
    }
  } while (report_again_ && !stopping_);
  reporting_ = false;
}

}  // namespace swarm_prepull::agent
