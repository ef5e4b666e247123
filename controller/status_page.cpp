#include "controller/status_page.h"

#include <cmath>
#include <ctime>
#include <limits>
#include <sstream>

namespace swarm_prepull::controller {
namespace {

using api::CellState;

// Texts are cut before they are escaped: a failure message can be as long
// as an agent's report allows, and a 200 × 200 page must stay small.
std::string text(std::string_view value, std::size_t limit = 300) {
  return html_escape(api::printable(value, limit));
}

std::string utc(double unix_seconds) {
  if (!std::isfinite(unix_seconds) || unix_seconds <= 0 || unix_seconds > 4e9) return "-";
  const std::time_t seconds = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buffer;
}

// A cell's hover text: the node, the state and why.
std::string cell_title(const api::StatusNode& node, const api::StatusCell& cell, double now) {
  std::string title = node.name() + ": ";
  switch (cell.state) {
    case CellState::present:
      return title + "present";
    case CellState::pulling:
      return title + "pulling" +
             (cell.since > 0 ? " for " + api::format_elapsed(now - cell.since) : std::string());
    case CellState::waiting:
      return title + "waiting (to be checked or pulled, or backing off after a failure)";
    case CellState::held:
      if (!cell.message.empty()) return title + "held: " + cell.message;
      return title + "held: the per-image pull cap (--max-parallel-node-pulls) lets other " +
             "nodes pull first";
    case CellState::failed:
      return title + "failed: " + cell.reason + (cell.message.empty() ? "" : ": " + cell.message);
    case CellState::unknown:
      return title + "not reported by its agent yet" +
             (node.agent.empty() ? std::string() : " (" + node.agent + ")");
    case CellState::not_desired:
      return title + "not wanted on this node";
  }
  return title;
}

constexpr std::string_view style = R"(
body{font:13px/1.35 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328;background:#fff}
header{padding:8px 12px;border-bottom:1px solid #d0d7de}
h1{font-size:16px;margin:0 0 4px}
h2{font-size:14px;margin:12px 12px 4px}
.summary{font-weight:600;margin:2px 0}
.summary.ready{color:#1a7f37}.summary.not-ready{color:#cf222e}
.facts span{margin-right:1.2em;white-space:nowrap}
form{margin:6px 0 0}
input{font:inherit;padding:2px 4px;width:14em}
.matrix{overflow:auto;max-height:calc(100vh - 120px);border-bottom:1px solid #d0d7de}
table{border-collapse:separate;border-spacing:0}
thead th{position:sticky;top:0;background:#f6f8fa;z-index:2;vertical-align:bottom}
thead th.corner{left:0;z-index:3;text-align:left}
th.node{font-weight:normal;padding:4px 0}
th.node span{writing-mode:vertical-rl;transform:rotate(180deg);display:inline-block;max-height:12em;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
th.node.inactive span,th.node.no-agent span{color:#9a6700}
tbody th{position:sticky;left:0;background:#fff;z-index:1;text-align:left;font-weight:normal;white-space:nowrap;max-width:32em;overflow:hidden;text-overflow:ellipsis;padding:0 6px 0 4px}
tbody th small{color:#656d76;margin-left:.6em}
tbody tr.failed th{border-left:3px solid #cf222e}
tbody tr.missing th{border-left:3px solid #bf8700}
tbody tr.ready th{border-left:3px solid #1a7f37}
td.count{text-align:right;padding:0 6px;white-space:nowrap;font-variant-numeric:tabular-nums}
td.c{min-width:14px;height:16px;text-align:center;font:10px/16px monospace;border:1px solid #fff;padding:0}
td.present,i.present{background:#2da44e;color:#fff}
td.pulling,i.pulling{background:#0969da;color:#fff}
td.waiting,i.waiting{background:#d4a72c}
td.held,i.held{background:#f5e0a3}
td.failed,i.failed{background:#cf222e;color:#fff}
td.unknown,i.unknown{background:#8c959f;color:#fff}
td.not_desired,i.not_desired{background:#f6f8fa}
ul{margin:0 12px 8px;padding-left:1.2em}
footer{padding:8px 12px;color:#656d76}
footer span{display:inline-block;margin-right:1em}
footer i{display:inline-block;width:12px;height:12px;vertical-align:middle;margin-right:3px}
)";

}  // namespace

std::string html_escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : api::printable(value, std::numeric_limits<std::size_t>::max())) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string render_status_page(const api::StatusView& view, const StatusPageOptions& options) {
  const double now = options.now;
  std::size_t not_ready = 0, failed = 0;
  for (const auto& row : view.rows) {
    not_ready += row.ready ? 0 : 1;
    failed += row.failed ? 1 : 0;
  }
  const std::string summary =
      view.ready ? std::string("Ready: every image is present on every node that wants it")
                 : "Not ready: " + std::to_string(not_ready) + " of " +
                       std::to_string(view.rows.size()) + " images not present everywhere" +
                       (failed > 0 ? ", " + std::to_string(failed) + " with failures" : "");
  std::string page;
  page.reserve(4096 + view.rows.size() * (200 + view.nodes.size() * 24));
  page += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  page +=
      "<meta http-equiv=\"refresh\" content=\"" + std::to_string(options.refresh.count()) + "\">";
  page += "<meta name=\"viewport\" content=\"width=device-width\">";
  page += "<title>swarm-prepull: " + html_escape(summary) + "</title>";
  page += "<style>" + std::string(style) + "</style></head>\n<body>\n<header>";
  page += "<h1>swarm-prepull</h1>";
  page += std::string("<p class=\"summary ") + (view.ready ? "ready" : "not-ready") +
          "\" id=\"summary\">" + html_escape(summary) + "</p>";
  page += "<p class=\"facts\">";
  page += "<span id=\"reconciled\">last reconcile: " + utc(view.reconciled_at);
  if (view.reconciled_at > 0)
    page += " (" + api::format_elapsed(now - view.reconciled_at) + " ago)";
  page += "</span><span>generation " + std::to_string(view.generation) + "</span>";
  page += "<span id=\"agents\">agents: " + std::to_string(view.agents_heard) + " connected, " +
          std::to_string(view.agents_not_heard) + " not heard from</span>";
  page += "<span id=\"hit-ratio\">hit ratio " + api::format_percent(view.hit_ratio()) + " (" +
          std::to_string(view.pairs_present) + " of " + std::to_string(view.pairs_desired) +
          " image-node pairs present)</span>";
  page += "<span>page of " + utc(now) + ", refreshed every " +
          std::to_string(options.refresh.count()) + " s</span></p>";
  page += "<form method=\"get\" action=\"/\">";
  page +=
      "<input name=\"image\" placeholder=\"image contains\" aria-label=\"image filter\" value=\"" +
      text(options.image_filter, 200) + "\"> ";
  page += "<input name=\"node\" placeholder=\"node contains\" aria-label=\"node filter\" value=\"" +
          text(options.node_filter, 200) + "\"> ";
  page += "<button type=\"submit\">filter</button> <a href=\"/\">all</a>";
  if (view.images_hidden > 0 || view.nodes_hidden > 0) {
    page += " <span>(" + std::to_string(view.images_hidden) + " images and " +
            std::to_string(view.nodes_hidden) + " nodes filtered out)</span>";
  }
  page += "</form></header>\n";

  page += "<div class=\"matrix\"><table id=\"matrix\"><thead><tr>";
  page += "<th class=\"corner\" scope=\"col\">image</th><th scope=\"col\">present</th>";
  for (const auto& node : view.nodes) {
    std::string classes = "node";
    if (!node.availability.empty() && node.availability != "active") classes += " inactive";
    if (!node.agent.empty()) classes += " no-agent";
    std::string title = node.name();
    for (const auto* fact : {&node.role, &node.availability, &node.state}) {
      if (!fact->empty()) title += " · " + *fact;
    }
    if (!node.agent.empty()) title += " · agent: " + node.agent;
    page += "<th class=\"" + classes + "\" scope=\"col\" data-node=\"" + text(node.id, 100) +
            "\" title=\"" + text(title, 600) + "\"><span>" + text(node.name(), 100) +
            "</span></th>";
  }
  page += "</tr></thead>\n<tbody>\n";
  for (const auto& row : view.rows) {
    const char* row_class = row.failed ? "failed" : row.ready ? "ready" : "missing";
    std::string services;
    for (const auto& service : row.services) {
      services += (services.empty() ? "" : ", ") + service;
    }
    page += std::string("<tr class=\"") + row_class + "\" data-ref=\"" + text(row.ref, 600) +
            "\"><th scope=\"row\" title=\"" + text(row.ref, 600) +
            (services.empty() ? "" : "&#10;services: " + text(services, 600)) + "\">" +
            text(api::short_ref(row.ref), 600);
    if (!services.empty()) page += "<small>" + text(services, 120) + "</small>";
    page += "</th><td class=\"count\">" + std::to_string(row.nodes_present) + "/" +
            std::to_string(row.nodes_desired) + "</td>";
    for (std::size_t i = 0; i < row.cells.size(); ++i) {
      const auto& cell = row.cells[i];
      const std::string state(api::to_string(cell.state));
      // The column says which node: a 200 × 200 page stays near 1 MB.
      page += "<td class=\"c " + state + "\"";
      // Present and unwanted cells are most of a large page: their header says enough.
      if (cell.state != CellState::present && cell.state != CellState::not_desired) {
        page += " title=\"" + text(cell_title(view.nodes[i], cell, now), 600) + "\"";
      }
      page += ">";
      page += api::cell_symbol(cell.state);
      page += "</td>";
    }
    page += "</tr>\n";
  }
  page += "</tbody></table></div>\n";
  if (view.rows.empty()) page += "<p style=\"margin:12px\">No image is desired on any node.</p>";

  // Failures in words: the reason a coloured cell only hints at.
  std::string failures;
  for (const auto& row : view.rows) {
    for (const auto& failure : row.resolve_failures) {
      failures += "<li><b>" + text(row.ref, 600) +
                  "</b> at the registry: " + text(api::to_string(failure.reason)) + ": " +
                  text(failure.message) + "</li>";
    }
    for (std::size_t i = 0; i < row.cells.size(); ++i) {
      const auto& cell = row.cells[i];
      if (cell.state != CellState::failed) continue;
      failures += "<li><b>" + text(row.ref, 600) + "</b> on " + text(view.nodes[i].name(), 100) +
                  ": " + text(cell.reason, 40) +
                  (cell.message.empty() ? "" : ": " + text(cell.message)) + "</li>";
    }
  }
  if (!failures.empty()) {
    page += "<h2>Failures</h2><ul id=\"failures\">" + failures + "</ul>\n";
  }
  if (!view.warm.empty()) {
    page += "<h2>Warm requests</h2><ul id=\"warm\">";
    for (const auto& request : view.warm) {
      page += "<li>" + text(request.id, 64) + ": ";
      for (std::size_t i = 0; i < request.images.size() && i < 20; ++i) {
        page += (i > 0 ? ", " : "") + text(api::short_ref(request.images[i]), 300);
      }
      if (request.images.size() > 20) {
        page += " and " + std::to_string(request.images.size() - 20) + " more";
      }
      if (request.expires_at > 0) {
        page += "; expires in " + api::format_elapsed(request.expires_at - now);
      }
      page += "</li>";
    }
    page += "</ul>\n";
  }
  page += "<footer>";
  for (const auto state :
       {CellState::present, CellState::pulling, CellState::waiting, CellState::held,
        CellState::failed, CellState::unknown, CellState::not_desired}) {
    const std::string name(api::to_string(state));
    page +=
        "<span><i class=\"" + name + "\"></i>" + api::cell_symbol(state) + " " + name + "</span>";
  }
  page +=
      "<span>Hover a cell for why; the same answer as GET /v1/images and "
      "<code>swarm-prepull status</code>.</span></footer>\n</body></html>\n";
  return page;
}

std::string render_status_page_unavailable(std::chrono::seconds refresh) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta http-equiv=\"refresh\" content=\"" +
         std::to_string(refresh.count()) +
         "\"><title>swarm-prepull: starting</title></head><body><p id=\"summary\">"
         "No reconcile has completed yet; this page refreshes itself.</p></body></html>\n";
}

}  // namespace swarm_prepull::controller
