#include "api/status_view.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

namespace swarm_prepull::api {
namespace {

bool contains_any(const std::vector<std::string>& needles, std::string_view text) {
  return std::any_of(needles.begin(), needles.end(), [&](const std::string& needle) {
    return text.find(needle) != std::string_view::npos;
  });
}

CellState cell_state_of(const ListedNode& node) {
  if (!node.state) return node.held ? CellState::held : CellState::unknown;
  // Present, yet listed as not present: a tag whose content moved, which the
  // agent pulls anew.
  if (*node.state == ImageState::present) return CellState::waiting;
  if (*node.state == ImageState::pulling) return CellState::pulling;
  if (*node.state == ImageState::failed) return CellState::failed;
  if (*node.state == ImageState::waiting) return node.held ? CellState::held : CellState::waiting;
  // Any other state an agent reports is one in which it starts no pull for now.
  return CellState::held;
}

// Hostnames in their natural order: node-2 before node-10.
bool natural_less(std::string_view a, std::string_view b) {
  std::size_t i = 0, j = 0;
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      std::size_t end_a = i, end_b = j;
      while (end_a < a.size() && digit(a[end_a])) ++end_a;
      while (end_b < b.size() && digit(b[end_b])) ++end_b;
      // Without leading zeros, the longer run is the larger number.
      auto run_a = a.substr(i, end_a - i), run_b = b.substr(j, end_b - j);
      while (run_a.size() > 1 && run_a.front() == '0') run_a.remove_prefix(1);
      while (run_b.size() > 1 && run_b.front() == '0') run_b.remove_prefix(1);
      if (run_a.size() != run_b.size()) return run_a.size() < run_b.size();
      if (run_a != run_b) return run_a < run_b;
      i = end_a;
      j = end_b;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  if (a.size() - i != b.size() - j) return a.size() - i < b.size() - j;
  return a < b;
}

// Rank of a row in the listing: what needs attention first.
int rank(const StatusRow& row) { return row.failed ? 0 : row.ready ? 2 : 1; }

}  // namespace

std::string_view to_string(CellState state) {
  switch (state) {
    case CellState::present:
      return "present";
    case CellState::pulling:
      return "pulling";
    case CellState::waiting:
      return "waiting";
    case CellState::held:
      return "held";
    case CellState::failed:
      return "failed";
    case CellState::unknown:
      return "unknown";
    case CellState::not_desired:
      return "not_desired";
  }
  return "unknown";
}

StatusView status_view(const ImagesListing& listing, const StatusFilter& filter) {
  StatusView view;
  view.generation = listing.generation;
  view.reconciled_at = std::isfinite(listing.reconciled_at) ? listing.reconciled_at : 0;
  view.warm = listing.warm;

  // Columns: the swarm's nodes, and any other node the images name (a
  // controller that predates `nodes` names only those).
  std::map<std::string, StatusNode> by_id;
  for (const auto& node : listing.nodes) {
    by_id.try_emplace(node.id, StatusNode{.id = node.id,
                                          .hostname = node.hostname,
                                          .role = node.role,
                                          .availability = node.availability,
                                          .state = node.state,
                                          .agent = node.agent});
  }
  const auto note_node = [&](const std::string& id, const std::string& hostname,
                             const std::string* agent) {
    if (id.empty()) return;
    auto [it, added] = by_id.try_emplace(id, StatusNode{.id = id, .hostname = hostname});
    if (added && agent != nullptr) it->second.agent = *agent;
  };
  for (const auto& image : listing.images) {
    for (const auto& node : image.nodes) note_node(node.id, node.hostname, &node.agent);
    for (const auto& failure : image.failures) note_node(failure.node, failure.hostname, nullptr);
    for (const auto& id : image.present_on) note_node(id, "", nullptr);
    view.pairs_desired += image.nodes_desired;
    view.pairs_present += std::min(image.nodes_present, image.nodes_desired);
  }
  std::vector<StatusNode> all;
  all.reserve(by_id.size());
  for (auto& [id, node] : by_id) all.push_back(std::move(node));
  std::sort(all.begin(), all.end(), [](const StatusNode& a, const StatusNode& b) {
    if (a.name() != b.name()) return natural_less(a.name(), b.name());
    return a.id < b.id;
  });
  for (auto& node : all) {
    if (!filter.nodes.empty() && !contains_any(filter.nodes, node.hostname) &&
        !contains_any(filter.nodes, node.id)) {
      ++view.nodes_hidden;
      continue;
    }
    (node.agent.empty() ? view.agents_heard : view.agents_not_heard) += 1;
    view.nodes.push_back(std::move(node));
  }
  std::map<std::string_view, std::size_t> column;
  for (std::size_t i = 0; i < view.nodes.size(); ++i) column.emplace(view.nodes[i].id, i);

  const bool by_node = !filter.nodes.empty();
  for (const auto& image : listing.images) {
    if (!filter.images.empty() && !contains_any(filter.images, image.ref)) {
      ++view.images_hidden;
      continue;
    }
    StatusRow row{.ref = image.ref,
                  .services = image.services,
                  .nodes_desired = image.nodes_desired,
                  .nodes_present = image.nodes_present,
                  .cells = std::vector<StatusCell>(view.nodes.size())};
    for (const auto& id : image.present_on) {
      if (auto at = column.find(id); at != column.end()) {
        row.cells[at->second].state = CellState::present;
      }
    }
    for (const auto& node : image.nodes) {
      auto at = column.find(node.id);
      if (at == column.end()) continue;
      auto& cell = row.cells[at->second];
      cell.state = cell_state_of(node);
      if (cell.state == CellState::pulling && std::isfinite(node.since)) cell.since = node.since;
      // Why an agent holds it (disk_low: how much space is left), when it says.
      if (cell.state == CellState::held) cell.message = node.message;
    }
    for (const auto& failure : image.failures) {
      if (failure.stage == FailureStage::resolve || failure.node.empty()) {
        if (!by_node) row.resolve_failures.push_back(failure);
        continue;
      }
      auto at = column.find(failure.node);
      if (at == column.end()) continue;
      auto& cell = row.cells[at->second];
      cell.state = CellState::failed;
      cell.reason = std::string(to_string(failure.reason));
      cell.message = failure.message;
    }
    const auto is = [&](CellState state) {
      return std::any_of(row.cells.begin(), row.cells.end(),
                         [&](const StatusCell& cell) { return cell.state == state; });
    };
    if (by_node && !is(CellState::present) &&
        std::all_of(row.cells.begin(), row.cells.end(),
                    [](const StatusCell& cell) { return cell.state == CellState::not_desired; })) {
      ++view.images_hidden;  // wanted on none of the shown nodes
      continue;
    }
    row.failed = is(CellState::failed) || !row.resolve_failures.empty();
    if (by_node) {
      row.ready = !row.failed && std::all_of(row.cells.begin(), row.cells.end(), [](const auto& c) {
        return c.state == CellState::present || c.state == CellState::not_desired;
      });
    } else {
      row.ready = !row.failed && image.nodes_present >= image.nodes_desired;
    }
    view.ready = view.ready && row.ready;
    view.rows.push_back(std::move(row));
  }
  std::stable_sort(view.rows.begin(), view.rows.end(), [](const StatusRow& a, const StatusRow& b) {
    return std::make_tuple(rank(a), std::string_view(a.ref)) <
           std::make_tuple(rank(b), std::string_view(b.ref));
  });
  return view;
}

std::string short_ref(std::string_view ref) {
  constexpr std::string_view marker = "@sha256:";
  constexpr std::size_t kept = 12;  // as docker shortens image ids
  const auto at = ref.find(marker);
  if (at == std::string_view::npos || ref.size() - at - marker.size() <= kept) {
    return std::string(ref);
  }
  return std::string(ref.substr(0, at + marker.size() + kept));
}

std::string format_percent(double ratio) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(1);
  out << (std::isfinite(ratio) ? ratio : 0) * 100 << "%";
  return out.str();
}

char cell_symbol(CellState state) {
  switch (state) {
    case CellState::present:
      return '+';
    case CellState::pulling:
      return '~';
    case CellState::waiting:
      return '.';
    case CellState::held:
      return '=';
    case CellState::failed:
      return 'X';
    case CellState::unknown:
      return '?';
    case CellState::not_desired:
      return '-';
  }
  return '?';
}

std::string format_elapsed(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  // Beyond a year the figure is nonsense (a wrong clock): cap it.
  const auto total = static_cast<long long>(std::min(seconds, 366.0 * 86400));
  const auto two = [](long long value) { return (value < 10 ? "0" : "") + std::to_string(value); };
  if (total < 60) return std::to_string(total) + "s";
  if (total < 3600) return std::to_string(total / 60) + "m" + two(total % 60) + "s";
  if (total < 86400) return std::to_string(total / 3600) + "h" + two(total / 60 % 60) + "m";
  return std::to_string(total / 86400) + "d" + two(total / 3600 % 24) + "h";
}

}  // namespace swarm_prepull::api
