#include "registry/manifest.h"

#include <array>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "reconcile/platform.h"

namespace swarm_prepull::registry {
namespace {

using nlohmann::json;
using reconcile::Error;

constexpr std::array kCopiedTypes = {docker_manifest_type, docker_list_type, oci_manifest_type,
                                     oci_index_type};

bool copied_type(std::string_view type) {
  for (const auto copied : kCopiedTypes) {
    if (type == copied) return true;
  }
  return false;
}

// A layer type the engine downloads from the descriptor's "urls".
bool foreign_layer(std::string_view type) {
  return type == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" ||
         type.starts_with("application/vnd.oci.image.layer.nondistributable.");
}

Error at(const std::string& path, const std::string& what) {
  return Error{"manifest: " + path + ": " + what};
}

// A string member, or an error naming its path; an absent optional one is "".
reconcile::Expected<std::string> string_at(const json& object, const char* key,
                                           const std::string& path, bool required) {
  const auto found = object.find(key);
  if (found == object.end()) {
    if (required) return at(path + "." + key, "missing");
    return std::string();
  }
  if (!found->is_string()) return at(path + "." + key, "expected a string");
  return found->get<std::string>();
}

reconcile::Expected<Descriptor> descriptor_at(const json& entry, const std::string& path) {
  if (!entry.is_object()) return at(path, "expected an object");
  Descriptor descriptor;
  auto media_type = string_at(entry, "mediaType", path, false);
  if (!media_type) return media_type.error();
  auto digest = string_at(entry, "digest", path, true);
  if (!digest) return digest.error();
  if (!is_sha256_digest(*digest)) {
    return at(path + ".digest",
              "expected sha256:<64 lowercase hex>, got \"" + digest->substr(0, 80) + "\"");
  }
  const auto size = entry.find("size");
  if (size == entry.end() || !size->is_number_unsigned()) {
    return at(path + ".size", "expected a non-negative integer");
  }
  descriptor.media_type = std::move(*media_type);
  descriptor.digest = std::move(*digest);
  descriptor.size = size->get<std::uint64_t>();
  descriptor.foreign = foreign_layer(descriptor.media_type);
  if (const auto platform = entry.find("platform"); platform != entry.end()) {
    if (!platform->is_object()) return at(path + ".platform", "expected an object");
    auto architecture = string_at(*platform, "architecture", path + ".platform", false);
    if (!architecture) return architecture.error();
    auto os = string_at(*platform, "os", path + ".platform", false);
    if (!os) return os.error();
    descriptor.platform = {std::move(*architecture), std::move(*os)};
  }
  return descriptor;
}

reconcile::Expected<std::vector<Descriptor>> descriptors_at(const json& document, const char* key) {
  const std::string path = std::string("$.") + key;
  const auto list = document.find(key);
  if (list == document.end() || !list->is_array()) return at(path, "expected an array");
  std::vector<Descriptor> descriptors;
  for (std::size_t index = 0; index < list->size(); ++index) {
    auto descriptor = descriptor_at((*list)[index], path + "[" + std::to_string(index) + "]");
    if (!descriptor) return descriptor.error();
    descriptors.push_back(std::move(*descriptor));
  }
  return descriptors;
}

std::string hex(const unsigned char* bytes, unsigned int size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string text;
  text.reserve(size * 2);
  for (unsigned int index = 0; index < size; ++index) {
    text += digits[bytes[index] >> 4];
    text += digits[bytes[index] & 0xf];
  }
  return text;
}

}  // namespace

std::string manifest_accept() {
  std::string accept;
  for (const auto type : kCopiedTypes) {
    if (!accept.empty()) accept += ", ";
    accept += type;
  }
  return accept;
}

bool is_sha256_digest(std::string_view digest) {
  constexpr std::string_view prefix = "sha256:";
  if (!digest.starts_with(prefix) || digest.size() != prefix.size() + 64) return false;
  for (const char c : digest.substr(prefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

reconcile::Expected<Manifest> parse_manifest(std::string_view content_type, std::string body,
                                             std::string_view digest) {
  if (const auto actual = sha256_digest(body); actual != digest) {
    return Error{"manifest: the body's digest is " + actual + ", not the " + std::string(digest) +
                 " asked for"};
  }
  const json document = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return Error{"manifest: malformed JSON"};
  if (!document.is_object()) return at("$", "expected an object");
  const auto version = document.find("schemaVersion");
  if (version == document.end() || !version->is_number_integer() || *version != 2) {
    return at("$.schemaVersion", "expected 2 (schema 1 manifests are not supported)");
  }
  Manifest manifest;
  manifest.media_type = std::string(content_type.substr(0, content_type.find(';')));
  while (manifest.media_type.ends_with(' ')) manifest.media_type.pop_back();
  if (!copied_type(manifest.media_type)) {
    auto own = string_at(document, "mediaType", "$", false);
    if (!own) return own.error();
    if (!copied_type(*own)) {
      return Error{"manifest: unsupported media type \"" +
                   (own->empty() ? manifest.media_type : *own) + "\""};
    }
    manifest.media_type = std::move(*own);
  }
  manifest.digest = std::string(digest);
  if (manifest.is_index()) {
    auto entries = descriptors_at(document, "manifests");
    if (!entries) return entries.error();
    manifest.manifests = std::move(*entries);
  } else {
    const auto config = document.find("config");
    if (config == document.end()) return at("$.config", "missing");
    auto config_descriptor = descriptor_at(*config, "$.config");
    if (!config_descriptor) return config_descriptor.error();
    auto layers = descriptors_at(document, "layers");
    if (!layers) return layers.error();
    manifest.blobs.push_back(std::move(*config_descriptor));
    for (auto& layer : *layers) manifest.blobs.push_back(std::move(layer));
  }
  manifest.body = std::move(body);
  return manifest;
}

std::vector<Descriptor> entries_for(const Manifest& index,
                                    const std::vector<reconcile::Platform>& platforms) {
  if (platforms.empty()) return index.manifests;
  std::vector<Descriptor> entries;
  for (const auto& entry : index.manifests) {
    for (const auto& platform : platforms) {
      if (reconcile::platform_admits(entry.platform, platform)) {
        entries.push_back(entry);
        break;
      }
    }
  }
  return entries;
}

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  if (!context_ || EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL: cannot start a SHA-256 hash");
  }
}

void Sha256::update(std::string_view bytes) {
  EVP_DigestUpdate(context_.get(), bytes.data(), bytes.size());
}

std::string Sha256::digest() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> hash{};
  unsigned int size = 0;
  EVP_DigestFinal_ex(context_.get(), hash.data(), &size);
  return "sha256:" + hex(hash.data(), size);
}

std::string sha256_digest(std::string_view bytes) {
  Sha256 hash;
  hash.update(bytes);
  return hash.digest();
}

}  // namespace swarm_prepull::registry
