#include "engine/registry_auth.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/algorithm/string/case_conv.hpp>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "http/base64.h"

namespace swarm_prepull::engine {
namespace {

using nlohmann::json;

std::string json_pointer_escape(std::string_view key) {
  std::string result;
  for (const char c : key) {
    if (c == '~')
      result += "~0";
    else if (c == '/')
      result += "~1";
    else
      result += c;
  }
  return result;
}

// An optional string member; an error (naming the path) when of another type.
reconcile::Expected<std::string> string_member(const json& object, const char* name,
                                               const std::string& path) {
  const auto field = object.find(name);
  if (field == object.end() || field->is_null()) return std::string{};
  if (!field->is_string()) return reconcile::Error{path + "/" + name + ": expected a string"};
  return field->get<std::string>();
}

constexpr std::size_t credentials_file_limit = 1024 * 1024;

std::optional<std::string> read_small_file(const std::string& path, std::string& error) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    error = path + ": cannot be opened";
    return std::nullopt;
  }
  std::string content;
  char buffer[16 * 1024];
  while (file.read(buffer, sizeof buffer) || file.gcount() > 0) {
    content.append(buffer, static_cast<std::size_t>(file.gcount()));
    if (content.size() > credentials_file_limit) {
      error = path + ": larger than 1 MiB";
      return std::nullopt;
    }
  }
  return content;
}

}  // namespace

std::string registry_host(std::string_view key) {
  std::string_view host = key;
  if (const auto scheme = host.find("://"); scheme != std::string_view::npos) {
    host.remove_prefix(scheme + 3);
  }
  if (const auto slash = host.find('/'); slash != std::string_view::npos) {
    host = host.substr(0, slash);
  }
  std::string result = boost::algorithm::to_lower_copy(std::string(host));
  if (result == "index.docker.io" || result == "registry-1.docker.io" ||
      result == "registry.hub.docker.com") {
    return "docker.io";
  }
  return result;
}

reconcile::Expected<RegistryAuthConfig> parse_docker_config(std::string_view text) {
  const json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return reconcile::Error{"not valid JSON"};
  if (!document.is_object()) return reconcile::Error{"/: expected an object"};

  RegistryAuthConfig config;
  config.credential_helpers_ignored =
      (document.contains("credsStore") && !document["credsStore"].is_null() &&
       !(document["credsStore"].is_string() &&
         document["credsStore"].get<std::string>().empty())) ||
      (document.contains("credHelpers") && document["credHelpers"].is_object() &&
       !document["credHelpers"].empty());

  const auto auths = document.find("auths");
  if (auths == document.end() || auths->is_null()) return config;
  if (!auths->is_object()) return reconcile::Error{"/auths: expected an object"};
  for (const auto& [key, entry] : auths->items()) {
    const std::string path = "/auths/" + json_pointer_escape(key);
    if (!entry.is_object()) return reconcile::Error{path + ": expected an object"};
    RegistryCredential credential;
    auto auth = string_member(entry, "auth", path);
    if (!auth) return auth.error();
    auto username = string_member(entry, "username", path);
    if (!username) return username.error();
    auto password = string_member(entry, "password", path);
    if (!password) return password.error();
    auto token = string_member(entry, "identitytoken", path);
    if (!token) return token.error();
    credential.username = *username;
    credential.password = *password;
    credential.identity_token = *token;
    if (!auth->empty()) {
      // docker/cli configfile.decodeAuth: base64 "user:password", split at the first ':'.
      const auto decoded = http::base64_decode(*auth);
      if (!decoded) return reconcile::Error{path + "/auth: not valid base64"};
      const auto colon = decoded->find(':');
      if (colon == std::string::npos) {
        return reconcile::Error{path + "/auth: expected base64 of \"username:password\""};
      }
      credential.username = decoded->substr(0, colon);
      credential.password = decoded->substr(colon + 1);
    }
    if (credential.username.empty() && credential.password.empty() &&
        credential.identity_token.empty()) {
      continue;
    }
    config.registries[registry_host(key)] = std::move(credential);
  }
  return config;
}

std::string base64url_encode(std::string_view data) {
  return http::base64_encode(data, http::Base64::url);
}

std::string registry_auth_header(const RegistryAuthConfig& config, std::string_view domain) {
  const std::string host = registry_host(domain);
  const auto found = config.registries.find(host);
  if (found == config.registries.end()) return {};
  const auto& credential = found->second;
  // Docker Hub's server address is the v1 index URL, as `docker login` stores it.
  const std::string server = host == "docker.io" ? std::string(docker_hub_server) : host;
  json body = json::object();
  if (!credential.identity_token.empty()) {
    body["identitytoken"] = credential.identity_token;
  } else {
    body["username"] = credential.username;
    body["password"] = credential.password;
  }
  body["serveraddress"] = server;
  return base64url_encode(body.dump());
}

bool RegistryAuthFile::reload(spdlog::logger& logger) {
  if (path_.empty()) return false;
  std::string error;
  const auto content = read_small_file(path_, error);
  if (!content) {
    if (error != last_error_) {
      logger.error("registry auth file unreadable, keeping the last credentials: {}", error);
      last_error_ = error;
    }
    return false;
  }
  // Never 0, so that 0 keeps meaning "nothing loaded yet".
  const std::uint64_t fingerprint =
      static_cast<std::uint64_t>(std::hash<std::string>{}(*content)) | 1u;
  if (fingerprint == fingerprint_) return false;
  auto parsed = parse_docker_config(*content);
  if (!parsed) {
    // The parser's messages name JSON paths, never values.
    error = path_ + ": " + parsed.error().message;
    if (error != last_error_) {
      logger.error("registry auth file invalid, keeping the last credentials: {}", error);
      last_error_ = error;
    }
    return false;
  }
  last_error_.clear();
  config_ = std::move(*parsed);
  fingerprint_ = fingerprint;
  std::string hosts;
  for (const auto& [host, credential] : config_.registries) {
    hosts += (hosts.empty() ? "" : ",") + host;
  }
  logger.info("registry credentials loaded file={} registries={}", path_,
              hosts.empty() ? "-" : hosts);
  if (config_.credential_helpers_ignored && !helpers_warned_) {
    helpers_warned_ = true;
    logger.warn(
        "registry auth file {} names credsStore/credHelpers: credential helpers are not "
        "supported, only inline \"auths\" entries are used",
        path_);
  }
  return true;
}

}  // namespace swarm_prepull::engine
