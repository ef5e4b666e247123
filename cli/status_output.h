// What `swarm-prepull status` prints: the image × node matrix of
// api/status_view.h as text that fits a terminal's width, or as JSON. Pure
// functions of the view, so the layout is unit-tested at fixed widths.
//
// Every text from the controller (refs, hostnames, messages) is untrusted:
// it is printed through api::printable, so an escape sequence in a
// hostname cannot move the cursor or change the terminal's title.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "api/status_view.h"

namespace swarm_prepull::cli {

struct StatusLayout {
  std::size_t width = 80;    // columns; ignored with `wide`
  bool wide = false;         // every node a named column, full refs and messages
  double now = 0;            // unix time, for elapsed times and expiries
  std::string controller{};  // the URL, for the header
};

// The lines to print (no trailing newlines); none longer than `width`
// columns unless `wide`.
std::vector<std::string> status_lines(const api::StatusView& view, const StatusLayout& layout);

// The view as one JSON document (--format json), with `now` for elapsed times.
std::string status_json(const api::StatusView& view, double now);

// Columns `text` takes on a terminal, counting each UTF-8 code point as one.
std::size_t display_width(std::string_view text);

}  // namespace swarm_prepull::cli
