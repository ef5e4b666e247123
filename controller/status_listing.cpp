// The status page's side of the controller: the fields of GET /v1/images it
// draws from (which nodes hold each image, the swarm's nodes and agents, warm
// requests), and GET / itself, drawn from that same listing
// (api/status_view.h, controller/status_page.h).
#include <algorithm>
#include <set>

#include "api/status_view.h"
#include "controller/controller.h"
#include "controller/status_page.h"

namespace swarm_prepull::controller {
namespace {

double unix_seconds(std::chrono::system_clock::time_point time) {
  return std::chrono::duration<double>(time.time_since_epoch()).count();
}

}  // namespace

void Controller::add_status_fields(api::ImagesListing& listing,
                                   std::map<std::string, std::string>& notes, Clock::time_point now,
                                   const RefSet* only) {
  const auto wall_now = std::chrono::system_clock::now();
  const auto note_of = [&](const std::string& id) -> const std::string& {
    auto note = notes.find(id);
    if (note == notes.end()) note = notes.emplace(id, agent_note(id, now)).first;
    return note->second;
  };
  listing.reconciled_at = metrics_.common.last_reconcile_success.Value();

  // Who wants each image: the published sets (with their pull grants).
  struct Wanted {
    std::vector<std::string> nodes;
    std::set<std::string, std::less<>> held;
  };
  std::map<std::string, Wanted, std::less<>> wanted;
  for (const auto& node : state_.plan().nodes) {
    const auto* published = state_.desired(node.node_id);
    if (published == nullptr) continue;
    for (const auto& image : published->images) {
      if (!filter_lists(only, image.ref)) continue;
      auto& entry = wanted[image.ref];
      entry.nodes.push_back(node.node_id);
      if (!image.pull) entry.held.insert(node.node_id);
    }
  }
  std::map<std::string, std::set<std::string>, std::less<>> services;
  for (const auto& image : state_.plan().images) {
    if (!filter_lists(only, image.ref)) continue;
    services[image.ref].insert(image.services.begin(), image.services.end());
  }
  for (auto& image : listing.images) {
    if (auto found = services.find(image.ref); found != services.end()) {
      image.services.assign(found->second.begin(), found->second.end());
    }
    const auto found = wanted.find(image.ref);
    if (found == wanted.end()) continue;
    std::set<std::string_view> missing;
    for (auto& node : image.nodes) {
      missing.insert(node.id);
      node.held = found->second.held.contains(node.id);
      if (const auto* report = state_.reported(node.id, image.ref);
          report != nullptr && node.state == ImageState::pulling) {
        node.since = report->since;
      }
    }
    for (const auto& id : found->second.nodes) {
      if (!missing.contains(id)) image.present_on.push_back(id);
    }
  }

  // A gate's few images: the swarm's nodes and the warm requests are the
  // status page's, and O(nodes) to build.
  if (only != nullptr) return;
  if (snapshot_) {
    for (const auto& node : snapshot_->nodes) {
      api::ClusterNode listed{.id = node.id,
                              .hostname = node.hostname,
                              .role = node.role,
                              .availability = node.availability,
                              .state = node.state,
                              .agent = note_of(node.id)};
      if (const auto* report = state_.last_report(node.id)) {
        listed.disk_free_bytes = report->disk_free_bytes;
        listed.disk_size_bytes = report->disk_size_bytes;
        listed.gc = report->gc;
      }
      listing.nodes.push_back(std::move(listed));
    }
    std::sort(listing.nodes.begin(), listing.nodes.end(), [](const auto& a, const auto& b) {
      return std::tie(a.hostname, a.id) < std::tie(b.hostname, b.id);
    });
  }
  for (auto& request : warm_.held()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::system_clock::duration>(request.expires - now);
    listing.warm.push_back({.id = std::move(request.id),
                            .images = std::move(request.refs),
                            .expires_at = unix_seconds(wall_now + left)});
  }
}

net::awaitable<http::Response> Controller::get_status_page(const http::RequestContext& context) {
  constexpr std::chrono::seconds refresh{5};
  const auto html = [&](http::status code, std::string body) {
    auto response =
        http::make_response(context.request, code, std::move(body), "text/html; charset=utf-8");
    response.set("Content-Security-Policy", status_page_policy);
    response.set("X-Content-Type-Options", "nosniff");
    response.set("Referrer-Policy", "no-referrer");
    return response;
  };
  if (!state_.has_plan()) {
    co_return html(http::status::service_unavailable, render_status_page_unavailable(refresh));
  }
  StatusPageOptions options{.now = unix_seconds(std::chrono::system_clock::now()),
                            .refresh = refresh,
                            .image_filter = context.query_value("image").value_or(""),
                            .node_filter = context.query_value("node").value_or("")};
  api::StatusFilter filter;
  if (!options.image_filter.empty()) filter.images.push_back(options.image_filter);
  if (!options.node_filter.empty()) filter.nodes.push_back(options.node_filter);
  const auto view = api::status_view(images_listing(), filter);
  co_return html(http::status::ok, render_status_page(view, options));
}

}  // namespace swarm_prepull::controller
