// Every metric of swarm-prepull, registered once at start-up on a
// prometheus::Registry and handed out as references: code that counts an
// event holds a Counter&, it never looks a family up (prometheus-cpp's own
// pull/src/handler.h caches its Counter& the same way).
//
// Names and labels are defined once here and documented in docs/metrics.md.
// The controller and the agent each expose their own set; what both expose
// (cache checks, reconcile passes, engine requests) is one struct used by both.
// Label values are closed sets, except image and node, bounded by the plan.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "http/server.h"

namespace swarm_prepull::metrics {

// swarm_prepull_pull_failures_total{reason}: the closed set of the agent API.
inline constexpr std::array<std::string_view, 7> pull_failure_reasons = {
    "not_found", "unauthorized", "rate_limited", "network", "timeout", "disk_full", "other"};
bool is_pull_failure_reason(std::string_view reason);

// The engine endpoints the controller calls (label endpoint of
// swarm_prepull_engine_requests_total); the agent passes its own list.
inline constexpr std::array<std::string_view, 7> controller_engine_endpoints = {
    "/_ping", "/nodes", "/services", "/tasks", "/configs", "/events", "/distribution"};

// Counters of one label whose values are all known at start-up.
class LabeledCounters {
 public:
  LabeledCounters(prometheus::Family<prometheus::Counter>& family, std::string label,
                  const std::vector<std::string>& values);
  // The counter of a value given at construction; throws std::out_of_range
  // for another (a programmer error). Look it up once and keep the reference.
  prometheus::Counter& at(std::string_view value) const;

 private:
  std::map<std::string, prometheus::Counter*, std::less<>> counters_;
};

// Gauges of one label whose values come and go with the plan (image, node):
// set() adds the new ones, updates the rest, and removes those no longer
// given, so series of images gone from the plan do not pile up.
class PlanGauges {
 public:
  PlanGauges(prometheus::Family<prometheus::Gauge>& family, std::string label)
      : family_(family), label_(std::move(label)) {}
  void set(const std::map<std::string, double>& values);
  std::size_t size() const { return gauges_.size(); }

 private:
  prometheus::Family<prometheus::Gauge>& family_;
  std::string label_;
  std::map<std::string, prometheus::Gauge*, std::less<>> gauges_;
};

// Both sides: checks of desired (node, image) pairs, reconcile passes, engine calls.
struct CommonMetrics {
  CommonMetrics(prometheus::Registry& registry, const std::vector<std::string>& engine_endpoints);

  prometheus::Counter& cache_hits;            // swarm_prepull_cache_hits_total
  prometheus::Counter& cache_misses;          // swarm_prepull_cache_misses_total
  prometheus::Gauge& cache_hit_ratio;         // swarm_prepull_cache_hit_ratio
  prometheus::Histogram& reconcile_duration;  // swarm_prepull_reconcile_duration_seconds
  prometheus::Counter& reconcile_errors;      // swarm_prepull_reconcile_errors_total
  prometheus::Gauge& last_reconcile_success;  // ..._last_reconcile_success_timestamp_seconds
  LabeledCounters engine_requests;            // swarm_prepull_engine_requests_total{endpoint}
};

struct ControllerMetrics {
  explicit ControllerMetrics(prometheus::Registry& registry);

