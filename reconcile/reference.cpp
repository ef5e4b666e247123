// A hand-written scanner for the distribution/reference grammar. It runs for
// every service on every pass, so it neither allocates on the way to an answer
// (the result's strings aside) nor uses std::regex; each rule below names the
// upstream expression it replaces (regexp.go, normalize.go, reference.go, and
// go-digest v1.0.0's Digest.Validate for the digest).
//
// Upstream ParseNormalizedNamed works in three steps, and so does this file:
//   1. reject a bare 64-hex identifier;
//   2. splitDockerDomain: pick the domain by looking at the first component
//      ('.', ':', "localhost" or uppercase make it a domain), and check that the
//      remote name up to the first ':' is lowercase;
//   3. Parse(domain + "/" + remainder): match the full grammar, split the name
//      into domain and path again with the grammar's own rules, limit the path
//      to 255 characters, validate the digest.
// Step 3 re-derives the domain, and that can differ from step 2's guess
// ("a_b.com/x" is a path with no domain at all); the scanner follows step 3.
#include "reconcile/reference.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace swarm_prepull::reconcile {
namespace {

constexpr std::string_view default_domain = "docker.io";
constexpr std::string_view legacy_default_domain = "index.docker.io";
constexpr std::string_view official_prefix = "library/";
constexpr std::string_view default_tag = "latest";
constexpr std::string_view localhost = "localhost";
// reference.go RepositoryNameTotalLengthMax. Since distribution/reference
// v0.6.0 it limits the path only; docker/distribution (dockerd 20.10) counted
// domain + "/" + path. The newer, looser rule is kept: refusing a name that a
// current engine pulls would be worse than letting an old engine refuse it.
constexpr std::size_t max_path_length = 255;
constexpr std::size_t max_tag_length = 128;  // tag = [\w][\w.-]{0,127}
constexpr std::size_t min_digest_hex = 32;   // digest-hex = [[:xdigit:]]{32,}
constexpr std::size_t identifier_length = 64;
// Error messages quote at most this much of the input: a reference can be
// untrusted and arbitrarily long.
constexpr std::size_t max_quoted = 256;
constexpr std::size_t npos = std::string_view::npos;

// Character classes. The grammar is ASCII-only (Go's RE2 \w and [[:xdigit:]]
// are ASCII), so every byte >= 0x80 falls outside all of them.
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_alpha(char c) { return is_lower(c) || is_upper(c); }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
bool is_lower_alnum(char c) { return is_lower(c) || is_digit(c); }
bool is_word(char c) { return is_alnum(c) || c == '_'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_lower_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }

std::size_t first_upper(std::string_view s) {
  const auto it = std::find_if(s.begin(), s.end(), is_upper);
  return it == s.end() ? npos : static_cast<std::size_t>(it - s.begin());
}

// Where a production stops matching. `failure` is an offset into the scanned
// text (npos: it all matched); `problem` explains it when the byte alone does
// not ("is longer than 128 characters").
struct Scan {
  std::size_t failure = npos;
  std::string_view part;     // "domain", "repository path", "tag", "digest"
  std::string_view problem;  // empty: "has unexpected <byte>" or "ends early"
  bool ok() const { return failure == npos; }
};

Scan fail_at(std::size_t offset, std::string_view part, std::string_view problem = {}) {
  return Scan{offset, part, problem};
}

Scan shifted(Scan scan, std::size_t by) {
  if (!scan.ok()) scan.failure += by;
  return scan;
}

// path := path-component ('/' path-component)*
// path-component := [a-z0-9]+ (separator [a-z0-9]+)*
// separator := [_.] | __ | [-]+          (regexp.go: alphanumeric, separator)
// One '.', one or two '_', any run of '-': "a___b" and "a._b" are invalid.
Scan scan_path(std::string_view s) {
  constexpr std::string_view part = "repository path";
  std::size_t i = 0;
  while (true) {
    // An alphanumeric run must start here: at a component's start or after a separator.
    if (i == s.size() || !is_lower_alnum(s[i])) return fail_at(i, part);
    while (i < s.size() && is_lower_alnum(s[i])) ++i;
    if (i == s.size()) return {};
    switch (s[i]) {
      case '/':
      case '.':
        ++i;
        break;
      case '_':
        ++i;
        if (i < s.size() && s[i] == '_') ++i;
        break;
      case '-':
        while (i < s.size() && s[i] == '-') ++i;
        break;
      default:
        return fail_at(i, part);
    }
  }
}

// domain := host (':' [0-9]+)?
// host := domain-name | '[' [a-fA-F0-9:]+ ']'
// domain-name := component ('.' component)*
// component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
// Uppercase is allowed and kept as written (upstream never lowercases a
// domain). The IPv6 form is upstream's loose one: hex digits and colons in
// brackets, no zone ("%eth0"), no embedded IPv4.
Scan scan_domain(std::string_view s) {
  constexpr std::string_view part = "domain";
  std::size_t i = 0;
  if (!s.empty() && s[0] == '[') {
    i = 1;
    while (i < s.size() && (is_hex(s[i]) || s[i] == ':')) ++i;
    if (i == 1 || i == s.size() || s[i] != ']') return fail_at(i, part);
    ++i;
  } else {
    while (true) {
      if (i == s.size() || !is_alnum(s[i])) return fail_at(i, part);
      while (i < s.size() && (is_alnum(s[i]) || s[i] == '-')) ++i;
      // A component cannot end in '-': report the byte where an alphanumeric was due.
      if (s[i - 1] == '-') return fail_at(i, part);
      if (i < s.size() && s[i] == '.') {
        ++i;
        continue;
      }
      break;
    }
  }
  if (i == s.size()) return {};
  if (s[i] != ':') return fail_at(i, part);
  const std::size_t port = ++i;
  while (i < s.size() && is_digit(s[i])) ++i;
  if (i == port || i != s.size()) return fail_at(i, part);
  return {};
}

// tag := [\w][\w.-]{0,127}
Scan scan_tag(std::string_view s) {
  constexpr std::string_view part = "tag";
  if (s.empty() || !is_word(s[0])) return fail_at(0, part);
  for (std::size_t i = 1; i < s.size(); ++i) {
    if (!is_word(s[i]) && s[i] != '.' && s[i] != '-') return fail_at(i, part);
  }
  if (s.size() > max_tag_length) {
    return fail_at(max_tag_length, part, "is longer than 128 characters");
  }
  return {};
}

// digest := algorithm ':' [0-9a-fA-F]{32,}
// algorithm := [A-Za-z][A-Za-z0-9]* ([-_+.][A-Za-z][A-Za-z0-9]*)*
// This is the reference grammar only; what go-digest then accepts is narrower
// (see digest_problem).
Scan scan_digest(std::string_view s) {
  constexpr std::string_view part = "digest";
  std::size_t i = 0;
  while (true) {
    if (i == s.size() || !is_alpha(s[i])) return fail_at(i, part);
    ++i;
    while (i < s.size() && is_alnum(s[i])) ++i;
    if (i == s.size()) return fail_at(i, part);
    if (s[i] == ':') break;
    if (s[i] != '-' && s[i] != '_' && s[i] != '+' && s[i] != '.') return fail_at(i, part);
    ++i;
  }
  const std::size_t hex = ++i;
  while (i < s.size() && is_hex(s[i])) ++i;
  if (i != s.size()) return fail_at(i, part);
  if (i - hex < min_digest_hex) return fail_at(hex, part, "needs at least 32 hex characters");
  return {};
}

// What referencePat and anchoredNameRegexp capture.
struct Match {
  std::string_view domain;  // empty: the name has no domain of its own
  std::string_view path;    // without the "library/" that normalization adds
  std::string_view tag;
  std::string_view digest;
  bool has_tag = false;
  bool has_digest = false;
};

// reference := name (':' tag)? ('@' digest)?
// name := (domain '/')? path
//
// The split points need no backtracking: neither name, tag nor digest holds
// '@', so the first '@' starts the digest; the tag holds neither '/' nor ':'
// and the path holds no ':', so the tag starts at the first ':' after the last
// '/' before the '@'. For the name, the grammar prefers a domain (Go's regexp
// is leftmost-first and the optional group is greedy): the first component is
// the domain if it is a valid one and the rest is a valid path; otherwise the
// whole name must be a path, with no domain.
//
// `docker_io_first`: the name is prefixed by a "docker.io/" that is not part of
// `body`. That domain is always valid, so the name is valid iff `body`'s name
// is a valid path.
Scan match_reference(std::string_view body, bool docker_io_first, Match& match) {
  const std::size_t at = body.find('@');
  const std::string_view before = body.substr(0, at);
  const std::size_t last_slash = before.rfind('/');
  const std::size_t colon = before.find(':', last_slash == npos ? 0 : last_slash + 1);
  const std::string_view name = before.substr(0, colon);

  if (docker_io_first) {
    if (const Scan path = scan_path(name); !path.ok()) return path;
    match.domain = {};
    match.path = name;
  } else {
    // A name cut short by an early '@' ("a@b.c/d") may hold no '/' at all,
    // and then only the bare path reading exists.
    const std::size_t slash = name.find('/');
    Scan with_domain;
    if (slash != npos) {
      with_domain = scan_domain(name.substr(0, slash));
      if (with_domain.ok()) with_domain = shifted(scan_path(name.substr(slash + 1)), slash + 1);
    }
    if (slash != npos && with_domain.ok()) {
      match.domain = name.substr(0, slash);
      match.path = name.substr(slash + 1);
    } else if (const Scan whole = scan_path(name); whole.ok()) {
      match.domain = {};
      match.path = name;
    } else if (slash == npos) {
      return whole;
    } else {
      // Both readings fail; the one that got further explains more, and on a
      // tie the domain reading, which is what a first component with '.' or
      // ':' was meant to be.
      return whole.failure > with_domain.failure ? whole : with_domain;
    }
  }

  match.has_tag = colon != npos;
  if (match.has_tag) {
    match.tag = before.substr(colon + 1);
    if (const Scan tag = scan_tag(match.tag); !tag.ok()) return shifted(tag, colon + 1);
  }
  match.has_digest = at != npos;
  if (match.has_digest) {
    match.digest = body.substr(at + 1);
    if (const Scan digest = scan_digest(match.digest); !digest.ok()) return shifted(digest, at + 1);
  }
  return {};
}

// normalize.go splitDockerDomain, as positions in the input.
struct Split {
  std::string_view body;  // matched against the grammar
  std::size_t body_offset = 0;
  bool docker_io_first = false;  // the domain is docker.io and body starts with the path
  bool official = false;         // "library/" goes in front of the path
  std::string_view remainder;    // what upstream checks for lowercase, up to its first ':'
  std::size_t remainder_offset = 0;
};

Split split_docker_domain(std::string_view text) {
  const std::size_t slash = text.find('/');
  if (slash == npos) {
    // A single component is always a Docker Hub official image, even
    // "localhost" or "example.com" (upstream's FIXME keeps it so).
    return Split{text, 0, true, true, text, 0};
  }
  const std::string_view first = text.substr(0, slash);
  const std::string_view rest = text.substr(slash + 1);
  if (first == legacy_default_domain || first == default_domain) {
    // "index.docker.io" is renamed; "docker.io" would be re-read as the same domain.
    const bool official = rest.find('/') == npos;
    return Split{rest, slash + 1, true, official, rest, slash + 1};
  }
  // Uppercase makes it a domain because a path cannot hold uppercase. Upstream
  // compares against Go's Unicode strings.ToLower; here only ASCII counts,
  // which changes no outcome (any other byte is invalid wherever it is).
  if (first == localhost || first.find_first_of(".:") != npos || first_upper(first) != npos) {
    return Split{text, 0, false, false, rest, slash + 1};
  }
  return Split{text, 0, true, false, text, 0};
}

// ParseNormalizedNamed refuses a bare image ID: "docker pull <id>" is a mistake.
bool is_identifier(std::string_view text) {
  return text.size() == identifier_length && std::all_of(text.begin(), text.end(), is_lower_hex);
}

// Go-like quoting: the input may hold NULs, control bytes or invalid UTF-8,
// and an error message must stay one printable line.
void append_escaped(std::string& out, std::string_view s) {
  static constexpr char hex_digits[] = "0123456789abcdef";
  for (const char c : s.substr(0, max_quoted)) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte >= 0x20 && byte < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += hex_digits[byte >> 4];
      out += hex_digits[byte & 0xf];
    }
  }
  if (s.size() > max_quoted) out += "...";
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  append_escaped(out, s);
  out += '"';
  if (s.size() > max_quoted) out += " (" + std::to_string(s.size()) + " bytes)";
  return out;
}

