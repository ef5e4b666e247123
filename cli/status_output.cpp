#include "cli/status_output.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

namespace swarm_prepull::cli {
namespace {

using api::CellState;

// Texts from the controller as a terminal may show them: api::printable
// escapes C0 controls and invalid UTF-8; C1 controls (U+0080..U+009F, 8-bit
// CSI among them) and bidirectional overrides, which can reorder what the
// operator reads, become '?'.
std::string terminal_text(std::string_view text, std::size_t limit = 1000) {
  const std::string safe = api::printable(text, limit);
  std::string out;
  out.reserve(safe.size());
  for (std::size_t i = 0; i < safe.size(); ++i) {
    const auto byte = static_cast<unsigned char>(safe[i]);
    const auto next = i + 1 < safe.size() ? static_cast<unsigned char>(safe[i + 1]) : 0;
    const auto third = i + 2 < safe.size() ? static_cast<unsigned char>(safe[i + 2]) : 0;
    if (byte == 0xc2 && next >= 0x80 && next <= 0x9f) {
      out += '?';
      ++i;
    } else if (byte == 0xe2 && ((next == 0x80 && third >= 0xaa && third <= 0xae) ||
                                (next == 0x81 && third >= 0xa6 && third <= 0xa9))) {
      out += '?';
      i += 2;
    } else {
      out += safe[i];
    }
  }
  return out;
}

// The first `width` columns of `text` (whole code points).
std::string cut(std::string_view text, std::size_t width) {
  std::size_t columns = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    if ((static_cast<unsigned char>(text[i]) & 0xc0) != 0x80) {
      if (columns == width) break;
      ++columns;
    }
    ++i;
  }
  return std::string(text.substr(0, i));
}

// `text` in exactly `width` columns: padded, or cut with a '~' where it was.
// Refs keep their end (the tag or digest tells images apart), other texts
// their start.
std::string fit(std::string_view text, std::size_t width, bool keep_end = false) {
  const std::size_t columns = display_width(text);
  if (columns <= width) return std::string(text) + std::string(width - columns, ' ');
  if (width == 0) return {};
  if (!keep_end) return cut(text, width - 1) + "~";
  // Skip code points from the start until width - 1 columns are left.
  std::size_t drop = columns - (width - 1);
  std::size_t i = 0;
  while (i < text.size() && drop > 0) {
    ++i;
    while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xc0) == 0x80) ++i;
    --drop;
  }
  return "~" + std::string(text.substr(i));
}

std::string pad_left(std::string_view text, std::size_t width) {
  const std::size_t columns = display_width(text);
  return columns >= width ? std::string(text)
                          : std::string(width - columns, ' ') + std::string(text);
}

std::string word(const api::StatusCell& cell, bool wide, double now) {
  switch (cell.state) {
    case CellState::present:
      return "ok";
    case CellState::pulling:
      if (wide && cell.since > 0) return "pull " + api::format_elapsed(now - cell.since);
      return "pull";
    case CellState::waiting:
      return "wait";
    case CellState::held:
      return "held";
    case CellState::failed:
      return wide && !cell.reason.empty() ? "FAIL " + terminal_text(cell.reason, 40) : "FAIL";
    case CellState::unknown:
      return "?";
    case CellState::not_desired:
      return "-";
  }
  return "?";
}

std::vector<std::string> header_lines(const api::StatusView& view, const StatusLayout& layout) {
  std::string first = "controller " + terminal_text(layout.controller, 200) + "  generation " +
                      std::to_string(view.generation);
  if (view.reconciled_at > 0) {
    first += "  reconciled " + api::format_elapsed(layout.now - view.reconciled_at) + " ago";
  }
  std::string second = "agents " + std::to_string(view.agents_heard) + " heard";
  if (view.agents_not_heard > 0) second += ", " + std::to_string(view.agents_not_heard) + " not";
  second += "  hit ratio " + api::format_percent(view.hit_ratio()) + " (" +
            std::to_string(view.pairs_present) + "/" + std::to_string(view.pairs_desired) +
            " image-node pairs)";
  if (!view.warm.empty()) second += "  warm requests " + std::to_string(view.warm.size());
  return {first, second};
}

}  // namespace

std::size_t display_width(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  }));
}

