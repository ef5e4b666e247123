// The agent API's messages (docs/agent-api.md) as plain structs, with one
// encoder and one decoder each, used by both sides: the agent encodes the
// status report that the controller decodes; the controller encodes the
// desired set, the warm answer and the readiness listing that the agent and
// `swarm-prepull wait` decode. Nothing here does I/O.
//
// Decoders take the body as it came off the wire and never throw, whatever it
// holds (invalid UTF-8, 1e400, wrong types, deep nesting): a body that is not
// the message is a DecodeError naming where ("images[2].state: unknown state
// 'gone'"), which the controller answers with 400 and a client reports as a
// bad response. Error texts are always valid UTF-8: bytes that are not are
// shown as \xNN, so an error body can always be encoded.
//
// Encoders never throw either: text that is not valid UTF-8 (an engine's
// message, say) is encoded with U+FFFD in place of the bad bytes.
#pragma once

#include <array>
#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "reconcile/image_state.h"
#include "reconcile/plan.h"

namespace swarm_prepull::api {

// Why a body is not the message it should be.
struct DecodeError {
  std::string where{};    // "images[2].state"; "body" for the body as a whole
  std::string message{};  // "unknown state 'gone' (expected present, pulling, failed or waiting)"
  // "images[2].state: unknown state 'gone' (...)"
  std::string to_string() const;
};

// Makes Decoded<T>::value() on an error throw a std::invalid_argument with
// to_string() (a programmer error: check first).
[[noreturn]] void throw_exception_from_error(const DecodeError& error,
                                             const boost::source_location& location);

template <class T>
using Decoded = boost::system::result<T, DecodeError>;

// Bodies nested deeper than this are refused before they are parsed (the
// deepest message is 4 levels).
inline constexpr std::size_t max_nesting = 32;

// ---------------------------------------------------------------------------
// The vocabularies: image states and failure reasons.

using reconcile::ImageState;
inline constexpr std::array<ImageState, 5> all_image_states = {
    ImageState::present, ImageState::pulling, ImageState::failed, ImageState::waiting,
    ImageState::held};

// Why an image is held (the only reason so far): its node's data root is
// below the agent's --min-free-disk. Not a FailureReason: nothing was tried.
inline constexpr std::string_view held_reason_disk_low = "disk_low";

// Why a pull (or the manager's resolution of a warm image) failed: a closed
// set, also the values of swarm_prepull_pull_failures_total{reason}.
enum class FailureReason {
  not_found,     // the registry has no such repository, tag or manifest
  unauthorized,  // the registry refused the credentials (or none were sent)
  rate_limited,  // HTTP 429 / toomanyrequests
  network,       // the registry or the engine could not be reached, or the connection broke
  timeout,       // no answer within a bound
  disk_full,     // no space left on device
  other,         // anything else
};
inline constexpr std::array<FailureReason, 7> all_failure_reasons = {
    FailureReason::not_found, FailureReason::unauthorized, FailureReason::rate_limited,
    FailureReason::network,   FailureReason::timeout,      FailureReason::disk_full,
    FailureReason::other};
std::string_view to_string(FailureReason reason);
std::optional<FailureReason> parse_failure_reason(std::string_view text);

// ---------------------------------------------------------------------------
// GET /v1/nodes/{node_id}/desired: 200

struct DesiredImage {
  std::string ref{};  // canonical
  bool pull = true;   // false: the per-image pull cap holds this node back for now
  // The retry epoch of the image's registry: it grows when the controller
  // sees the registry answer again after it did not, and an agent then
  // retries at once a pull of it that failed with network or timeout,
  // instead of waiting out its backoff. 0: never.
  std::uint64_t retry = 0;
  // For a ref by tag (no digest): the digest the controller last resolved the
  // tag to at the registry. The agent counts the tag present only while its
  // local image of that tag lists name@digest in RepoDigests, and pulls the tag
  // again otherwise (the tag moved). Empty: unknown, any local image of the
  // tag counts. Left out of the JSON when empty.
  std::string digest{};
  // Which pulls the agent starts first when it cannot start them all
  // (reconcile::PullPriority). Left out of the JSON when current; an older
  // controller's set reads as all current.
  reconcile::PullPriority priority = reconcile::PullPriority::current;
  // Swarm is starting a task on this node that needs the image now
  // (reconcile::task_starting). While such an image is missing, the agent
  // starts no pull of lower priority. Left out of the JSON when false.
  bool starting = false;
  // The same content by digest in the cluster's cache registry
  // ("cache:5000/team/app@sha256:..."), to pull before `ref` so that the
  // origin serves only the manifest (docs/operations.md, "Pull once per
  // cluster"). Empty: pull `ref` from its registry. Left out of the JSON when
  // empty.
  std::string via{};
  // With pull false: the controller took this node's grant back for a node
  // where swarm is starting a task (controller/pull_grants.h), and a pull of
  // it under way is to be cancelled. Any other pull false (a restarted
  // controller's first grants, a cache fill, a registry's pause) leaves a pull
  // under way alone. Left out of the JSON when false.
  bool withdraw = false;
  bool operator==(const DesiredImage&) const = default;
};

struct DesiredSet {
  std::string node_id{};
  std::string hostname{};
  std::uint64_t generation = 0;
  std::vector<DesiredImage> images{};  // distinct refs
  bool operator==(const DesiredSet&) const = default;
};

std::string encode(const DesiredSet& set);
// `generation` and `images` are required; a ref listed twice is an error.
Decoded<DesiredSet> decode_desired_set(std::string_view body);

// ---------------------------------------------------------------------------
// POST /v1/nodes/{node_id}/status: the body

struct ImageStatus {
  std::string ref{};
  ImageState state = ImageState::waiting;
  FailureReason reason = FailureReason::other;  // failed only (other otherwise)
  // the last failure's, when there is one; held: the free space and threshold
  std::string message{};
  std::uint64_t attempts = 0;  // failed pulls since the last success
  double since = 0;            // pulling: unix time the pull started
  // present, for a tag the desired set gave a digest: the digest the local
  // image of the tag was found to have (DesiredImage::digest). The controller
  // counts the tag present only while this is the digest it expects; empty
  // (an agent that predates digests) counts as any.
  std::string digest{};
  bool operator==(const ImageStatus&) const = default;
};

// What an agent's image garbage collection (agent/gc_plan.h) says of its
// node: its mode, its last pass's candidates, and what it removed since the
// agent started (in dry-run: what it would have removed, each image once).
struct GcSummary {
  std::string mode{};  // "off", "dry-run", "on"
  std::uint64_t candidates = 0;
  std::uint64_t candidate_bytes = 0;  // the sum of their sizes: an upper bound
  std::uint64_t removed_images = 0;
  std::uint64_t reclaimed_bytes = 0;
  bool operator==(const GcSummary&) const = default;
};

struct StatusReport {
  std::uint64_t generation = 0;  // of the desired set the agent worked from
  std::vector<ImageStatus> images{};
  std::string agent_version{};
  std::string engine_version{};
  // The engine's data root as the agent measured it (optional: agents that
  // predate disk admission, or could not measure, leave them out).
  std::optional<std::uint64_t> disk_free_bytes{};
  std::optional<std::uint64_t> disk_size_bytes{};
  std::optional<GcSummary> gc{};  // optional likewise
  bool operator==(const StatusReport&) const = default;
};

// `reason` is written for failed images (and is disk_low for held ones) only; `message`,
// `attempts`, `since` and `digest` when they are not empty or zero.
std::string encode(const StatusReport& report);
// `images` is required, each with a non-empty, distinct `ref` and a known
// `state`; `reason` is required for a failed image and ignored otherwise.
Decoded<StatusReport> decode_status_report(std::string_view body);

// ---------------------------------------------------------------------------
// POST /v1/warm: the body

inline constexpr std::chrono::milliseconds default_warm_ttl = std::chrono::hours(1);
inline constexpr std::chrono::milliseconds max_warm_ttl = std::chrono::hours(24);
inline constexpr std::size_t max_warm_images = 1000;

struct WarmRequest {
  std::vector<std::string> images{};       // canonical (Reference::canonical()), distinct, in order
  std::vector<std::string> constraints{};  // as written; each one parses
  std::chrono::milliseconds ttl = default_warm_ttl;
  bool operator==(const WarmRequest&) const = default;
};

std::string encode(const WarmRequest& request);
// {"images": [...], "constraints": [...], "ttl": "30m" or seconds}: `images`
// required, 1 to max_warm_images references as `docker pull` takes them
// (canonical and distinct once decoded); constraints that swarm accepts;
// `ttl` from 1 ms to 24 h; no other key.
Decoded<WarmRequest> decode_warm_request(std::string_view body);

// POST /v1/warm: 202

struct WarmNode {
  std::string id{};
  std::string hostname{};
  bool operator==(const WarmNode&) const = default;
};

struct WarmFailure {
  FailureReason reason = FailureReason::other;  // not_found or unauthorized
  std::string message{};                        // the manager's engine's
  bool operator==(const WarmFailure&) const = default;
};

struct WarmImage {
  std::string ref{};                     // canonical, as requested
  std::string warm{};                    // what the nodes are given; empty with a failure
  bool resolved = false;                 // warm is name@digest as the manager resolved it
  std::string note{};                    // why not resolved, when not
  std::uint64_t nodes_desired = 0;       // the nodes given it; 0 with a failure
  std::vector<WarmNode> nodes{};         // the nodes the request's placement selects
  std::optional<WarmFailure> failure{};  // refused at resolution: given to no node
  bool operator==(const WarmImage&) const = default;
};

struct WarmAnswer {
  std::string id{};  // "warm:3f9c0a1b2c4d"
  std::chrono::milliseconds expires_in{0};
  std::vector<WarmImage> images{};  // one per requested image, in order
  bool operator==(const WarmAnswer&) const = default;
};

std::string encode(const WarmAnswer& answer);
// Each image has a `ref` and either `warm` or `failure`.
Decoded<WarmAnswer> decode_warm_answer(std::string_view body);

// ---------------------------------------------------------------------------
// GET /v1/images: 200

struct ListedNode {
  std::string id{};
  std::string hostname{};
  std::optional<ImageState> state{};  // nullopt: its agent has not reported it ("unknown")
  // Why the node's agent is not heard from, when the controller knows
  // ("no report or poll from its agent yet", "its agent's requests are
  // refused: 401 ..."); empty while it reports.
  std::string agent{};
  // Optional (older controllers leave them out), for the status page:
  double since = 0;   // pulling: unix time the pull started; 0 otherwise
  bool held = false;  // the per-image pull cap holds this node back for now
  // Optional: with state held, the agent's message ("disk_low: 12.5MiB free
  // of 289MiB on /var/lib/docker, below --min-free-disk 10% (28.9MiB)").
  std::string message{};
  bool operator==(const ListedNode&) const = default;
};

enum class FailureStage {
  pull,     // on a node: an agent's report
  resolve,  // at the registry, when the manager resolved a warm image (no node)
};
std::string_view to_string(FailureStage stage);

struct ListedFailure {
  std::string node{};      // id; empty at resolve
  std::string hostname{};  // empty at resolve
  FailureReason reason = FailureReason::other;
  std::string message{};
  FailureStage stage = FailureStage::pull;
  bool operator==(const ListedFailure&) const = default;
};

struct ListedImage {
  std::string ref{};
  std::uint64_t nodes_desired = 0;
  std::uint64_t nodes_present = 0;
  std::vector<ListedNode> nodes{};  // where it is desired and not present yet
  std::vector<ListedFailure> failures{};
  // For a ref by tag: the digest the manager's engine last resolved the tag
  // to, and when (unix time, seconds); empty and 0 before any resolution.
  std::string digest{};
  double resolved_at = 0;
  // Optional (older controllers leave them out; empty is left out), so the
  // status page and `swarm-prepull status` can draw every (image, node) cell
  // from this one answer:
  std::vector<std::string> services{};    // that want it, sorted ("warm:<id>", "config:<name>")
  std::vector<std::string> present_on{};  // ids of the nodes where it is present
  bool operator==(const ListedImage&) const = default;
};

// A node of the swarm as the last reconcile read it, with its agent.
struct ClusterNode {
  std::string id{};
  std::string hostname{};
  std::string role{};          // "manager", "worker"
  std::string availability{};  // "active", "pause", "drain"
  std::string state{};         // "ready", "down", ...
  std::string agent{};         // as ListedNode::agent: empty while its agent is heard from
  // Optional, from its agent's last report: its data root and image GC.
  std::optional<std::uint64_t> disk_free_bytes{};
  std::optional<std::uint64_t> disk_size_bytes{};
  std::optional<GcSummary> gc{};
  bool operator==(const ClusterNode&) const = default;
};

// A warm request (POST /v1/warm) the controller holds.
struct ListedWarm {
  std::string id{};                   // "warm:3f9c0a1b2c4d"
  std::vector<std::string> images{};  // what the nodes are given
  double expires_at = 0;              // unix time, seconds
  bool operator==(const ListedWarm&) const = default;
};

struct ImagesListing {
  std::uint64_t generation = 0;
  std::vector<ListedImage> images{};  // sorted by ref
  // Optional (older controllers leave them out; empty or 0 is left out):
  double reconciled_at = 0;          // the last completed reconcile, unix time, seconds
  std::vector<ClusterNode> nodes{};  // every node of the swarm, sorted by hostname then id
  std::vector<ListedWarm> warm{};    // sorted by id
  bool operator==(const ImagesListing&) const = default;
};

std::string encode(const ImagesListing& listing);
Decoded<ImagesListing> decode_images_listing(std::string_view body);

// GET /v1/images?refs=A,B: only the images a client follows (a gate's few
// among a cluster's many), as the listing names them: canonical references,
// comma-separated (a reference holds no comma), 1 to max_warm_images.
using RefSet = std::set<std::string, std::less<>>;
std::string encode_refs_query(const std::vector<std::string>& refs);
Decoded<RefSet> decode_refs_query(std::string_view value);

// ---------------------------------------------------------------------------
// Every error answer (4xx, 5xx): {"error": "<what and where>"}

std::string encode_error(std::string_view message);
// The controller's message in an error body; a body that is not one (a
// proxy's page, say) gives its text, shortened and made printable.
std::string decode_error(std::string_view body);

// `text` made safe to quote in an error message: valid UTF-8 is kept, control
// characters and bytes that are not UTF-8 become \xNN, and more than `limit`
// bytes are cut with "...".
std::string printable(std::string_view text, std::size_t limit = 200);

}  // namespace swarm_prepull::api
