// A registry's WWW-Authenticate challenge (RFC 7235), as distribution's token
// authentication sends it: `Bearer realm="https://auth.example/token",
// service="registry.example",scope="repository:app:pull"`, or `Basic
// realm="..."` for a registry with htpasswd. Only the first challenge of the
// header is read: registries send one.
//
// Pure: no I/O.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "reconcile/expected.h"

namespace swarm_prepull::registry {

struct Challenge {
  std::string scheme;                         // lowercase: "bearer", "basic"
  std::map<std::string, std::string> params;  // names lowercase, values unquoted
  bool operator==(const Challenge&) const = default;
};

// Errors say what was expected and at which byte.
reconcile::Expected<Challenge> parse_challenge(std::string_view header);

// The query of a token request (distribution's token spec): service and
// scope, percent-encoded; "service=registry.docker.io&scope=repository:library/nginx:pull".
std::string token_query(const Challenge& challenge, std::string_view scope);

// The body of an OAuth2 token request for an identity token (a refresh
// token, as `docker login` keeps one): form-encoded grant_type, client_id,
// service, scope and refresh_token, POSTed to the realm.
std::string oauth_refresh_form(const Challenge& challenge, std::string_view scope,
                               std::string_view refresh_token);

}  // namespace swarm_prepull::registry
