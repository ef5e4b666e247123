// The pure part of `swarm-prepull wait`: what the controller's answers mean
// (POST /v1/warm, GET /v1/images; docs/agent-api.md), whether to stop, and
// the lines to print. No I/O, no clock: wait_command.cpp does those.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "reconcile/expected.h"

namespace swarm_prepull::cli::wait {

// Exit statuses of `wait` (0, 1, 2 and 3 as every subcommand, see commands.h).
inline constexpr int exit_timeout = 4;

// Failures that do not heal by waiting: the agent does not retry not_found
// and unauthorized until something changes, and a full disk stays full.
// Other reasons (network, timeout, rate_limited, other) are retried by the
// agents with backoff: wait keeps waiting and names them if it times out.
bool is_final_pull_failure(std::string_view reason);

struct Failure {
  std::string reason;              // not_found, unauthorized, ...
  std::string message;             // the engine's
  std::vector<std::string> nodes;  // hostnames (ids when empty); at resolution, those meant
  bool at_registry = false;        // the manager's engine failed to resolve it
};

// One image `wait` follows.
struct Tracked {
  std::string requested;            // canonical, as asked: "10.0.0.1:5000/app:2"
  std::string ref;                  // what the nodes get ("warm" in the answer); empty if refused
  std::uint64_t nodes_desired = 0;  // in the answer to the POST
  // The nodes this request's placement selects, by id (the answer's "nodes");
  // a service may want the same image on more nodes, which wait ignores.
  std::vector<std::string> node_ids{};
  std::vector<Failure> failures{};  // resolution failure from the POST answer
};

// The answer to POST /v1/warm, one Tracked per requested image, in order.
reconcile::Expected<std::vector<Tracked>> decode_warm_answer(const nlohmann::json& answer);

struct NodeState {
  std::string node;   // hostname, or id when it has none
  std::string state;  // pulling, waiting, failed, unknown
};

struct ImageProgress {
  std::string requested{};
  std::string ref{};
  bool listed = false;  // the controller lists it in GET /v1/images
  std::uint64_t desired = 0;
  std::uint64_t present = 0;
  std::vector<NodeState> missing{};
  std::vector<Failure> failures{};  // grouped by (reason, message), node names sorted
  bool ready() const { return listed && desired > 0 && present >= desired; }
};

enum class Verdict { pending, ready, failed };

struct Progress {
  std::vector<ImageProgress> images;
  Verdict verdict = Verdict::pending;
  // A followed image the controller does not list: it restarted or the
  // request expired; post it again.
  bool needs_repost = false;
};

// What the POST answer alone decides: failed when an image was refused at
// resolution or is placed on no node.
Progress evaluate_answer(const std::vector<Tracked>& tracked);

// Progress from GET /v1/images. Malformed parts of the body count as "not
// listed", never as ready.
Progress evaluate(const std::vector<Tracked>& tracked, const nlohmann::json& images);

// "10.0.0.1:5000/app:2  2/3 nodes" (+ "  ready", or the nodes still missing).
std::string progress_line(const ImageProgress& image);

// Exit 1's message, one line per failed image:
// "wait: 10.0.0.1:5000/app:nope: not_found: manifest unknown on node-2, node-3"
// "wait: 10.0.0.1:5000/app:nope: not_found: ... at the registry (resolved by the manager)"
// "wait: 10.0.0.1:5000/app:2: no ready, active node matches the placement"
std::string failure_message(const Progress& progress);

// Exit 4's message: what is still missing where.
// "wait: timed out after 1s: 10.0.0.1:5000/app:2 1/3 nodes, missing on node-2 (pulling), ..."
std::string timeout_message(const Progress& progress, std::chrono::milliseconds timeout);

}  // namespace swarm_prepull::cli::wait
