#include "registry/challenge.h"

#include <cctype>

#include "http/url.h"

namespace swarm_prepull::registry {
namespace {

using reconcile::Error;

// RFC 7230 tchar.
bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string lowercase(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  bool done() const { return position_ >= text_.size(); }
  char peek() const { return done() ? '\0' : text_[position_]; }
  void skip_spaces() {
    while (!done() && (peek() == ' ' || peek() == '\t')) ++position_;
  }
  std::string_view token() {
    const std::size_t start = position_;
    while (!done() && is_token_char(peek())) ++position_;
    return text_.substr(start, position_ - start);
  }
  reconcile::Expected<std::string> quoted() {
    std::string value;
    ++position_;  // the opening quote
    while (!done() && peek() != '"') {
      if (peek() == '\\') ++position_;
      if (done()) break;
      value += text_[position_++];
    }
    if (done()) return fail("an unterminated quoted string");
    ++position_;
    return value;
  }
  Error fail(const std::string& what) const {
    return Error{"WWW-Authenticate: " + what + " at byte " + std::to_string(position_)};
  }
  void advance() { ++position_; }

 private:
  std::string_view text_;
  std::size_t position_ = 0;
};

}  // namespace

reconcile::Expected<Challenge> parse_challenge(std::string_view header) {
  Reader reader(header);
  reader.skip_spaces();
  Challenge challenge;
  challenge.scheme = lowercase(reader.token());
  if (challenge.scheme.empty()) return reader.fail("expected an authentication scheme");
  reader.skip_spaces();
  while (!reader.done()) {
    const std::string name = lowercase(reader.token());
    if (name.empty()) return reader.fail("expected a parameter name");
    reader.skip_spaces();
    if (reader.peek() != '=') {
      // A second challenge ("Basic realm=x, Bearer ...") starts here: ignored.
      if (!challenge.params.empty()) break;
      return reader.fail("expected '=' after \"" + name + "\"");
    }
    reader.advance();
    reader.skip_spaces();
    std::string value;
    if (reader.peek() == '"') {
      auto quoted = reader.quoted();
      if (!quoted) return quoted.error();
      value = std::move(*quoted);
    } else {
      value = std::string(reader.token());
    }
    challenge.params[name] = std::move(value);
    reader.skip_spaces();
    if (reader.done()) break;
    if (reader.peek() != ',') return reader.fail("expected ',' between parameters");
    reader.advance();
    reader.skip_spaces();
  }
  return challenge;
}

std::string token_query(const Challenge& challenge, std::string_view scope) {
  std::string query;
  if (const auto service = challenge.params.find("service"); service != challenge.params.end()) {
    query = "service=" + http::percent_encode(service->second);
  }
  if (!scope.empty()) {
    if (!query.empty()) query += '&';
    query += "scope=" + http::percent_encode(scope, ":,/");
  }
  return query;
}

std::string oauth_refresh_form(const Challenge& challenge, std::string_view scope,
                               std::string_view refresh_token) {
  std::string form = "grant_type=refresh_token&client_id=swarm-prepull";
  if (const auto service = challenge.params.find("service"); service != challenge.params.end()) {
    form += "&service=" + http::percent_encode(service->second);
  }
  if (!scope.empty()) form += "&scope=" + http::percent_encode(scope, ":,/");
  form += "&refresh_token=" + http::percent_encode(refresh_token);
  return form;
}

}  // namespace swarm_prepull::registry
