// Image sets: images to pre-pull that belong to no service, kept in swarm
// configs labelled swarm-prepull.imageset=true (the swarm analog of a
// Kubernetes ImageCache resource). The document format is specified in
// docs/imagesets.md:
//
//   images:
//     - redis:7
//     - registry.example.com:5000/team/app:1.4
//   placement:                    # optional, like a compose file's deploy.placement
//     constraints:                # swarm constraint syntax, all must hold
//       - node.labels.zone == a
//     platforms:                  # at least one must match
//       - linux/amd64
//       - {os: linux, architecture: arm64}
//
// Here the document is decoded from its JSON value: a reader outside
// reconcile/ (compose/imageset_document.h) turns the text people write into
// that value and records where each value was written, so that errors can
// still name a line and column. A document is valid or not as a whole.
#pragma once

#include <cstddef>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "reconcile/expected.h"
#include "reconcile/swarm.h"

namespace swarm_prepull::reconcile {

inline constexpr std::string_view imageset_label = "swarm-prepull.imageset";

// A swarm-prepull label (swarm-prepull.imageset, swarm-prepull.skip) is set
// when its value is "true" in any case; any other value leaves it unset.
bool label_is_true(const Labels& labels, const std::string& key);

// The config carries swarm-prepull.imageset=true.
bool is_imageset(const Config& config);

struct ImageSet {
  std::vector<std::string> images;  // canonical references (Reference::canonical())
  Placement placement;              // constraints as written (each one parses), platforms
};

// Where a value of the document was written, 1-based.
struct SourcePosition {
  std::size_t line = 0;
  std::size_t column = 0;
};

// The positions of a document's values and of its mapping keys, by JSON
// pointer ("/placement/platforms/1"; a key under the pointer of its value).
// Empty for a document that has none to give (JSON text, a warm request).
struct SourceMap {
  std::map<std::string, SourcePosition> values;
  std::map<std::string, SourcePosition> keys;
};

// One key as a JSON pointer token (RFC 6901: '~' and '/' are written "~0"
// and "~1"); whoever builds a SourceMap keys it this way.
std::string json_pointer_token(std::string_view key);

// Decodes a document. Errors name the position when `where` knows it, then
// the path and the fault: "line 7, column 5: placement.platforms[1]: unknown
// key 'arch' (expected os, architecture)". A reference that does not parse,
// a constraint swarm would refuse, a value of the wrong type and an unknown
// key all make the document invalid. A null list (every entry commented out)
// is an empty one; a null platform field matches any.
Expected<ImageSet> decode_imageset(const nlohmann::json& document, const SourceMap& where = {});

}  // namespace swarm_prepull::reconcile
