// The image × node matrix that the controller's status page (GET /) and
// `swarm-prepull status` both draw, computed from one GET /v1/images answer
// and nothing else, so the page and the terminal cannot disagree. Pure: no
// clock (times are the listing's unix seconds; callers pass `now` to render),
// no I/O.
//
// The listing is untrusted input here (the CLI reads it off the network):
// every text is kept as it came, and escaping is each renderer's job.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/messages.h"

namespace swarm_prepull::api {

// What one (image, node) cell shows. `held`: desired and not present, and
// the per-image pull cap keeps the node from pulling it for now.
enum class CellState { present, pulling, waiting, held, failed, unknown, not_desired };
std::string_view to_string(CellState state);

struct StatusCell {
  CellState state = CellState::not_desired;
  std::string reason{};   // failed: the failure reason ("not_found")
  std::string message{};  // failed: the engine's message; held: the agent's, when it gives one
  double since = 0;       // pulling: unix time the pull started, 0 when unknown
  bool operator==(const StatusCell&) const = default;
};

// One column: a node of the swarm.
struct StatusNode {
  std::string id{};
  std::string hostname{};  // may be empty (then the id stands for it)
  std::string role{};
  std::string availability{};  // "active", "pause", "drain"; empty when unknown
  std::string state{};         // "ready", "down", ...; empty when unknown
  std::string agent{};         // why its agent is not heard from; empty while it is
  // What to call it in a header: the hostname, else the id.
  const std::string& name() const { return hostname.empty() ? id : hostname; }
  bool operator==(const StatusNode&) const = default;
};

struct StatusRow {
  std::string ref{};
  std::vector<std::string> services{};
  std::uint64_t nodes_desired = 0;
  std::uint64_t nodes_present = 0;
  std::vector<StatusCell> cells{};  // one per StatusView::nodes, in that order
  // Failures with no node: the registry refused the manager's resolution.
  std::vector<ListedFailure> resolve_failures{};
  bool failed = false;  // a failed cell or a resolve failure
  bool ready = false;   // present on every node that wants it, no failure
  bool operator==(const StatusRow&) const = default;
};

// What to show: images whose ref contains one of `images`, nodes whose
// hostname or id contains one of `nodes` (empty: all).
struct StatusFilter {
  std::vector<std::string> images{};
  std::vector<std::string> nodes{};
};

struct StatusView {
  std::uint64_t generation = 0;
  double reconciled_at = 0;  // unix time; 0 when the controller does not say
  std::vector<StatusNode> nodes{};
  // Failed rows first, then rows not ready, then ready ones; by ref within.
  std::vector<StatusRow> rows{};
  std::vector<ListedWarm> warm{};
  std::size_t agents_heard = 0;      // nodes whose agent is heard from
  std::size_t agents_not_heard = 0;  // ... and whose is not
  // (image, node) pairs present over pairs desired, the whole cluster's
  // (swarm_prepull_cache_hit_ratio), whatever the filter.
  std::uint64_t pairs_desired = 0;
  std::uint64_t pairs_present = 0;
  double hit_ratio() const {
    return pairs_desired == 0 ? 1.0 : static_cast<double>(pairs_present) / pairs_desired;
  }
  // Every shown image is present on every shown node that wants it, and none
  // failed: `swarm-prepull status` exits 0.
  bool ready = true;
  // Images and nodes the filter left out.
  std::size_t images_hidden = 0;
  std::size_t nodes_hidden = 0;
};

StatusView status_view(const ImagesListing& listing, const StatusFilter& filter = {});

// Text helpers both renderers use on untrusted text.
// "name@sha256:0123456789ab…" for a digest reference, the ref itself otherwise.
std::string short_ref(std::string_view ref);
// "12s", "3m05s", "2h04m", for an elapsed time in seconds (negative: "0s").
std::string format_elapsed(double seconds);
// "97.5%".
std::string format_percent(double ratio);
// One character per state, the same in the terminal and on the page (for
// who cannot tell the colours apart): + ~ . = X ? and - for not wanted there.
char cell_symbol(CellState state);

}  // namespace swarm_prepull::api
