// The agent's loop, on one io_context: long-polls its node's desired set from
// the controller, checks presence with one GET /images/json per cycle, pulls
// what is missing through its own engine (bounded, with backoff), confirms
// each pull by listing again, and reports its status. Thin: every decision is
// AgentState's.
//
// Cycles run on a new desired set, after each pull, when a retry comes due,
// and at least every check_interval. When the controller is unreachable the
// agent keeps working from the last set it received and reconnects with
// backoff; when its engine is unreachable (e.g. restarting) it retries the
// image list with backoff and carries on where it was.
#pragma once

#include <spdlog/logger.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "agent/backoff.h"
#include "agent/contact.h"
#include "agent/disk.h"
#include "agent/gc_activity.h"
#include "agent/gc_plan.h"
#include "agent/state.h"
#include "api/controller_client.h"
#include "engine/client.h"
#include "engine/registry_auth.h"
#include "metrics/metrics.h"
#include "reconcile/reference.h"

namespace swarm_prepull::agent {

// The engine endpoints the agent calls: the label values of
// swarm_prepull_engine_requests_total{endpoint} on the agent.
std::vector<std::string> agent_engine_endpoints();

struct AgentOptions {
  std::string node_id;
  std::string registry_auth_file;  // docker config.json; empty: no credentials
  std::size_t max_concurrent_pulls = 2;
  std::chrono::milliseconds check_interval{std::chrono::seconds(30)};
  std::string platform;  // "os/arch" for pulls; empty: the engine's own
  // The engine's data root as the agent sees it (bind-mounted read-only in
  // the stack), and the free space below which no pull starts.
  std::string data_root = "/var/lib/docker";
  MinFreeDisk min_free_disk{.bytes = 0, .percent = 10, .is_percent = true};
  GcOptions gc{};
  // GC passes run with the checks, at most this often (a pass lists the
  // containers too, and checks come after every pull).
  std::chrono::milliseconds gc_interval{std::chrono::seconds(10)};
  BackoffPolicy pull_backoff{};
  BackoffPolicy controller_backoff{std::chrono::seconds(1), std::chrono::seconds(30)};
  BackoffPolicy engine_backoff{std::chrono::seconds(1), std::chrono::seconds(30)};
};

class Agent {
 public:
  // `metrics` may be null (tests). Everything given must outlive the Agent,
  // and the Agent must outlive the io_context that runs it.
  Agent(AgentOptions options, engine::Client& engine, api::ControllerClient& controller,
        metrics::AgentMetrics* metrics, std::shared_ptr<spdlog::logger> logger,
        RandomSource& random);

  // Runs until stop(); co_spawn it on the io_context.
  boost::asio::awaitable<void> run();
  // Stops polling, cancels the pulls in flight (they are not reported as
  // failures) and lets run() return. Call on the io_context's thread.
  void stop();

  const AgentState& state() const { return state_; }
  bool stopping() const { return stopping_; }

 private:
  boost::asio::awaitable<void> poll_loop();
  boost::asio::awaitable<void> check();
  // Pulls `ref`; with `via` (its content by digest in the cluster's cache),
  // from the cache first, falling back to the origin alone when that fails.
  boost::asio::awaitable<void> pull(std::string ref, std::string via);
  // True when the cache's pull succeeded; else counts and logs the fallback.
  boost::asio::awaitable<bool> pull_from_cache(const std::string& ref, const std::string& via);
  // Removes the cache's name after the origin's pull, so that the node's
  // image list looks as if it had pulled from the origin.
  boost::asio::awaitable<void> forget_cache_name(const std::string& ref, const std::string& via);
  // The desired set's cache reference of `ref`; empty for none.
  std::string via_of(const std::string& ref) const;
  // Whether `ref` is in the desired set itself (a cache's name can be).
  bool desires(const std::string& ref) const;
  engine::PullRequest pull_request(const reconcile::Reference& reference) const;
  boost::asio::awaitable<void> report();
  boost::asio::awaitable<void> refresh_engine_version();
  boost::asio::awaitable<void> sleep(std::chrono::milliseconds duration);
  void load_credentials();
  // statvfs of the data root and the admission that follows, every check.
  // Returns the space measured, when it could be.
  std::optional<DiskSpace> check_disk();
  // One GC pass over the images just listed (agent/gc_plan.h): plans, logs,
  // counts, and in mode on removes the candidates. Returns whether it removed
  // any image.
  boost::asio::awaitable<bool> collect_garbage(const std::vector<reconcile::Image>& images,
                                               DiskSpace disk);
  // Removes every reference of one candidate without force; true when the
  // image is gone. The engine refuses what a container uses.
  boost::asio::awaitable<bool> remove_image(const GcImage& image, const std::string& why);
  void wake();
  // Cancels the pulls whose grant the controller took back (AgentState::withdrawn_grants).
  void cancel_withdrawn_pulls();
  void count_engine_request(std::string_view endpoint);
  // Every exchange with the controller goes through here: the contact
  // metrics, the hit ratio that depends on them, and one log line per change.
  void record_contact(Exchange exchange, const api::Error* error);
  void publish_hit_ratio();

  AgentOptions options_;
  engine::Client& engine_;
  api::ControllerClient& controller_;
  metrics::AgentMetrics* metrics_;
  std::shared_ptr<spdlog::logger> logger_;
  RandomSource& random_;
  AgentState state_;

  bool stopping_ = false;
  bool have_set_ = false;
  bool checked_ = false;  // the image list was compared with a desired set
  ControllerContact contact_;
  bool wake_pending_ = false;
  boost::asio::steady_timer* wake_timer_ = nullptr;  // the cycle loop's, while it runs
  boost::asio::cancellation_signal poll_cancel_;
  std::map<std::string, std::unique_ptr<boost::asio::cancellation_signal>> pull_cancels_;
  // Pulls cancelled because the controller took their grant back.
  std::set<std::string> withdrawing_;

  // Reports go out one at a time, in order; one asked for meanwhile is sent after.
  bool reporting_ = false;
  bool report_again_ = false;

  std::string engine_version_;
  bool engine_ok_ = true;
  Backoff engine_backoff_;

  engine::RegistryAuthFile credentials_;
  bool disk_measured_ = true;  // for one log line per change of statvfs' outcome
  GcActivity gc_;
  std::optional<TimePoint> last_gc_pass_;
};

}  // namespace swarm_prepull::agent