// "<what> at offset N in \"<input>\"": every message says where and quotes the input.
Error reference_error(std::string_view text, std::string_view what, std::size_t offset = npos) {
  std::string message(what);
  if (offset != npos) message += " at offset " + std::to_string(offset);
  message += " in ";
  message += quoted(text);
  return Error{std::move(message)};
}

Error format_error(std::string_view text, const Scan& scan, std::size_t offset) {
  std::string what = "invalid reference format: ";
  what += scan.part;
  if (!scan.problem.empty()) {
    what += ' ';
    what += scan.problem;
  } else if (offset >= text.size()) {
    what += " ends early";
  } else {
    what += " has unexpected '";
    append_escaped(what, text.substr(offset, 1));
    what += '\'';
  }
  return reference_error(text, what, offset);
}

std::size_t digest_hex_length(std::string_view algorithm) {
  // go-digest v1.0.0 registers exactly these, lowercase hex only.
  if (algorithm == "sha256") return 64;
  if (algorithm == "sha384") return 96;
  if (algorithm == "sha512") return 128;
  return 0;
}

// go-digest Digest.Validate on a digest that already matched the reference
// grammar: a known algorithm with exactly its length of lowercase hex.
// Unknown algorithms are refused as Docker refuses them ("unsupported digest
// algorithm"), and "invalid checksum digest format" when the algorithm is not
// even lowercase.
bool check_digest(std::string_view text, std::string_view digest, std::size_t digest_offset,
                  Error& error) {
  const std::size_t colon = digest.find(':');
  const std::string_view algorithm = digest.substr(0, colon);
  const std::string_view hex = digest.substr(colon + 1);
  const std::size_t hex_offset = digest_offset + colon + 1;
  const std::size_t expected = digest_hex_length(algorithm);
  if (expected == 0) {
    std::string what = first_upper(algorithm) != npos ? "invalid checksum digest format: algorithm "
                                                      : "unsupported digest algorithm ";
    what += quoted(algorithm);
    error = reference_error(text, what, digest_offset);
    return false;
  }
  if (hex.size() != expected) {
    error = reference_error(text,
                            "invalid checksum digest length: " + std::string(algorithm) +
                                " needs " + std::to_string(expected) + " hex characters, got " +
                                std::to_string(hex.size()),
                            hex_offset);
    return false;
  }
  const auto bad = std::find_if_not(hex.begin(), hex.end(), is_lower_hex);
  if (bad != hex.end()) {
    error = reference_error(
        text, "invalid checksum digest format: " + std::string(algorithm) + " is lowercase hex",
        hex_offset + static_cast<std::size_t>(bad - hex.begin()));
    return false;
  }
  return true;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (is_upper(c)) c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The suffix shared by canonical() and familiar(): the digest decides what is
// pulled, so a tag next to it is dropped (upstream ParseDockerRef does the same).
void append_tag_or_digest(std::string& out, const Reference& reference) {
  if (!reference.digest.empty()) {
    out += '@';
    out += reference.digest;
  } else if (!reference.tag.empty()) {
    out += ':';
    out += reference.tag;
  }
}

}  // namespace

