#include "registry/copy.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <nlohmann/json.hpp>
#include <optional>

namespace swarm_prepull::registry {
namespace {

namespace net = boost::asio;
using namespace net::experimental::awaitable_operators;

// `index` with only the `kept` entries, or itself when it keeps them all.
http::Result<Manifest> index_of(const Manifest& index, const std::vector<Descriptor>& kept) {
  if (kept.size() == index.manifests.size()) return index;
  auto document = nlohmann::json::parse(index.body, nullptr, /*allow_exceptions=*/false);
  auto& entries = document["manifests"];
  nlohmann::json filtered = nlohmann::json::array();
  for (const auto& entry : entries) {
    const auto digest = entry.value("digest", std::string());
    for (const auto& keep : kept) {
      if (keep.digest == digest) {
        filtered.push_back(entry);
        break;
      }
    }
  }
  entries = std::move(filtered);
  std::string body = document.dump();
  auto reduced = parse_manifest(index.media_type, body, sha256_digest(body));
  if (!reduced) {
    return http::Call{"", "index " + index.digest}.fail(http::errc::bad_response,
                                                        reduced.error().message);
  }
  return std::move(*reduced);
}

// One blob, unless the cache holds it.
net::awaitable<http::Result<void>> copy_blob(Registry& origin, Registry& cache,
                                             const std::string& repository, const Descriptor& blob,
                                             CopyReport& report) {
  auto present = co_await cache.has_blob(repository, blob.digest);
  if (!present) co_return present.error();
  if (*present) {
    ++report.blobs_present;
    co_return http::Result<void>();
  }
  auto copied = co_await cache.copy_blob_from(origin, repository, blob);
  if (!copied) co_return copied.error();
  report.bytes_copied += *copied;
  ++report.blobs_copied;
  co_return http::Result<void>();
}

// One image manifest (not an index) and its blobs, unless the cache holds it.
net::awaitable<http::Result<void>> copy_image_manifest(Registry& origin, Registry& cache,
                                                       const std::string& repository,
                                                       const Manifest& manifest,
                                                       CopyReport& report) {
  std::size_t next = 0;
  std::optional<http::Error> failure;  // the first; the others stop taking blobs
  const auto copier = [&]() -> net::awaitable<void> {
    while (!failure && next < manifest.blobs.size()) {
      const Descriptor& blob = manifest.blobs[next++];
      if (blob.foreign) continue;
      auto copied = co_await copy_blob(origin, cache, repository, blob, report);
      if (!copied && !failure) failure = copied.error();
    }
  };
  // Three blobs at once, as the engine pulls three layers at once: one blob's
  // copy is bound by one connection and by hashing, not by the links.
  co_await (copier() && copier() && copier());
  if (failure) co_return *failure;
  co_return co_await cache.push_manifest(repository, manifest);
}

net::awaitable<http::Result<CopyReport>> copy_image_or_throw(
    Registry& origin, Registry& cache, const std::string& repository, const std::string& digest,
    const std::vector<reconcile::Platform>& platforms) {
  CopyReport report;
  auto top = co_await origin.manifest(repository, digest);
  if (!top) co_return top.error();
  std::vector<Manifest> images;
  std::optional<Manifest> index;
  if (top->is_index()) {
    const auto entries = entries_for(*top, platforms);
    if (entries.empty()) {
      co_return http::Call{origin.address().to_string(),
                           "GET /v2/" + repository + "/manifests/" + digest}
          .fail(http::errc::bad_response, "the index has no entry for the swarm's platforms");
    }
    auto kept = index_of(*top, entries);
    if (!kept) co_return kept.error();
    index = std::move(*kept);
    report.cache_digest = index->digest;
    for (const auto& entry : entries) {
      report.manifests.push_back({entry.digest, entry.platform});
      auto held = co_await cache.has_manifest(repository, entry.digest);
      if (!held) co_return held.error();
      if (*held) continue;
      auto image = co_await origin.manifest(repository, entry.digest);
      if (!image) co_return image.error();
      if (image->is_index()) {
        co_return http::Call{origin.address().to_string(),
                             "GET /v2/" + repository + "/manifests/" + entry.digest}
            .fail(http::errc::bad_response, "an index inside an index is not supported");
      }
      images.push_back(std::move(*image));
    }
  } else {
    report.cache_digest = digest;
    report.manifests.push_back({digest, {}});
    auto held = co_await cache.has_manifest(repository, digest);
    if (!held) co_return held.error();
    if (!*held) images.push_back(std::move(*top));
  }
  for (const auto& image : images) {
    auto copied = co_await copy_image_manifest(origin, cache, repository, image, report);
    if (!copied) co_return copied.error();
  }
  if (index) {
    auto held = co_await cache.has_manifest(repository, index->digest);
    if (!held) co_return held.error();
    if (!*held) {
      if (auto pushed = co_await cache.push_manifest(repository, *index); !pushed) {
        co_return pushed.error();
      }
    }
  }
  co_return report;
}

}  // namespace

net::awaitable<http::Result<CopyReport>> copy_image(Registry& origin, Registry& cache,
                                                    std::string repository, std::string digest,
                                                    std::vector<reconcile::Platform> platforms) {
  // A copy the controller waits on must end, whatever a registry answers.
  try {
    co_return co_await copy_image_or_throw(origin, cache, repository, digest, platforms);
  } catch (const std::exception& error) {
    co_return http::Call{origin.address().to_string(), "copy " + repository + "@" + digest}.fail(
        http::errc::bad_response, error.what());
  }
}

}  // namespace swarm_prepull::registry
