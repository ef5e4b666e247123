// The desired image set of every node, and what each node is missing.
//
// An image belongs on a node when swarm could start a task that runs it there
// (moby/swarmkit manager/scheduler/filter.go: ReadyFilter, ResourceFilter
// against the node's totals, PluginFilter, ConstraintFilter, PlatformFilter;
// reconcile/rules.h). Every service counts, whatever its mode or replica count
// (a service scaled to 0 can be scaled up at any time), with its Spec and its
// PreviousSpec (a rollback target), each placed by its own Placement. An
// image given by ID ("sha256:<hex>") is never pulled by swarm, so it is
// reported in Plan::errors and placed nowhere.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "reconcile/imageset.h"
#include "reconcile/pull_priority.h"
#include "reconcile/swarm.h"

namespace swarm_prepull::reconcile {

// Service labels read from the spec that carries them.
// "true" (any case) on the current Spec leaves the whole service out.
inline constexpr std::string_view skip_label = "swarm-prepull.skip";
// "<ref>,<ref>,...": more images, placed like that spec's own image.
inline constexpr std::string_view images_label = "swarm-prepull.images";

// Swarm's ReadyFilter: only a ready node that is active receives tasks;
// pause, drain, down, disconnected and unknown nodes get nothing
// (node_ready and node_active of reconcile/rules.h).
bool node_is_eligible(const Node& node);

// One image a node should hold, with the services that want it there.
struct DesiredImage {
  std::string ref;                    // canonical: "docker.io/library/redis:7", "name@sha256:..."
  std::vector<std::string> services;  // sorted; an image set shows as "config:<name>"
  // The highest of the priorities it is wanted with on the nodes that list it.
  PullPriority priority = PullPriority::current;
  bool operator==(const DesiredImage&) const = default;
};

struct NodePlan {
  std::string node_id;
  std::string hostname;
  // Indexes into Plan::images, ascending, hence sorted by ref; one per ref.
  // Empty for an ineligible node.
  std::vector<std::uint32_t> images;
  // Those of `images` that a task swarm is starting on this node needs now
  // (mark_starting): ascending, a subset of `images`.
  std::vector<std::uint32_t> starting;
};

// Something that kept one service's (or one image set's) image from the plan.
struct PlanError {
  std::string service;  // service name, or "config:<name>"
  std::string message;  // "image 'Redis': invalid reference format: ...", prefixed
                        // "previous spec: " when it is the PreviousSpec's
  bool operator==(const PlanError&) const = default;
};

// A plan stores each distinct (ref, services) pair once and lets nodes refer
// to it by index: with thousands of services a node's list is thousands long,
// and a thousand nodes would otherwise hold a million copies of the same few
// thousand strings.
struct Plan {
  std::vector<DesiredImage> images;  // distinct, sorted by ref then services
  std::vector<NodePlan> nodes;       // every input node, sorted by hostname then id
  std::vector<PlanError> errors;     // sorted by service then message
};

// An image set: a config labelled swarm-prepull.imageset=true, its document
// read outside reconcile/ (compose/imageset_document.h), or a warm request of
// `swarm-prepull wait` held by the controller. `source` is how the plan
// names it among the services ("config:<name>", "warm:<id>").
struct NamedImageSet {
  std::string source;
  ImageSet set;
  // Why the document is invalid: the set places nothing and this is listed
  // in Plan::errors under `source`.
  std::optional<Error> error;
};

// The desired images of every node from the swarm's nodes, services and
// image sets. Bad input is reported in Plan::errors and keeps only what it
// concerns out of the plan: a reference that does not parse, that image; a
// constraint that does not parse, every image of its spec (the other spec of
// the same service is placed as usual); an invalid image set, that set.
Plan desired_images(const std::vector<Node>& nodes, const std::vector<Service>& services,
                    const std::vector<NamedImageSet>& sets = {});

// The same with two lists of sets (the configs' and the warm requests'),
// which the controller keeps apart: the first are `declared`, the second
// `urgent` (a pipeline waits on them).
Plan desired_images(const std::vector<Node>& nodes, const std::vector<Service>& services,
                    const std::vector<NamedImageSet>& sets,
                    const std::vector<NamedImageSet>& more_sets);

// Swarm is rolling the service's tasks over to its Spec: an update or a
// rollback in progress (UpdateStatus.State updating or rollback_started).
bool service_updating(const Service& service);

// A task that swarm has placed on a node and is starting: assigned to it and
// not running yet (assigned, accepted, preparing, ready, starting). Its
// node's executor pulls the image in `preparing` (moby's
// daemon/cluster/executor/container/controller.go, Prepare), so the node
// needs it now, ahead of anything it may need later.
bool task_starting(const Task& task);

// Fills each NodePlan::starting from the tasks swarm is starting: the node's
// desired entries whose ref is the canonical form of such a task's image
// (Spec.ContainerSpec.Image, which swarm pins by digest). Tasks whose image
// does not parse, or that their node does not list, mark nothing.
void mark_starting(Plan& plan, const std::vector<Task>& tasks);

// The plan entries of one node, resolved.
std::vector<const DesiredImage*> desired_of(const Plan& plan, const NodePlan& node);
std::vector<std::string> desired_refs(const Plan& plan, const NodePlan& node);
const NodePlan* find_node(const Plan& plan, std::string_view node_id);

// What a node holds (GET /images/json), as canonical references: "name:tag"
// for each RepoTags entry and "name@digest" for each RepoDigests entry, each
// normalized with parse_reference (engines list "redis:latest"); entries that
// do not parse ("<none>:<none>") are left out. Also, for each image, a
// tag_at_digest key for each of its tags paired with each RepoDigests entry
// of the same repository: which content a tag names on this node.
std::unordered_set<std::string> present_refs(const std::vector<Image>& present);

// The present_refs key of a tag (a canonical ref without digest) whose local
// image was pulled as `digest`: "name:tag@digest". Not a reference swarm
// stores (canonical() drops the tag of a pinned ref); only a presence key.
// "" when `tag_ref` does not parse or holds a digest.
std::string tag_at_digest(std::string_view tag_ref, std::string_view digest);

// The desired canonical refs that `present` lacks, in the order given. A tag
// is present when some image lists it in RepoTags. A digest-pinned ref
// (name@digest) is present only when the same repository lists that digest in
// RepoDigests: swarm pulls pinned images by digest and leaves RepoTags empty,
// and a tag says nothing about which digest it currently names.
std::vector<std::string> missing_images(const std::vector<std::string>& desired,
                                        const std::unordered_set<std::string>& present);
std::vector<std::string> missing_images(const std::vector<std::string>& desired,
                                        const std::vector<Image>& present);
std::vector<std::string> missing_images(const Plan& plan, const NodePlan& node,
                                        const std::vector<Image>& present);

}  // namespace swarm_prepull::reconcile
