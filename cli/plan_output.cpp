#include "cli/plan_output.h"

#include <algorithm>
#include <string_view>
#include <vector>

namespace swarm_prepull::cli {
namespace {

void pad_to(std::string& out, std::string_view text, std::size_t width) {
  out.append(text);
  out.append(width - text.size() + 3, ' ');
}

void end_line(std::string& out) {
  while (!out.empty() && out.back() == ' ') out.pop_back();
  out.push_back('\n');
}

}  // namespace

nlohmann::ordered_json plan_to_json(const reconcile::Plan& plan) {
  nlohmann::ordered_json nodes = nlohmann::ordered_json::array();
  for (const reconcile::NodePlan& node : plan.nodes) {
    nlohmann::ordered_json images = nlohmann::ordered_json::array();
    for (std::uint32_t id : node.images) {
      const reconcile::DesiredImage& image = plan.images[id];
      images.push_back({{"ref", image.ref}, {"services", image.services}});
    }
    nodes.push_back(
        {{"id", node.node_id}, {"hostname", node.hostname}, {"images", std::move(images)}});
  }
  nlohmann::ordered_json errors = nlohmann::ordered_json::array();
  for (const reconcile::PlanError& error : plan.errors) {
    errors.push_back({{"service", error.service}, {"message", error.message}});
  }
  return {{"nodes", std::move(nodes)}, {"errors", std::move(errors)}};
}

std::string format_plan_table(const reconcile::Plan& plan) {
  struct Row {
    std::string_view node, id, image;
    std::string services;
  };
  std::vector<Row> rows;
  for (const reconcile::NodePlan& node : plan.nodes) {
    if (node.images.empty()) rows.push_back(Row{node.hostname, node.node_id, "-", "-"});
    bool first = true;
    for (std::uint32_t id : node.images) {
      const reconcile::DesiredImage& image = plan.images[id];
      Row row{first ? std::string_view(node.hostname) : "",
              first ? std::string_view(node.node_id) : "",
              image.ref,
              {}};
      for (const std::string& service : image.services) {
        row.services += (row.services.empty() ? "" : ", ") + service;
      }
      rows.push_back(std::move(row));
      first = false;
    }
  }
  std::size_t node_width = 4, id_width = 2, image_width = 5;
  for (const Row& row : rows) {
    node_width = std::max(node_width, row.node.size());
    id_width = std::max(id_width, row.id.size());
    image_width = std::max(image_width, row.image.size());
  }
  std::string out;
  const auto line = [&](std::string_view node, std::string_view id, std::string_view image,
                        std::string_view services) {
    pad_to(out, node, node_width);
    pad_to(out, id, id_width);
    pad_to(out, image, image_width);
    out.append(services);
    end_line(out);
  };
  line("NODE", "ID", "IMAGE", "SERVICES");
  for (const Row& row : rows) line(row.node, row.id, row.image, row.services);

  if (!plan.errors.empty()) {
    std::size_t service_width = 7;
    for (const reconcile::PlanError& error : plan.errors) {
      service_width = std::max(service_width, error.service.size());
    }
    out.append("\n");
    pad_to(out, "SERVICE", service_width);
    out.append("ERROR\n");
    for (const reconcile::PlanError& error : plan.errors) {
      pad_to(out, error.service, service_width);
      out.append(error.message).push_back('\n');
    }
  }
  return out;
}

nlohmann::ordered_json explanation_to_json(const reconcile::Explanation& explanation) {
  nlohmann::ordered_json nodes = nlohmann::ordered_json::array();
  for (const reconcile::NodeExplanation& node : explanation.nodes) {
    nlohmann::ordered_json services = nlohmann::ordered_json::array();
    for (const reconcile::SourceVerdict& source : node.sources) {
      services.push_back({{"name", source.source},
                          {"spec", source.spec},
                          {"placed", source.placed},
                          {"reason", source.reason}});
    }
    nodes.push_back({{"id", node.node_id},
                     {"hostname", node.hostname},
                     {"placed", node.placed},
                     {"reason", node.reason},
                     {"services", std::move(services)}});
  }
  return {{"image", explanation.image}, {"nodes", std::move(nodes)}};
}

std::string format_explanation_table(const reconcile::Explanation& explanation) {
  std::size_t node_width = 4, id_width = 2;
  for (const reconcile::NodeExplanation& node : explanation.nodes) {
    node_width = std::max(node_width, node.hostname.size());
    id_width = std::max(id_width, node.node_id.size());
  }
  std::string out = "IMAGE " + explanation.image + "\n";
  const auto line = [&](std::string_view node, std::string_view id, std::string_view text) {
    pad_to(out, node, node_width);
    pad_to(out, id, id_width);
    out.append(text);
    end_line(out);
  };
  line("NODE", "ID", "PLACEMENT");
  for (const reconcile::NodeExplanation& node : explanation.nodes) {
    std::string text;
    if (node.placed) {
      // Each source once; "(previous spec)" only when its rollback target
      // alone places it (sources come sorted by name, then spec).
      std::string placers;
      for (std::size_t i = 0; i < node.sources.size(); ++i) {
        const reconcile::SourceVerdict& source = node.sources[i];
        if (!source.placed) continue;
        const bool listed =
            i > 0 && node.sources[i - 1].source == source.source && node.sources[i - 1].placed;
        if (listed) continue;
        const bool current_too = i + 1 < node.sources.size() &&
                                 node.sources[i + 1].source == source.source &&
                                 node.sources[i + 1].placed;
        const bool previous_only = source.spec == "previous spec" && !current_too;
        placers += (placers.empty() ? "" : ", ") + source.source +
                   (previous_only ? " (previous spec)" : "");
      }
      text = "placed (" + placers + ")";
    } else {
      text = "not placed: " + node.reason;
    }
    line(node.hostname, node.node_id, text);
  }
  return out;
}

}  // namespace swarm_prepull::cli
