// Why an image goes (or does not go) to each node: `swarm-prepull plan
// --explain IMAGE`. Every spec that wants the image (a service's Spec and
// PreviousSpec, the images label, an image set) is tried against swarm's
// rules (reconcile/rules.h) node by node; a node gets the image when one of
// them may be placed there, and otherwise the first rule that keeps each
// away is the reason. It agrees with desired_images() on every node: the
// planner's index and these rules are the same specification.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "reconcile/expected.h"
#include "reconcile/plan.h"
#include "reconcile/swarm.h"

namespace swarm_prepull::reconcile {

// One source that wants the image, judged on one node.
struct SourceVerdict {
  std::string source;  // service name, "config:<name>", "warm:<id>"
  std::string spec;    // "spec", "previous spec" or "image set"
  bool placed = false;
  std::string reason;  // the first rule that refuses it, empty when placed
  bool operator==(const SourceVerdict&) const = default;
};

struct NodeExplanation {
  std::string node_id;
  std::string hostname;
  bool placed = false;
  // Empty when placed. Otherwise the refusal shared by every source
  // ("node is drained"), or each source's own, "web: constraint ...; cache:
  // platform ..."; "no service or image set wants this image" when none does.
  std::string reason;
  std::vector<SourceVerdict> sources;  // sorted by source, then spec
};

struct Explanation {
  std::string image;                   // canonical reference
  std::vector<NodeExplanation> nodes;  // every node, sorted by hostname then id
};

inline constexpr std::string_view nobody_wants = "no service or image set wants this image";

// Explains where `image` (any reference the docker CLI accepts, normalized
// here) goes. The error is the reference's when it does not parse. An image
// ID goes nowhere, every node giving image_id_never_pulled as the reason.
Expected<Explanation> explain_image(std::string_view image, const std::vector<Node>& nodes,
                                    const std::vector<Service>& services,
                                    const std::vector<NamedImageSet>& sets = {});

}  // namespace swarm_prepull::reconcile