std::string Reference::name() const {
  // The domain is empty only for names the grammar reads as a bare path
  // ("a_b.com/x"); upstream Name() then returns the path alone.
  if (domain.empty()) return path;
  std::string out;
  out.reserve(domain.size() + 1 + path.size());
  out += domain;
  out += '/';
  out += path;
  return out;
}

std::string Reference::familiar_name() const {
  // normalize.go familiarizeName: drop docker.io, and "library/" unless the
  // rest is itself nested ("library/a/b" stays as it is).
  if (domain != default_domain) return name();
  std::string_view short_path = path;
  if (short_path.starts_with(official_prefix) &&
      short_path.find('/', official_prefix.size()) == npos) {
    short_path.remove_prefix(official_prefix.size());
  }
  return std::string(short_path);
}

std::string Reference::canonical() const {
  std::string out = name();
  append_tag_or_digest(out, *this);
  return out;
}

std::string Reference::familiar() const {
  std::string out = familiar_name();
  append_tag_or_digest(out, *this);
  return out;
}

Expected<Reference> parse_reference(std::string_view text) {
  if (text.empty()) {
    // Upstream says "invalid reference format" here (it parses
    // "docker.io/library/"); the reason is clearer.
    return reference_error(text,
                           "invalid reference format: repository name must have at least one "
                           "component");
  }
  if (is_identifier(text)) {
    return Error{"invalid repository name (" + quoted(text) +
                 "), cannot specify 64-byte hexadecimal strings"};
  }

  const Split split = split_docker_domain(text);

  // normalize.go checks the remote name up to its first ':' before parsing,
  // which also catches an uppercase digest algorithm when there is no tag
  // ("r@SHA256:..." -> "repository name (library/r@SHA256) must be lowercase").
  const std::string_view remote = split.remainder.substr(0, split.remainder.find(':'));
  if (const std::size_t upper = first_upper(remote); upper != npos) {
    std::string what = "invalid reference format: repository name (";
    if (split.official) what += official_prefix;
    append_escaped(what, remote);
    what += ") must be lowercase";
    return reference_error(text, what, split.remainder_offset + upper);
  }

  Match match;
  if (const Scan scan = match_reference(split.body, split.docker_io_first, match); !scan.ok()) {
    // reference.go Parse: if lowercasing the whole input would make it match,
    // uppercase is the problem (an uppercase first component that is not a
    // valid domain, e.g. "UP_PER/x").
    if (first_upper(split.body) != npos) {
      const std::string lowered = ascii_lower(split.body);
      Match ignored;
      if (match_reference(lowered, split.docker_io_first, ignored).ok()) {
        return reference_error(text, "invalid reference format: repository name must be lowercase",
                               split.body_offset + first_upper(split.body));
      }
    }
    return format_error(text, scan, split.body_offset + scan.failure);
  }

  Reference reference;
  if (split.docker_io_first) {
    reference.domain = default_domain;
    reference.path.reserve((split.official ? official_prefix.size() : 0) + match.path.size());
    if (split.official) reference.path = official_prefix;
    reference.path += match.path;
  } else {
    reference.domain = match.domain;
    reference.path = match.path;
  }
  if (reference.path.size() > max_path_length) {
    return reference_error(text,
                           "repository name must not be more than 255 characters (the path has " +
                               std::to_string(reference.path.size()) + ")");
  }
  if (match.has_digest) {
    const auto digest_offset =
        split.body_offset + static_cast<std::size_t>(match.digest.data() - split.body.data());
    if (Error error; !check_digest(text, match.digest, digest_offset, error)) return error;
    reference.digest = match.digest;
  }
  if (match.has_tag) {
    reference.tag = match.tag;
  } else if (!match.has_digest) {
    reference.tag = default_tag;  // normalize.go TagNameOnly
  }
  return reference;
}

bool is_image_id(std::string_view text) {
  const std::size_t colon = text.find(':');
  if (colon == npos) return false;
  const std::size_t length = digest_hex_length(text.substr(0, colon));
  const std::string_view hex = text.substr(colon + 1);
  return length != 0 && hex.size() == length && std::all_of(hex.begin(), hex.end(), is_lower_hex);
}

}  // namespace swarm_prepull::reconcile
