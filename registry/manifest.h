// Image manifests as the distribution API serves them, read only as far as a
// byte-for-byte copy needs: which blobs an image manifest references and which
// manifests an index (a manifest list) references, each by digest.
//
// A manifest is copied as the exact bytes served, never re-serialized: its
// digest is the hash of those bytes, and the digest is what swarm's task asks
// for. Schema 1 manifests (signed, deprecated since 2017) are refused.
//
// Pure: no I/O.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "reconcile/expected.h"
#include "reconcile/swarm.h"

namespace swarm_prepull::registry {

inline constexpr std::string_view docker_manifest_type =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view docker_list_type =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view oci_manifest_type = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view oci_index_type = "application/vnd.oci.image.index.v1+json";

// The Accept header of a manifest request: the four types above.
std::string manifest_accept();

struct Descriptor {
  std::string media_type;
  std::string digest;  // "sha256:<64 hex>"
  std::uint64_t size = 0;
  reconcile::Platform platform;  // an index entry's; empty elsewhere
  // A layer the engine fetches from its own URLs, never from the registry
  // (Windows base layers): not copied.
  bool foreign = false;
  bool operator==(const Descriptor&) const = default;
};

struct Manifest {
  std::string media_type;
  std::string digest;                 // of `body`
  std::string body;                   // the bytes served, to be pushed unchanged
  std::vector<Descriptor> manifests;  // an index's entries
  std::vector<Descriptor> blobs;      // an image manifest's config, then its layers
  bool is_index() const { return media_type == docker_list_type || media_type == oci_index_type; }
};

// "sha256:<64 lowercase hex>": the only digest form copied (the engine and
// distribution support no other in practice).
bool is_sha256_digest(std::string_view digest);

// Parses a manifest served as `content_type` (its parameters ignored; when it
// is none of the four types, the body's own "mediaType" decides) for the
// reference `digest`. Errors say what is wrong and where: a body whose hash is
// not `digest`, malformed JSON, a missing or mistyped field (by JSON path), an
// unsupported media type or schema version, a descriptor digest that is not
// sha256.
reconcile::Expected<Manifest> parse_manifest(std::string_view content_type, std::string body,
                                             std::string_view digest);

// The index entries a node of one of `platforms` may resolve to: those whose
// platform admits one of them (swarm's platform rule); every entry when
// `platforms` is empty.
std::vector<Descriptor> entries_for(const Manifest& index,
                                    const std::vector<reconcile::Platform>& platforms);

// SHA-256 over bytes fed in pieces: a blob's digest checked as it streams.
class Sha256 {
 public:
  Sha256();
  void update(std::string_view bytes);
  // "sha256:<hex>"; the hash cannot be fed after.
  std::string digest();

 private:
  struct Free {
    void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> context_;
};

// "sha256:<hex>" of `bytes`.
std::string sha256_digest(std::string_view bytes);

}  // namespace swarm_prepull::registry
