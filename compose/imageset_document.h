// Image-set documents (docs/imagesets.md) as people write them, YAML or
// JSON, turned into the JSON value that reconcile/imageset.h decodes, with
// the line and column of every value so that its errors can name them.
// reconcile/ stays free of YAML and of I/O; this is the one place where an
// image-set document's text is read.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "reconcile/expected.h"
#include "reconcile/imageset.h"
#include "reconcile/plan.h"
#include "reconcile/swarm.h"

namespace swarm_prepull::compose {

struct ImageSetDocument {
  nlohmann::json value;
  reconcile::SourceMap where;  // empty for JSON text (nlohmann keeps no positions)
};

// JSON (RFC 8259, as nlohmann reads it) when the first significant character
// is '{', YAML 1.2 (yaml-cpp) otherwise. In YAML every scalar is a string
// (`1.0`, `no` and `on` are text: the format has no other type) and `~`,
// `null` or nothing is null. Errors give the line and column: the parser's
// syntax errors, a duplicate key, a key that is not a string, more than one
// document, nesting deeper than the format could need, aliases that expand
// past a bound.
reconcile::Expected<ImageSetDocument> read_imageset_document(std::string_view text);

// read_imageset_document, then reconcile::decode_imageset.
reconcile::Expected<reconcile::ImageSet> read_imageset(std::string_view text);

// The configs labelled swarm-prepull.imageset=true, each read into a set
// named "config:<name>", or carrying the reason its document is invalid;
// other configs are left out. What reconcile::desired_images takes.
std::vector<reconcile::NamedImageSet> image_sets(const std::vector<reconcile::Config>& configs);

}  // namespace swarm_prepull::compose
