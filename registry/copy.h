// An image copied byte for byte from its origin registry into a cache
// registry, by digest, as `crane copy` and `skopeo copy` do: the cache then
// serves exactly the origin's manifests and blobs, so an engine that pulls
// CACHE/repo@digest holds the very layers that ORIGIN/repo@digest names, and
// its pull of the origin reference afterwards fetches only the manifest.
//
// Proxy mode (distribution's `proxy.remoteurl`) would serve the same, but on
// a cold cache Debian's registry fetches every blob from the origin twice
// (one fetch stored, one streamed to the client); a copy reads each once.
//
// An index (manifest list) is copied as the image manifests for the swarm's
// platforms only, under an index of those entries alone (distribution
// refuses an index whose entries it does not all hold): its digest is the
// cache's own, but an engine pulling it resolves its platform to the very
// entry the origin's index names, so the origin's pull afterwards still costs
// only manifests.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "reconcile/swarm.h"
#include "registry/client.h"

namespace swarm_prepull::registry {

struct CopiedManifest {
  std::string digest;            // what a node pulls from the cache
  reconcile::Platform platform;  // an index entry's; empty for a single image
  bool operator==(const CopiedManifest&) const = default;
};

struct CopyReport {
  // What a node pulls from the cache: the digest asked for, or for an index
  // with entries left out, the digest of the cache's smaller index.
  std::string cache_digest;
  std::vector<CopiedManifest> manifests;  // the image manifests the cache now holds
  std::uint64_t bytes_copied = 0;         // blob bytes read from the origin
  int blobs_copied = 0;
  int blobs_present = 0;  // already in the cache: not read from the origin
};

// Copies `repository`@`digest` from `origin` into `cache`; `platforms`: those
// of the swarm's nodes (an index's other entries are skipped; empty: all).
// Manifests already in the cache cost one HEAD; a failure leaves whatever
// was committed (a blob only once its bytes matched their digest, a manifest
// only after all its blobs).
boost::asio::awaitable<http::Result<CopyReport>> copy_image(
    Registry& origin, Registry& cache, std::string repository, std::string digest,
    std::vector<reconcile::Platform> platforms);

}  // namespace swarm_prepull::registry
