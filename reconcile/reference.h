// Docker image references, parsed and normalized as the distribution grammar
// (github.com/distribution/reference: reference.go, normalize.go) does it.
// Every "is this image present" decision compares normalized references.
#pragma once

#include <string>
#include <string_view>

#include "reconcile/expected.h"

namespace swarm_prepull::reconcile {

struct Reference {
  // "docker.io", "127.0.0.1:5000", "[::1]:5000"; kept as written (may be
  // uppercase: "Foo/bar"). Empty in one upstream quirk: a first component with
  // '.' that is no valid domain but a valid path ("a_b.com/x") leaves the whole
  // name as the path, with no domain.
  std::string domain;
  std::string path;    // "library/redis", "team/app"
  std::string tag;     // may be empty when only a digest was given
  std::string digest;  // "sha256:<64 hex>", or empty

  // domain + "/" + path: the repository, as the engine lists it in RepoDigests.
  std::string name() const;
  // The short form the docker CLI shows: "redis", "team/app", "127.0.0.1:5000/bb".
  std::string familiar_name() const;
  // The form swarm-prepull compares and stores: name@digest when a digest is
  // present (the tag is dropped: the digest decides what is pulled), else
  // name:tag. "redis" -> "docker.io/library/redis:latest".
  std::string canonical() const;
  // The familiar form of canonical(): "redis:latest", "127.0.0.1:5000/bb@sha256:...".
  std::string familiar() const;

  bool operator==(const Reference&) const = default;
};

// Parses any reference the docker CLI accepts ("redis", "redis:7",
// "ghcr.io/o/r@sha256:...", "[::1]:5000/x:1", "r:1@sha256:..."), applies the
// docker.io / library/ defaults and, when neither tag nor digest is given, the
// tag "latest". Errors say what is wrong and where ("invalid reference format:
// repository name must be lowercase", "... at offset 7"), and quote the input.
//
// Matches ParseNormalizedNamed + TagNameOnly of distribution/reference v0.6.0,
// the current release: the 255-character limit applies to the path, not to
// domain + path (older docker/distribution counted both). Digests are checked
// as go-digest v1.0.0 does: only sha256, sha384 and sha512 with exactly 64, 96
// or 128 lowercase hex characters pass. Any byte outside ASCII is an error
// (upstream's Unicode-aware lowercasing words some of those errors differently;
// none of them parses there either).
Expected<Reference> parse_reference(std::string_view text);

// A bare image ID, "sha256:<64 hex>" (any digest go-digest's Parse accepts).
// parse_reference reads it as the repository "sha256" with a tag, but swarm's
// executor never pulls an image given by ID (moby
// daemon/cluster/executor/container/adapter.go, pullImage): its task starts
// only on a node that already holds that image.
bool is_image_id(std::string_view text);

// The words the plan and `plan --explain` use for such an image.
inline constexpr std::string_view image_id_never_pulled =
    "an image ID, which swarm never pulls: its task starts only where the image already is";

}  // namespace swarm_prepull::reconcile
