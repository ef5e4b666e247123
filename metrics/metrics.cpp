#include "metrics/metrics.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <limits>
#include <sstream>

namespace swarm_prepull::metrics {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

// A reconcile pass is up to four list calls and a diff: milliseconds on a small
// swarm, seconds on a very large one.
const prometheus::Histogram::BucketBoundaries reconcile_buckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
// A pull: from a cached layer (sub-second) to a large image on a slow link.
const prometheus::Histogram::BucketBoundaries pull_buckets = {0.1, 0.25, 0.5, 1,   2.5, 5,   10,
                                                              30,  60,   120, 300, 600, 1800};

std::vector<std::string> to_strings(auto const& values) {
  return std::vector<std::string>(values.begin(), values.end());
}

}  // namespace

bool is_pull_failure_reason(std::string_view reason) {
  return std::find(pull_failure_reasons.begin(), pull_failure_reasons.end(), reason) !=
         pull_failure_reasons.end();
}

LabeledCounters::LabeledCounters(prometheus::Family<prometheus::Counter>& family, std::string label,
                                 const std::vector<std::string>& values) {
  for (const auto& value : values) counters_.emplace(value, &family.Add({{label, value}}));
}

prometheus::Counter& LabeledCounters::at(std::string_view value) const {
  auto found = counters_.find(value);
  if (found == counters_.end()) {
    throw std::out_of_range("metric label value not registered: " + std::string(value));
  }
  return *found->second;
}

