// The controller's status page (GET /): the image × node matrix of
// api/status_view.h as one self-contained HTML document. Server-rendered,
// with no script and no external asset (it works air-gapped, and the page
// is served with a Content-Security-Policy that allows neither): it
// refreshes itself with <meta http-equiv="refresh">, and its filter box is a
// GET form the controller applies (?image=...&node=...), so the filter
// survives the refresh.
//
// Every text in the view came from agents, registries and the swarm
// (refs, hostnames, failure messages) and is escaped for HTML.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "api/status_view.h"

namespace swarm_prepull::controller {

struct StatusPageOptions {
  double now = 0;                   // unix time: elapsed times, expiries
  std::chrono::seconds refresh{5};  // the page reloads itself this often
  std::string image_filter{};       // what the filter box shows (as the query gave it)
  std::string node_filter{};
};

std::string render_status_page(const api::StatusView& view, const StatusPageOptions& options);

// The page's answer while no reconcile has completed (served with 503).
std::string render_status_page_unavailable(std::chrono::seconds refresh);

// `text` for HTML text and double-quoted attribute values: & < > " ' as
// references, C0 controls and bytes that are not UTF-8 as \xNN.
std::string html_escape(std::string_view text);

// The Content-Security-Policy the page is served with.
inline constexpr std::string_view status_page_policy =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'";

}  // namespace swarm_prepull::controller
