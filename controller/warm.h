// Warm requests (POST /v1/warm, what `swarm-prepull wait` sends): images to
// pre-pull now, before any service names them, placed by constraints like an
// image set (docs/imagesets.md). The controller holds them in memory only,
// each for a TTL: a restarted controller forgets them, and whoever still
// needs them (a running `wait`) posts again. Without I/O or clock: times
// come in as arguments.
//
// Before a request reaches the agents, the manager's engine resolves each
// image (GET /distribution/{name}/json). Nodes are then given name@digest, so
// every node pulls the same content whatever the tag names later; an image
// the registry does not know (or refuses) is recorded as a failure and given
// to no node.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/messages.h"
#include "controller/state.h"
#include "engine/error.h"
#include "reconcile/expected.h"
#include "reconcile/plan.h"

namespace swarm_prepull::controller {

// A POST /v1/warm body, validated (api/messages.h).
using api::WarmRequest;

// Why the manager's engine could not resolve an image, in the agent API's
// closed set of reasons: not_found (404, "manifest unknown"), unauthorized
// (401/403, "denied", "authentication required"), rate_limited, timeout,
// network (engine or registry unreachable), other.
api::FailureReason resolve_failure_reason(const engine::Error& error);

// not_found and unauthorized are final: the image is given to no node, since
// every node would fail the same way. Other failures say nothing about the
// image (the manager's engine was slow or away): the image is warmed by its
// tag, unpinned, and the agents' own pulls decide.
bool is_final_resolve_failure(api::FailureReason reason);

// One image of an accepted request.
struct WarmImage {
  std::string requested;  // canonical, as requested: "10.0.0.1:5000/app:2"
  std::string ref;        // what nodes are given: name@digest, or `requested` when unresolved
  bool operator==(const WarmImage&) const = default;
};

class WarmRequests {
 public:
  explicit WarmRequests(std::size_t max_requests = 256) : max_requests_(max_requests) {}

  // Adds the request, or refreshes the one with the same images and
  // constraints (its images and expiry are replaced): posting the same
  // request again is idempotent. Returns its id ("warm:" + 12 hex digits),
  // or an error when max_requests are held already.
  reconcile::Expected<std::string> add(const WarmRequest& request, std::vector<WarmImage> images,
                                       Clock::time_point expires);

  void record_failure(ResolveFailure failure, Clock::time_point expires);
  void clear_failure(std::string_view ref);

  // Drops requests and failures that expired at `now`; true when a request
  // went (the plan must be recomputed).
  bool expire(Clock::time_point now);

  // The requests as image sets for reconcile::desired_images, named by id.
  std::vector<reconcile::NamedImageSet> image_sets() const;
  std::vector<ResolveFailure> failures() const;  // sorted by ref
  std::size_t size() const { return requests_.size(); }

  // The requests held, by id, with what their nodes are given and their
  // expiry: for GET /v1/images and the status page.
  struct Held {
    std::string id;
    std::vector<std::string> refs;
    Clock::time_point expires;
  };
  std::vector<Held> held() const;

  // The id a request has (or would have): stable across restarts.
  static std::string id_of(const WarmRequest& request);

 private:
  struct Entry {
    std::vector<WarmImage> images;
    std::vector<std::string> constraints;
    Clock::time_point expires;
  };
  struct FailureEntry {
    ResolveFailure failure;
    Clock::time_point expires;
  };

  std::size_t max_requests_;
  std::map<std::string, Entry, std::less<>> requests_;         // by id
  std::map<std::string, FailureEntry, std::less<>> failures_;  // by requested ref
};

}  // namespace swarm_prepull::controller
