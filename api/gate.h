// The upgrade gate that `swarm-prepull wait` runs before `docker stack
// deploy`: ask the controller to warm images (POST /v1/warm), follow GET
// /v1/images until each is present on every node its request selected, a
// pull fails for good, or the timeout passes; post again when the controller
// forgot the request (it restarted, or the ttl ran out).
//
// Two layers: what the controller's answers mean and the lines to print
// (pure functions of the messages, no I/O or clock), and run_gate(), the
// loop as one coroutine on the caller's executor. cli/wait_command.cpp only
// parses options and prints.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/controller_client.h"
#include "api/messages.h"

namespace swarm_prepull::api {

// Failures that do not heal by waiting: the agent does not retry not_found
// and unauthorized until something changes, and a full disk stays full.
// Other reasons (network, timeout, rate_limited, other) are retried by the
// agents with backoff: the gate keeps waiting and names them if it times out.
bool is_final_pull_failure(FailureReason reason);

struct GateFailure {
  FailureReason reason = FailureReason::other;
  std::string message{};             // the engine's
  std::vector<std::string> nodes{};  // hostnames (ids when empty); at resolution, those meant
  bool at_registry = false;          // the manager's engine failed to resolve it
  bool operator==(const GateFailure&) const = default;
};

// One image the gate follows.
struct Tracked {
  std::string requested{};          // canonical, as asked: "10.0.0.1:5000/app:2"
  std::string ref{};                // what the nodes get ("warm" in the answer); empty if refused
  std::uint64_t nodes_desired = 0;  // in the answer to the POST
  // The nodes this request's placement selects, by id, sorted (the answer's
  // "nodes"); a service may want the same image on more nodes, which the gate
  // ignores.
  std::vector<std::string> node_ids{};
  std::vector<GateFailure> failures{};  // a resolution failure from the POST answer
};

// One Tracked per image of the answer, in order.
std::vector<Tracked> track(const WarmAnswer& answer);

struct NodeState {
  std::string node{};    // hostname, or id when it has none
  std::string state{};   // pulling, waiting, failed, unknown
  std::string reason{};  // failed: the reason of its last try (network, timeout, ...)
  std::string agent{};   // why its agent is not heard from, when the controller knows
  // held: the free space its agent reported ("12MiB free of 300MiB"), when it did.
  std::string disk{};
};

struct ImageProgress {
  std::string requested{};
  std::string ref{};
  bool listed = false;  // the controller lists it in GET /v1/images
  std::uint64_t desired = 0;
  std::uint64_t present = 0;
  std::vector<NodeState> missing{};
  std::vector<GateFailure> failures{};  // grouped by (reason, message), node names sorted
  // Nodes whose agents hold its pull (disk_low): nothing will be pulled there
  // until space is freed, so the gate fails at once rather than at its timeout.
  std::vector<NodeState> held{};
  bool ready() const { return listed && desired > 0 && present >= desired; }
};

enum class Verdict { pending, ready, failed };

struct Progress {
  std::vector<ImageProgress> images{};
  Verdict verdict = Verdict::pending;
  // A followed image the controller does not list: it restarted or the
  // request expired; post it again.
  bool needs_repost = false;
};

// What the POST answer alone decides: failed when an image was refused at
// resolution or is placed on no node.
Progress evaluate_answer(const std::vector<Tracked>& tracked);

// Progress from GET /v1/images.
Progress evaluate(const std::vector<Tracked>& tracked, const ImagesListing& listing);

// The refs under which GET /v1/images lists what `tracked` follows (its
// ?refs=): the ref nodes get, or the ref as asked when it was refused.
std::vector<std::string> listed_refs(const std::vector<Tracked>& tracked);

// "10.0.0.1:5000/app:2  2/3 nodes" (+ "  ready", or the nodes still missing
// with what each waits out: "node-3 failed: network", "node-2 unknown: its
// agent's requests are refused: 401 (...) from 10.0.1.5").
std::string progress_line(const ImageProgress& image);
std::vector<std::string> progress_lines(const Progress& progress);

// One line per failed image:
// "wait: 10.0.0.1:5000/app:nope: not_found: manifest unknown on node-2, node-3"
// "wait: 10.0.0.1:5000/app:nope: not_found: ... at the registry (resolved by the manager)"
// "wait: 10.0.0.1:5000/app:2: no ready, active node matches the placement"
// "wait: 10.0.0.1:5000/app:2: held: disk_low on node-3 (12MiB free of 300MiB)"
std::string failure_message(const Progress& progress);

// What is still missing where:
// "wait: timed out after 1s: 10.0.0.1:5000/app:2 1/3 nodes, missing on node-2 (pulling), ..."
std::string timeout_message(const Progress& progress, std::chrono::milliseconds timeout);

// ---------------------------------------------------------------------------
// The loop.

struct GateOptions {
  WarmRequest request{};
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};
  // How often to ask: `first_interval` at first (small images land within a
  // second), doubling up to `interval`.
  std::chrono::milliseconds interval{std::chrono::seconds(1)};
  std::chrono::milliseconds first_interval{125};
};

enum class GateOutcome {
  ready,            // every image present on every node it was meant for
  failed,           // a pull or a resolution failed for good, or no node matches
  token_refused,    // 401: the controller refused the token
  request_refused,  // 400, 403, 404, 413: the controller refused the request
  bad_answer,       // the answer to the POST is not the agent API's
  unreachable,      // the controller never answered before the timeout
  timed_out,        // it answered, the images are not everywhere yet
};

struct GateResult {
  GateOutcome outcome = GateOutcome::timed_out;
  Progress progress{};  // the last known
  // token_refused, request_refused, unreachable: why; timed_out: the last
  // failure while the request was not (re)posted, if any.
  std::optional<Error> error{};
  std::chrono::steady_clock::duration elapsed{};
};

// Runs the gate to its end on the awaiting executor. `on_progress` is called
// with every new progress (for the lines to show); it may be empty.
boost::asio::awaitable<GateResult> run_gate(ControllerClient& client, GateOptions options,
                                            std::function<void(const Progress&)> on_progress);

// What to print at the end: for ready, the line for stdout; else the lines
// for stderr. `controller` names the controller (its URL).
std::string outcome_message(const GateResult& result, const GateOptions& options,
                            std::string_view controller);

}  // namespace swarm_prepull::api
