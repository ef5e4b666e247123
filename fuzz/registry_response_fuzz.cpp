// Fuzzes what a registry answers, as registry/ reads it (a registry is not
// trusted: the origin may be anyone's):
//   - parse_manifest never crashes; a manifest it accepts has the digest of
//     its bytes, kept unchanged, and only sha256 descriptor digests; an
//     index's entries for any platform are a subset of its entries;
//   - parse_challenge never crashes, and token_query of what it accepts
//     neither.
// Input: "<content type or challenge>\n<body>".
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "registry/challenge.h"
#include "registry/manifest.h"

namespace {

using namespace swarm_prepull::registry;

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  const std::string_view head = input.substr(0, newline);
  const std::string body(newline == std::string_view::npos ? std::string_view()
                                                           : input.substr(newline + 1));

  const std::string digest = sha256_digest(body);
  auto manifest = parse_manifest(head, body, digest);
  if (manifest) {
    check(manifest->digest == digest);
    check(manifest->body == body);
    for (const auto& blob : manifest->blobs) check(is_sha256_digest(blob.digest));
    for (const auto& entry : manifest->manifests) check(is_sha256_digest(entry.digest));
    check(!manifest->is_index() || manifest->blobs.empty());
    const auto some = entries_for(*manifest, {{"x86_64", "linux"}});
    check(some.size() <= manifest->manifests.size());
  }
  auto wrong = parse_manifest(head, body, "sha256:" + std::string(64, '0'));
  check(!wrong || digest == "sha256:" + std::string(64, '0'));

  auto challenge = parse_challenge(head);
  if (challenge) {
    check(!challenge->scheme.empty());
    (void)token_query(*challenge, "repository:x:pull");
  }
  return 0;
}