void PlanGauges::set(const std::map<std::string, double>& values) {
  for (auto it = gauges_.begin(); it != gauges_.end();) {
    if (values.find(it->first) == values.end()) {
      family_.Remove(it->second);
      it = gauges_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [value, number] : values) {
    auto [entry, inserted] = gauges_.try_emplace(value, nullptr);
    if (inserted) entry->second = &family_.Add({{label_, value}});
    entry->second->Set(number);
  }
}

CommonMetrics::CommonMetrics(prometheus::Registry& registry,
                             const std::vector<std::string>& engine_endpoints)
    : cache_hits(BuildCounter()
                     .Name("swarm_prepull_cache_hits_total")
                     .Help("Checks of a desired (node, image) pair that found the image present")
                     .Register(registry)
                     .Add({})),
      cache_misses(BuildCounter()
                       .Name("swarm_prepull_cache_misses_total")
                       .Help("Checks of a desired (node, image) pair that found the image missing")
                       .Register(registry)
                       .Add({})),
      cache_hit_ratio(BuildGauge()
                          .Name("swarm_prepull_cache_hit_ratio")
                          .Help("Present / desired (node, image) pairs now (1 when none desired)")
                          .Register(registry)
                          .Add({})),
      reconcile_duration(BuildHistogram()
                             .Name("swarm_prepull_reconcile_duration_seconds")
                             .Help("Duration of reconcile passes, failed ones included")
                             .Register(registry)
                             .Add({}, reconcile_buckets)),
      reconcile_errors(BuildCounter()
                           .Name("swarm_prepull_reconcile_errors_total")
                           .Help("Reconcile passes that failed")
                           .Register(registry)
                           .Add({})),
      last_reconcile_success(
          BuildGauge()
              .Name("swarm_prepull_last_reconcile_success_timestamp_seconds")
              .Help("Unix time of the last reconcile pass that succeeded (0: none yet)")
              .Register(registry)
              .Add({})),
      engine_requests(BuildCounter()
                          .Name("swarm_prepull_engine_requests_total")
                          .Help("Requests sent to the Docker engine, by API endpoint")
                          .Register(registry),
                      "endpoint", engine_endpoints) {
  cache_hit_ratio.Set(1);
}

ControllerMetrics::ControllerMetrics(prometheus::Registry& registry)
    : common(registry, to_strings(controller_engine_endpoints)),
      image_nodes_desired(BuildGauge()
                              .Name("swarm_prepull_image_nodes_desired")
                              .Help("Nodes that should hold the image, per the current plan")
                              .Register(registry),
                          "image"),
      image_nodes_present(BuildGauge()
                              .Name("swarm_prepull_image_nodes_present")
                              .Help("Nodes that should hold the image and report it present")
                              .Register(registry),
                          "image"),
      node_images_missing(BuildGauge()
                              .Name("swarm_prepull_node_images_missing")
                              .Help("Desired images the node has not reported present")
                              .Register(registry),
                          "node"),
      node_disk_free(BuildGauge()
                         .Name("swarm_prepull_disk_free_bytes")
                         .Help("Bytes free on each node's engine data root, as its agent reports")
                         .Register(registry),
                     "node"),
      node_disk_size(BuildGauge()
                         .Name("swarm_prepull_disk_size_bytes")
                         .Help("Size of each node's engine data root filesystem, as its agent "
                               "reports")
                         .Register(registry),
                     "node"),
      node_gc_candidate_bytes(BuildGauge()
                                  .Name("swarm_prepull_gc_candidate_bytes")
                                  .Help("Bytes of the images each node's agent would remove at "
                                        "its last GC pass, as its agent reports")
                                  .Register(registry),
                              "node"),
      node_gc_reclaimed_bytes(BuildGauge()
                                  .Name("swarm_prepull_gc_reclaimed_bytes")
                                  .Help("Bytes of images each node's agent removed since it "
                                        "started (in dry-run: would have), as it reports")
                                  .Register(registry),
                              "node"),
      image_resolve_failed(
          BuildGauge()
              .Name("swarm_prepull_image_resolve_failed")
              .Help("1 while a warm-requested image is recorded as not resolvable by the manager")
              .Register(registry),
          "image"),
      registry_backoff(BuildGauge()
                           .Name("swarm_prepull_registry_backoff_seconds")
                           .Help("Seconds until new pull grants resume for a registry that "
                                 "answered 429 (0: not paused, its next pause is longer)")
                           .Register(registry),
                       "registry"),
      registry_pulls_granted(BuildGauge()
                                 .Name("swarm_prepull_registry_pulls_granted")
                                 .Help("Nodes allowed to pull an image of the registry now, "
                                       "among those that do not hold it")
                                 .Register(registry),
                             "registry"),
      agents_connected([&]() -> prometheus::Gauge& {
        return BuildGauge()
            .Name("swarm_prepull_agents")
            .Help("Agents seen since start, by whether they reported or polled recently")
            .Register(registry)
            .Add({{"state", "connected"}});
      }()),
      agents_stale(BuildGauge()
                       .Name("swarm_prepull_agents")
                       .Help("Agents seen since start, by whether they reported or polled recently")
                       .Register(registry)
                       .Add({{"state", "stale"}})),
      tag_digest_changes(BuildCounter()
                             .Name("swarm_prepull_image_tag_digest_changes_total")
                             .Help("Desired tags found naming another digest at the registry "
                                   "than when last resolved")
                             .Register(registry)
                             .Add({})),
      services_unpinned(BuildGauge()
                            .Name("swarm_prepull_services_unpinned")
                            .Help("Services whose current spec's image has a tag and no digest, "
                                  "so that nodes may run different content")
                            .Register(registry)
                            .Add({})),
      nodes_held(BuildGauge()
                     .Name("swarm_prepull_nodes_held")
                     .Help("Nodes that joined and are paused by swarm-prepull until they hold "
                           "the images of their running services")
                     .Register(registry)
                     .Add({})),
      node_hold_timeouts(BuildCounter()
                             .Name("swarm_prepull_node_hold_timeouts_total")
                             .Help("Held nodes set active again when --hold-new-nodes ran out, "
                                   "before they held every image")
                             .Register(registry)
                             .Add({})),
      node_warm_seconds(
          BuildHistogram()
              .Name("swarm_prepull_node_warm_seconds")
              .Help("Seconds from a node joining to it holding every image of "
                    "its running services")
              .Register(registry)
              .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 5, 10, 20, 30, 60, 120, 300,
                                                               600, 1800})),
      long_poll_wake(
          BuildHistogram()
              .Name("swarm_prepull_long_poll_wake_seconds")
              .Help("Seconds from a node's new desired set being published to the "
                    "answer of its agent's held long poll")
              .Register(registry)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                               0.25, 0.5, 1, 2.5})),
      cache_fills(BuildCounter()
                      .Name("swarm_prepull_cache_fills_total")
                      .Help("Images copied into the cluster's cache registry, by outcome")
                      .Register(registry),
                  "outcome", {"copied", "failed"}),
      cache_fill_bytes(BuildCounter()
                           .Name("swarm_prepull_cache_fill_bytes_total")
                           .Help("Blob bytes read from origin registries to fill the cache")
                           .Register(registry)
                           .Add({})),
      api_requests(BuildCounter()
                       .Name("swarm_prepull_api_requests_total")
                       .Help("Requests to the agent API, by route pattern and answer status")
                       .Register(registry)) {}

