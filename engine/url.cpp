#include "engine/url.h"

#include <nlohmann/json.hpp>

namespace swarm_prepull::engine {

std::string encode_path_name(std::string_view name) { return percent_encode(name, "/:@"); }

std::string query_string(std::vector<std::pair<std::string_view, std::string>> parameters) {
  std::string query;
  for (const auto& [key, value] : parameters) {
    if (value.empty()) continue;
    query += query.empty() ? '?' : '&';
    query += percent_encode(key);
    query += '=';
    query += percent_encode(value);
  }
  return query;
}

std::string filters_json(const Filters& filters) {
  if (filters.empty()) return {};
  return nlohmann::json(filters).dump();
}

}  // namespace swarm_prepull::engine