std::vector<std::string> status_lines(const api::StatusView& view, const StatusLayout& layout) {
  const bool wide = layout.wide;
  const std::size_t width = wide ? std::size_t(-1) / 4 : std::max<std::size_t>(layout.width, 20);
  std::vector<std::string> lines;
  for (const auto& line : header_lines(view, layout)) {
    lines.push_back(wide || display_width(line) <= width ? line : fit(line, width));
  }
  lines.emplace_back();

  std::vector<std::string> refs, names, counts;
  for (const auto& row : view.rows) {
    refs.push_back(terminal_text(wide ? row.ref : api::short_ref(row.ref), wide ? 4096 : 512));
    counts.push_back(std::to_string(row.nodes_present) + "/" + std::to_string(row.nodes_desired));
  }
  for (const auto& node : view.nodes) names.push_back(terminal_text(node.name(), 253));
  std::size_t ref_width = 5;  // "IMAGE"
  for (const auto& ref : refs) ref_width = std::max(ref_width, display_width(ref));
  std::size_t count_width = 7;  // "PRESENT"
  for (const auto& count : counts) count_width = std::max(count_width, count.size());
  std::size_t name_width = 4;
  for (const auto& name : names) name_width = std::max(name_width, display_width(name));

  // Words with named columns when every node fits so (always with --wide);
  // otherwise one symbol per node under numbered columns, as many nodes as
  // the width leaves room for.
  const std::size_t n = view.nodes.size();
  std::size_t word_width = name_width;
  if (wide) {
    word_width = name_width;
    for (const auto& row : view.rows) {
      for (const auto& cell : row.cells) {
        word_width = std::max(word_width, display_width(word(cell, true, layout.now)));
      }
    }
  }
  const std::size_t fixed = count_width + 1;
  const std::size_t min_ref = std::min<std::size_t>(ref_width, 24);
  if (!wide) {
    // Names as long as room allows, up to 24 columns; shorter than 10 they
    // no longer tell nodes apart, and numbered columns serve better.
    // Whole references first, then names.
    const auto fitting = [&](std::size_t ref) {
      std::size_t columns = std::min<std::size_t>(name_width, 24);
      while (columns > 10 && fixed + ref + n * (columns + 1) > width) --columns;
      return columns;
    };
    word_width = fitting(ref_width);
    if (fixed + ref_width + n * (word_width + 1) > width) word_width = fitting(min_ref);
  }
  const bool words = wide || fixed + min_ref + n * (word_width + 1) <= width;
  std::size_t shown = n;
  std::size_t cell_width = words ? word_width + 1 : 2;
  if (!words) {
    const std::size_t room = width > fixed + min_ref ? width - fixed - min_ref : 0;
    shown = std::min(n, room / cell_width);
  }
  const std::size_t ref_room = width - fixed - shown * cell_width;
  const std::size_t ref_shown = wide ? ref_width : std::min(ref_width, ref_room);

  const auto line_start = [&](std::string_view ref, std::string_view count) {
    return fit(ref, ref_shown, true) + " " + pad_left(count, count_width);
  };
  if (words) {
    std::string header = line_start("IMAGE", "PRESENT");
    for (const auto& name : names) header += " " + fit(name, word_width);
    lines.push_back(header);
  } else {
    // Column numbers, written downwards; the legend below names them.
    const std::size_t digits = std::to_string(std::max<std::size_t>(shown, 1)).size();
    for (std::size_t d = 0; d < digits; ++d) {
      std::string header = d + 1 == digits ? line_start("IMAGE", "PRESENT") : line_start("", "");
      for (std::size_t i = 0; i < shown; ++i) {
        const std::string number = std::to_string(i + 1);
        const std::size_t pad = digits - number.size();
        header += " ";
        header += d < pad ? ' ' : number[d - pad];
      }
      lines.push_back(header);
    }
  }
  for (std::size_t r = 0; r < view.rows.size(); ++r) {
    std::string line = line_start(refs[r], counts[r]);
    for (std::size_t i = 0; i < shown; ++i) {
      const auto& cell = view.rows[r].cells[i];
      line += " ";
      line += words ? fit(word(cell, wide, layout.now), word_width)
                    : std::string(1, api::cell_symbol(cell.state));
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    lines.push_back(line);
  }
  if (view.rows.empty()) lines.emplace_back("(no image is desired on any node)");

  const auto add = [&](const std::string& line) {
    lines.push_back(wide ? line : fit(line, width));
    while (!lines.back().empty() && lines.back().back() == ' ') lines.back().pop_back();
  };
  if (!words) {
    // The legend of the numbered columns, wrapped at the width.
    std::string line = "nodes:";
    for (std::size_t i = 0; i < shown; ++i) {
      const std::string entry = " " + std::to_string(i + 1) + "=" + names[i];
      if (display_width(line) + display_width(entry) > width && line != "nodes:") {
        add(line);
        line = "      ";
      }
      line += entry;
    }
    add(line);
    if (shown < n) {
      add(std::to_string(n - shown) +
          " more node(s) do not fit: --wide shows them all, --node selects some");
    }
    add("+ present ~ pulling . waiting = held (pull cap) X failed ? no report - not wanted");
  } else {
    add("held: held back by the pull cap  ?: no report yet  -: not wanted there");
  }

  // What failed, where and why: the reason a matrix cell cannot hold.
  std::vector<std::string> failures;
  for (const auto& row : view.rows) {
    const std::string ref = terminal_text(row.ref, 512);
    for (const auto& failure : row.resolve_failures) {
      failures.push_back("failed " + ref +
                         " at the registry: " + terminal_text(api::to_string(failure.reason)) +
                         ": " + terminal_text(failure.message, 300));
    }
    for (std::size_t i = 0; i < row.cells.size(); ++i) {
      const auto& cell = row.cells[i];
      if (cell.state != CellState::failed) continue;
      failures.push_back("failed " + ref + " on " + names[i] + ": " +
                         terminal_text(cell.reason, 40) +
                         (cell.message.empty() ? "" : ": " + terminal_text(cell.message, 300)));
    }
  }
  if (!failures.empty()) lines.emplace_back();
  constexpr std::size_t max_failures = 20;
  for (std::size_t i = 0; i < failures.size(); ++i) {
    if (!wide && i == max_failures) {
      add("... and " + std::to_string(failures.size() - max_failures) +
          " more failure(s) (--wide lists them all)");
      break;
    }
    add(failures[i]);
  }
  for (const auto& node : view.nodes) {
    if (!node.agent.empty())
      add("agent of " + terminal_text(node.name(), 253) + ": " + terminal_text(node.agent, 300));
  }
  for (const auto& request : view.warm) {
    std::string line = "warm request " + terminal_text(request.id, 64) + ": " +
                       std::to_string(request.images.size()) + " image(s)";
    if (request.expires_at > 0) {
      line += ", expires in " + api::format_elapsed(request.expires_at - layout.now);
    }
    add(line);
  }
  if (view.images_hidden > 0 || view.nodes_hidden > 0) {
    add(std::to_string(view.images_hidden) + " image(s) and " + std::to_string(view.nodes_hidden) +
        " node(s) not shown (--image, --node)");
  }
  std::size_t not_ready = 0, failed = 0;
  for (const auto& row : view.rows) {
    not_ready += row.ready ? 0 : 1;
    failed += row.failed ? 1 : 0;
  }
  lines.emplace_back();
  if (view.ready) {
    add("ready: every image is present on every node that wants it");
  } else {
    add("not ready: " + std::to_string(not_ready) + " of " + std::to_string(view.rows.size()) +
        " image(s) not present everywhere" +
        (failed > 0 ? ", " + std::to_string(failed) + " with failures" : ""));
  }
  return lines;
}

std::string status_json(const api::StatusView& view, double now) {
  using nlohmann::json;
  json nodes = json::array();
  for (const auto& node : view.nodes) {
    nodes.push_back({{"id", node.id},
                     {"hostname", node.hostname},
                     {"role", node.role},
                     {"availability", node.availability},
                     {"state", node.state},
                     {"agent", node.agent}});
  }
  json images = json::array();
  for (const auto& row : view.rows) {
    json cells = json::array();
    for (std::size_t i = 0; i < row.cells.size(); ++i) {
      const auto& cell = row.cells[i];
      if (cell.state == CellState::not_desired) continue;
      json entry = {{"node", view.nodes[i].id},
                    {"hostname", view.nodes[i].hostname},
                    {"state", api::to_string(cell.state)}};
      if (cell.state == CellState::failed) entry["reason"] = cell.reason;
      if (!cell.message.empty()) entry["message"] = cell.message;
      if (cell.since > 0) entry["pulling_seconds"] = std::max(0.0, now - cell.since);
      cells.push_back(std::move(entry));
    }
    json resolve = json::array();
    for (const auto& failure : row.resolve_failures) {
      resolve.push_back({{"reason", api::to_string(failure.reason)}, {"message", failure.message}});
    }
    images.push_back({{"ref", row.ref},
                      {"services", row.services},
                      {"nodes_desired", row.nodes_desired},
                      {"nodes_present", row.nodes_present},
                      {"ready", row.ready},
                      {"failed", row.failed},
                      {"nodes", std::move(cells)},
                      {"resolve_failures", std::move(resolve)}});
  }
  json warm = json::array();
  for (const auto& request : view.warm) {
    warm.push_back(
        {{"id", request.id}, {"images", request.images}, {"expires_at", request.expires_at}});
  }
  json document = {{"generation", view.generation},
                   {"ready", view.ready},
                   {"reconciled_at", view.reconciled_at},
                   {"hit_ratio", view.hit_ratio()},
                   {"pairs_desired", view.pairs_desired},
                   {"pairs_present", view.pairs_present},
                   {"agents", {{"heard", view.agents_heard}, {"not_heard", view.agents_not_heard}}},
                   {"nodes", std::move(nodes)},
                   {"images", std::move(images)},
                   {"warm", std::move(warm)},
                   {"images_hidden", view.images_hidden},
                   {"nodes_hidden", view.nodes_hidden}};
  // Replace, not throw: the texts came off the network.
  return document.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace swarm_prepull::cli