AgentMetrics::AgentMetrics(prometheus::Registry& registry,
                           const std::vector<std::string>& engine_endpoints)
    : common(registry, engine_endpoints),
      pull_failures(BuildCounter()
                        .Name("swarm_prepull_pull_failures_total")
                        .Help("Image pulls that failed, by reason")
                        .Register(registry),
                    "reason", to_strings(pull_failure_reasons)),
      pulls_success(BuildCounter()
                        .Name("swarm_prepull_pulls_total")
                        .Help("Image pulls, by result")
                        .Register(registry)
                        .Add({{"result", "success"}})),
      pulls_failure(BuildCounter()
                        .Name("swarm_prepull_pulls_total")
                        .Help("Image pulls, by result")
                        .Register(registry)
                        .Add({{"result", "failure"}})),
      pull_duration(BuildHistogram()
                        .Name("swarm_prepull_pull_duration_seconds")
                        .Help("Duration of image pulls, failed ones included")
                        .Register(registry)
                        .Add({}, pull_buckets)),
      controller_up(BuildGauge()
                        .Name("swarm_prepull_controller_up")
                        .Help("1 when the last exchanges with the controller got a 2xx answer")
                        .Register(registry)
                        .Add({})),
      controller_last_contact(
          BuildGauge()
              .Name("swarm_prepull_controller_last_contact_timestamp_seconds")
              .Help("Unix time of the controller's last 2xx answer (0: none yet)")
              .Register(registry)
              .Add({})),
      controller_last_status(BuildGauge()
                                 .Name("swarm_prepull_controller_last_status")
                                 .Help("HTTP status of the controller's last answer (0: no answer)")
                                 .Register(registry)
                                 .Add({})),
      disk_free(BuildGauge()
                    .Name("swarm_prepull_disk_free_bytes")
                    .Help("Bytes free for unprivileged writers on the engine's data root")
                    .Register(registry)
                    .Add({})),
      disk_size(BuildGauge()
                    .Name("swarm_prepull_disk_size_bytes")
                    .Help("Size in bytes of the filesystem holding the engine's data root")
                    .Register(registry)
                    .Add({})),
      images_held_disk_low(BuildGauge()
                               .Name("swarm_prepull_images_held")
                               .Help("Desired images not pulled for now, by reason")
                               .Register(registry)
                               .Add({{"reason", "disk_low"}})),
      gc_candidates(BuildGauge()
                        .Name("swarm_prepull_gc_candidates")
                        .Help("Images the last GC pass would remove (0 below --gc-high)")
                        .Register(registry)
                        .Add({})),
      gc_candidate_bytes(BuildGauge()
                             .Name("swarm_prepull_gc_candidate_bytes")
                             .Help("Sum of the sizes of the last GC pass's candidates")
                             .Register(registry)
                             .Add({})),
      gc_removed_images(BuildCounter()
                            .Name("swarm_prepull_gc_removed_images_total")
                            .Help("Images removed by GC (mode=\"dry-run\": would have been)")
                            .Register(registry),
                        "mode", {"dry-run", "on"}),
      gc_reclaimed_bytes(BuildCounter()
                             .Name("swarm_prepull_gc_reclaimed_bytes_total")
                             .Help("Sizes of the images removed by GC (mode=\"dry-run\": would "
                                   "have been)")
                             .Register(registry),
                         "mode", {"dry-run", "on"}),
      gc_removal_failures(BuildCounter()
                              .Name("swarm_prepull_gc_removal_failures_total")
                              .Help("Image removals by GC that the engine refused")
                              .Register(registry)
                              .Add({})),
      cache_pulls(BuildCounter()
                      .Name("swarm_prepull_cache_pulls_total")
                      .Help("Pulls whose layers the cluster's cache registry served")
                      .Register(registry)
                      .Add({})),
      cache_fallbacks(BuildCounter()
                          .Name("swarm_prepull_cache_fallbacks_total")
                          .Help("Pulls through the cache that fell back to the origin, by the "
                                "cache pull's failure reason")
                          .Register(registry),
                      "reason", to_strings(pull_failure_reasons)),
      pulls_withdrawn(BuildCounter()
                          .Name("swarm_prepull_pulls_withdrawn_total")
                          .Help("Pulls cancelled because the controller gave their grant to a "
                                "node where swarm starts a task")
                          .Register(registry)
                          .Add({})) {
  // An agent without a current desired set does not know its ratio: NaN is
  // Prometheus' "unknown", where the common 1 would read healthy.
  common.cache_hit_ratio.Set(std::numeric_limits<double>::quiet_NaN());
  disk_free.Set(std::numeric_limits<double>::quiet_NaN());
  disk_size.Set(std::numeric_limits<double>::quiet_NaN());
}

std::string serialize(const prometheus::Registry& registry) {
  std::ostringstream out;
  prometheus::TextSerializer{}.Serialize(out, registry.Collect());
  return out.str();
}

http::Response metrics_response(const prometheus::Registry& registry,
                                const http::Request& request) {
  return http::make_response(request, http::status::ok, serialize(registry),
                             "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace swarm_prepull::metrics