  CommonMetrics common;
  PlanGauges image_nodes_desired;  // swarm_prepull_image_nodes_desired{image}
  PlanGauges image_nodes_present;  // swarm_prepull_image_nodes_present{image}
  PlanGauges node_images_missing;  // swarm_prepull_node_images_missing{node}
  PlanGauges node_disk_free;       // swarm_prepull_disk_free_bytes{node}, as agents report it
  PlanGauges node_disk_size;       // swarm_prepull_disk_size_bytes{node}
  // Each node's image GC as its agent reports it: the last pass's candidates
  // (swarm_prepull_gc_candidate_bytes{node}) and the bytes removed since the
  // agent started (swarm_prepull_gc_reclaimed_bytes{node}; dry-run: would have).
  PlanGauges node_gc_candidate_bytes;
  PlanGauges node_gc_reclaimed_bytes;
  PlanGauges image_resolve_failed;  // swarm_prepull_image_resolve_failed{image}
  // swarm_prepull_registry_backoff_seconds{registry}: how long new pull
  // grants stay paused after a 429; registries with a backoff only.
  PlanGauges registry_backoff;
  PlanGauges registry_pulls_granted;    // swarm_prepull_registry_pulls_granted{registry}
  prometheus::Gauge& agents_connected;  // swarm_prepull_agents{state="connected"}
  prometheus::Gauge& agents_stale;      // swarm_prepull_agents{state="stale"}
  // swarm_prepull_image_tag_digest_changes_total: a desired tag resolved to
  // another digest than the one known before (tags that move).
  prometheus::Counter& tag_digest_changes;
  prometheus::Gauge& services_unpinned;  // swarm_prepull_services_unpinned
  // New nodes held until warm (--hold-new-nodes, reconcile/node_hold.h).
  prometheus::Gauge& nodes_held;             // swarm_prepull_nodes_held
  prometheus::Counter& node_hold_timeouts;   // swarm_prepull_node_hold_timeouts_total
  prometheus::Histogram& node_warm_seconds;  // swarm_prepull_node_warm_seconds: join -> warm
  // swarm_prepull_long_poll_wake_seconds: a node's new set published -> its
  // held long poll's answer built (the fan-out of a change to the agents).
  prometheus::Histogram& long_poll_wake;
  // Copies into the cluster's cache (--pull-through): by outcome
  // (swarm_prepull_cache_fills_total{outcome="copied|failed"}), and the blob
  // bytes read from origins for them (swarm_prepull_cache_fill_bytes_total).
  LabeledCounters cache_fills;
  prometheus::Counter& cache_fill_bytes;
  // swarm_prepull_api_requests_total{route,code}: route is a route table
  // pattern or "unmatched", code the answer's status: both closed sets.
  prometheus::Family<prometheus::Counter>& api_requests;
};

struct AgentMetrics {
  AgentMetrics(prometheus::Registry& registry, const std::vector<std::string>& engine_endpoints);

  CommonMetrics common;
  LabeledCounters pull_failures;         // swarm_prepull_pull_failures_total{reason}
  prometheus::Counter& pulls_success;    // swarm_prepull_pulls_total{result="success"}
  prometheus::Counter& pulls_failure;    // swarm_prepull_pulls_total{result="failure"}
  prometheus::Histogram& pull_duration;  // swarm_prepull_pull_duration_seconds
  prometheus::Gauge& controller_up;      // swarm_prepull_controller_up
  // swarm_prepull_controller_last_contact_timestamp_seconds
  prometheus::Gauge& controller_last_contact;
  prometheus::Gauge& controller_last_status;  // swarm_prepull_controller_last_status
  // The engine's data root (--data-root), measured every check; NaN when it
  // cannot be measured.
  prometheus::Gauge& disk_free;  // swarm_prepull_disk_free_bytes
  prometheus::Gauge& disk_size;  // swarm_prepull_disk_size_bytes
  // swarm_prepull_images_held{reason="disk_low"}: desired images not pulled
  // because the data root is below --min-free-disk.
  prometheus::Gauge& images_held_disk_low;
  // Image GC (agent/gc_plan.h): the last pass's candidates, and the images
  // and bytes removed, by mode: "on" counts removals, "dry-run" what would
  // have been removed (each image once).
  prometheus::Gauge& gc_candidates;       // swarm_prepull_gc_candidates
  prometheus::Gauge& gc_candidate_bytes;  // swarm_prepull_gc_candidate_bytes
  LabeledCounters gc_removed_images;      // swarm_prepull_gc_removed_images_total{mode}
  LabeledCounters gc_reclaimed_bytes;     // swarm_prepull_gc_reclaimed_bytes_total{mode}
  // swarm_prepull_gc_removal_failures_total: the engine refused a removal
  // (an image a container started to use meanwhile, say).
  prometheus::Counter& gc_removal_failures;
  // Pulls through the cluster's cache (api::DesiredImage::via): those the
  // cache served (swarm_prepull_cache_pulls_total), and those that fell back
  // to the origin, by the cache pull's failure reason
  // (swarm_prepull_cache_fallbacks_total{reason}).
  prometheus::Counter& cache_pulls;
  LabeledCounters cache_fallbacks;
  // swarm_prepull_pulls_withdrawn_total: pulls cancelled because the
  // controller gave their grant to a node where swarm starts a task.
  prometheus::Counter& pulls_withdrawn;
};

// The Prometheus text format (0.0.4) of everything registered.
std::string serialize(const prometheus::Registry& registry);

// GET /metrics for our own http::Server.
http::Response metrics_response(const prometheus::Registry& registry, const http::Request& request);

}  // namespace swarm_prepull::metrics
