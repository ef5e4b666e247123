// Image references as Docker reads them: distribution/reference v0.6.0
// ParseNormalizedNamed followed by TagNameOnly. The cases are the grammar's
// own (many from upstream's reference_test.go and normalize_test.go), one row
// per case, one TEST per rule. Every reference that parses is also checked to
// re-parse from its canonical form to the same canonical form.
#include "reconcile/reference.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <vector>

namespace swarm_prepull::reconcile {
namespace {

using namespace std::string_literals;

// Digests from upstream's tests: realistic sha256, and the all-'f' forms.
const std::string hex64 = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c";
const std::string sha256 = "sha256:" + hex64;
const std::string sha256_f = "sha256:" + std::string(64, 'f');
const std::string sha384_f = "sha384:" + std::string(96, 'f');
const std::string sha512_f = "sha512:" + std::string(128, 'f');
const std::string busybox_hex = "86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";

// A reference that parses, and its fields.
struct Parsed {
  std::string input;
  std::string domain;
  std::string path;
  std::string tag;
  std::string digest;
};

// A reference that does not parse, and a part of the message that says why.
struct Rejected {
  std::string input;
  std::string message;
};

// The four printed forms of a parsed reference.
struct Printed {
  std::string input;
  std::string name;
  std::string familiar_name;
  std::string canonical;
  std::string familiar;
};

// Inputs may hold NULs and raw bytes; keep gtest's trace readable.
std::string printable(const std::string& s) {
  std::string out;
  for (const char c : s.substr(0, 120)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      out += c;
    } else {
      static constexpr char hex_digits[] = "0123456789abcdef";
      out += "\\x";
      out += hex_digits[byte >> 4];
      out += hex_digits[byte & 0xf];
    }
  }
  if (s.size() > 120) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

void expect_parses(const std::vector<Parsed>& rows) {
  for (const Parsed& row : rows) {
    SCOPED_TRACE("input: " + printable(row.input));
    const auto parsed = parse_reference(row.input);
    if (!parsed) {
      ADD_FAILURE() << parsed.error().message;
      continue;
    }
    EXPECT_EQ(parsed->domain, row.domain);
    EXPECT_EQ(parsed->path, row.path);
    EXPECT_EQ(parsed->tag, row.tag);
    EXPECT_EQ(parsed->digest, row.digest);
    // What swarm-prepull stores must read back as itself.
    const auto again = parse_reference(parsed->canonical());
    if (!again) {
      ADD_FAILURE() << "canonical " << parsed->canonical() << ": " << again.error().message;
      continue;
    }
    EXPECT_EQ(again->canonical(), parsed->canonical());
  }
  ::testing::Test::RecordProperty("parsed_rows", static_cast<int>(rows.size()));
}

void expect_rejects(const std::vector<Rejected>& rows) {
  for (const Rejected& row : rows) {
    SCOPED_TRACE("input: " + printable(row.input));
    const auto parsed = parse_reference(row.input);
    if (parsed) {
      ADD_FAILURE() << "parsed as " << parsed->canonical();
      continue;
    }
    EXPECT_NE(parsed.error().message.find(row.message), std::string::npos)
        << "message: " << parsed.error().message << "\nexpected to contain: " << row.message;
  }
  ::testing::Test::RecordProperty("rejected_rows", static_cast<int>(rows.size()));
}

void expect_prints(const std::vector<Printed>& rows) {
  for (const Printed& row : rows) {
    SCOPED_TRACE("input: " + printable(row.input));
    const auto parsed = parse_reference(row.input);
    if (!parsed) {
      ADD_FAILURE() << parsed.error().message;
      continue;
    }
    EXPECT_EQ(parsed->name(), row.name);
    EXPECT_EQ(parsed->familiar_name(), row.familiar_name);
    EXPECT_EQ(parsed->canonical(), row.canonical);
    EXPECT_EQ(parsed->familiar(), row.familiar);
  }
  ::testing::Test::RecordProperty("printed_rows", static_cast<int>(rows.size()));
}

// A name without '/' is an official image on Docker Hub, whatever it looks like.
TEST(ReferenceFamiliar, SingleComponentIsAnOfficialHubImage) {
  expect_parses({
      {"redis", "docker.io", "library/redis", "latest", ""},
      {"ubuntu", "docker.io", "library/ubuntu", "latest", ""},
      {"a", "docker.io", "library/a", "latest", ""},
      {"0", "docker.io", "library/0", "latest", ""},
      {"ubuntu-12.04-base", "docker.io", "library/ubuntu-12.04-base", "latest", ""},
      {"thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", "docker.io",
       "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", "latest", ""},
      {"dbcc1", "docker.io", "library/dbcc1", "latest", ""},
      // FIXME upstream: a bare "localhost" or "example.com" is not taken for a domain.
      {"localhost", "docker.io", "library/localhost", "latest", ""},
      {"docker.io", "docker.io", "library/docker.io", "latest", ""},
      {"192.168.1.1", "docker.io", "library/192.168.1.1", "latest", ""},
      {"test_com", "docker.io", "library/test_com", "latest", ""},
  });
}

// A first component without '.', ':' or uppercase, and not "localhost", is a
// Hub namespace, and the name is kept as it is (no "library/").
TEST(ReferenceFamiliar, NamespacedNamesStayOnTheHub) {
  expect_parses({
      {"team/app", "docker.io", "team/app", "latest", ""},
      {"team/app:1", "docker.io", "team/app", "1", ""},
      {"dmcgowan/myapp", "docker.io", "dmcgowan/myapp", "latest", ""},
      {"docker/docker", "docker.io", "docker/docker", "latest", ""},
      {"library/debian", "docker.io", "library/debian", "latest", ""},
      {"library/foo/bar", "docker.io", "library/foo/bar", "latest", ""},
      {"store/foo/bar", "docker.io", "store/foo/bar", "latest", ""},
      {"other/library", "docker.io", "other/library", "latest", ""},
      {"d/docker", "docker.io", "d/docker", "latest", ""},
      {"jess/t", "docker.io", "jess/t", "latest", ""},
      {"test_com/foo", "docker.io", "test_com/foo", "latest", ""},
      {"localhostx/y", "docker.io", "localhostx/y", "latest", ""},
      {"a/b/c/d/e", "docker.io", "a/b/c/d/e", "latest", ""},
  });
}

// docker.io and its legacy name index.docker.io are the same registry; a
// single component under them still gets "library/".
TEST(ReferenceLibraryPrefix, HubDomainsNormalize) {
  expect_parses({
      {"docker.io/debian", "docker.io", "library/debian", "latest", ""},
      {"docker.io/library/debian", "docker.io", "library/debian", "latest", ""},
      {"docker.io/docker/docker", "docker.io", "docker/docker", "latest", ""},
      {"docker.io/library/foo/bar", "docker.io", "library/foo/bar", "latest", ""},
      {"docker.io/redis:7", "docker.io", "library/redis", "7", ""},
      {"index.docker.io/debian", "docker.io", "library/debian", "latest", ""},
      {"index.docker.io/library/debian", "docker.io", "library/debian", "latest", ""},
      {"index.docker.io/docker/docker", "docker.io", "docker/docker", "latest", ""},
      {"index.docker.io/fooo/bar", "docker.io", "fooo/bar", "latest", ""},
      {"docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a", "docker.io",
       "library/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a", "latest", ""},
      // Only the exact spellings normalize: these are other registries.
      {"registry-1.docker.io/foo", "registry-1.docker.io", "foo", "latest", ""},
      {"Docker.io/foo", "Docker.io", "foo", "latest", ""},
      {"docker.io:443/foo", "docker.io:443", "foo", "latest", ""},
      {"index.docker.io:443/foo", "index.docker.io:443", "foo", "latest", ""},
  });
}

// TagNameOnly: "latest" only when neither tag nor digest is given.
TEST(ReferenceDefaultTag, LatestOnlyWhenNothingElseIsGiven) {
  expect_parses({
      {"redis:latest", "docker.io", "library/redis", "latest", ""},
      {"example.com/x", "example.com", "x", "latest", ""},
      {"redis@" + sha256, "docker.io", "library/redis", "", sha256},
      {"example.com/x@" + sha256, "example.com", "x", "", sha256},
      {"redis:7@" + sha256, "docker.io", "library/redis", "7", sha256},
  });
}

// tag := [\w][\w.-]{0,127}, \w being ASCII [A-Za-z0-9_].
TEST(ReferenceTag, ValidTags) {
  expect_parses({
      {"lowercase:Uppercase", "docker.io", "library/lowercase", "Uppercase", ""},
      {"redis:7.2.4-alpine3.19", "docker.io", "library/redis", "7.2.4-alpine3.19", ""},
      {"redis:_private", "docker.io", "library/redis", "_private", ""},
      {"redis:0", "docker.io", "library/redis", "0", ""},
      {"redis:v1.0__rc--2", "docker.io", "library/redis", "v1.0__rc--2", ""},
      {"redis:a.", "docker.io", "library/redis", "a.", ""},
      {"redis:" + std::string(128, 'a'), "docker.io", "library/redis", std::string(128, 'a'), ""},
      {"redis:_" + std::string(127, '-'), "docker.io", "library/redis", "_" + std::string(127, '-'),
       ""},
      {"test.com/foo:TAG5", "test.com", "foo", "TAG5", ""},
      {"sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux",
       "some-long-tag", ""},
      {"b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io", "test.example.com/my-app",
       "test.example.com", ""},
      {"xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com", ""},
      // Without '/', "host:port" is a name and a tag.
      {"test.com:tag", "docker.io", "library/test.com", "tag", ""},
      {"test.com:5000", "docker.io", "library/test.com", "5000", ""},
      {"192.168.1.1:5000", "docker.io", "library/192.168.1.1", "5000", ""},
      {"localhost:5000", "docker.io", "library/localhost", "5000", ""},
      {"foo_bar.com:8080", "docker.io", "library/foo_bar.com", "8080", ""},
      {"foo/foo_bar.com:8080", "docker.io", "foo/foo_bar.com", "8080", ""},
  });
}

TEST(ReferenceTag, InvalidTags) {
  expect_rejects({
      {"redis:" + std::string(129, 'a'), "tag is longer than 128 characters at offset 134"},
      {"redis:", "tag ends early at offset 6"},
      {"redis:-1", "tag has unexpected '-' at offset 6"},
      {"redis:.hidden", "tag has unexpected '.' at offset 6"},
      {"redis:a+b", "tag has unexpected '+' at offset 7"},
      {"redis:a:b", "tag has unexpected ':' at offset 7"},
      {"redis:ta g", "tag has unexpected ' ' at offset 8"},
      {"redis::tag", "tag has unexpected ':' at offset 6"},
      {"redis:@" + sha256, "tag has unexpected '@' at offset 6"},
      {"redis:tag/x", "invalid reference format"},
      {"redis:\xc3\xa9", "tag has unexpected '\\xc3' at offset 6"},
  });
}

// digest := algorithm ':' hex{32,} in the grammar, then go-digest: sha256,
// sha384 or sha512 with exactly 64, 96 or 128 lowercase hex characters.
TEST(ReferenceDigest, ValidDigests) {
  expect_parses({
      {"redis@" + sha256, "docker.io", "library/redis", "", sha256},
      {"docker.io/library/redis@" + sha256, "docker.io", "library/redis", "", sha256},
      {"dmcgowan/myapp@" + sha256, "docker.io", "dmcgowan/myapp", "", sha256},
      {"test:5000/repo@" + sha256_f, "test:5000", "repo", "", sha256_f},
      {"other.com/named@sha256:1234567890098765432112345667890098765432112345667890098765432112",
       "other.com", "named", "",
       "sha256:1234567890098765432112345667890098765432112345667890098765432112"},
      {"x@" + sha384_f, "docker.io", "library/x", "", sha384_f},
      {"x@" + sha512_f, "docker.io", "library/x", "", sha512_f},
  });
}

TEST(ReferenceDigest, InvalidDigests) {
  expect_rejects({
      {"repo@sha256:ffffffffffffffffffffffffffffffffff",
       "invalid checksum digest length: sha256 needs 64 hex characters, got 34 at offset 12"},
      {"repo@sha256:" + std::string(63, 'f'), "invalid checksum digest length"},
      {"repo@sha256:" + std::string(65, 'f'), "invalid checksum digest length"},
      {"repo@sha256:" + std::string(31, 'f'), "digest needs at least 32 hex characters"},
      {"repo@sha256:" + std::string(64, 'F'),
       "invalid checksum digest format: sha256 is lowercase"},
      {"repo@sha256:" + std::string(63, 'f') + "A", "invalid checksum digest format"},
      {"repo@sha256:" + std::string(63, 'f') + "g", "digest has unexpected 'g' at offset 75"},
      {"repo@sha384:" + std::string(64, 'f'), "sha384 needs 96 hex characters, got 64"},
      {"repo@sha512:" + std::string(64, 'f'), "sha512 needs 128 hex characters, got 64"},
      {"validname@invaliddigest:" + std::string(64, 'f'),
       "unsupported digest algorithm \"invaliddigest\" at offset 10"},
      {"repo@md5:" + std::string(32, 'f'), "unsupported digest algorithm \"md5\""},
      {"repo@sha256+b64:" + std::string(64, 'f'), "unsupported digest algorithm \"sha256+b64\""},
      {"repo:1@SHA256:" + hex64, "invalid checksum digest format: algorithm \"SHA256\""},
      // normalize.go's lowercase check runs up to the first ':' and so reaches
      // the algorithm when there is no tag.
      {"repo@SHA256:" + hex64, "repository name (library/repo@SHA256) must be lowercase"},
      {"repo@sha256", "digest ends early at offset 11"},
      {"repo@", "digest ends early at offset 5"},
      {"repo@:" + hex64, "digest has unexpected ':' at offset 5"},
      {"repo@1sha:" + hex64, "digest has unexpected '1' at offset 5"},
      {"repo@sha256:" + hex64 + "@" + sha256, "digest has unexpected '@' at offset 76"},
      {"@" + sha256, "invalid reference format"},
  });
}

// "name:tag@digest" keeps both; canonical() keeps only the digest.
TEST(ReferenceTagAndDigest, BothAreKept) {
  expect_parses({
      {"busybox:latest@sha256:" + busybox_hex, "docker.io", "library/busybox", "latest",
       "sha256:" + busybox_hex},
      {"127.0.0.1:5000/bb:1@" + sha256, "127.0.0.1:5000", "bb", "1", sha256},
      {"test:5000/repo:tag@" + sha256_f, "test:5000", "repo", "tag", sha256_f},
      {"[2001:db8::1]:5000/repo:tag@" + sha256_f, "[2001:db8::1]:5000", "repo", "tag", sha256_f},
      {"xn--7o8h.com/myimage:xn--7o8h.com@" + sha512_f, "xn--7o8h.com", "myimage", "xn--7o8h.com",
       sha512_f},
  });
}

// domain := host (':' port)?, host := components of [a-zA-Z0-9-] (no hyphen
// at either end) joined by '.', or an IPv6 address in brackets.
TEST(ReferenceRegistry, DomainsAndPorts) {
  expect_parses({
      {"127.0.0.1:5000/docker/docker", "127.0.0.1:5000", "docker/docker", "latest", ""},
      {"127.0.0.1:5000/library/debian", "127.0.0.1:5000", "library/debian", "latest", ""},
      {"127.0.0.1:5000/debian", "127.0.0.1:5000", "debian", "latest", ""},
      {"192.168.0.1:8/debian", "192.168.0.1:8", "debian", "latest", ""},
      {"192.168.1.1/repo", "192.168.1.1", "repo", "latest", ""},
      {"192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "repo", "5050", ""},
      {"test:5000/repo", "test:5000", "repo", "latest", ""},
      {"test-com:8080/foo", "test-com:8080", "foo", "latest", ""},
      {"test.com:8080/foo", "test.com:8080", "foo", "latest", ""},
      {"xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo", "latest", ""},
      {"ghcr.io/o/r:1", "ghcr.io", "o/r", "1", ""},
      {"a.b.c.d.e/x", "a.b.c.d.e", "x", "latest", ""},
      {"1.2.3.4.5/x", "1.2.3.4.5", "x", "latest", ""},
      {"a--b.com/x", "a--b.com", "x", "latest", ""},
      // The port is digits, of any value.
      {"example.com:0/x", "example.com:0", "x", "latest", ""},
      {"example.com:65536/x", "example.com:65536", "x", "latest", ""},
  });
}

TEST(ReferenceRegistry, InvalidDomains) {
  expect_rejects({
      {"example.com:/x", "domain has unexpected '/' at offset 12"},
      {"example.com:port/x", "domain has unexpected 'p' at offset 12"},
      {"host:5000:6000/x", "domain has unexpected ':' at offset 9"},
      {"-example.com/x", "has unexpected '-' at offset 0"},
      {"example-.com/x", "domain has unexpected '.' at offset 8"},
      {"example..com/x", "has unexpected '.' at offset 8"},
      {"example.com./x", "has unexpected '/' at offset 12"},
      {"exa$mple.com/x", "has unexpected '$' at offset 3"},
      {"https://github.com/docker/docker", "invalid reference format"},
      {"fc00::1:5000/debian", "invalid reference format"},
      {"-docker.io/docker/docker", "invalid reference format"},
  });
}

// "localhost" is always a domain when a '/' follows it.
TEST(ReferenceLocalhost, IsADomain) {
  expect_parses({
      {"localhost/x", "localhost", "x", "latest", ""},
      {"localhost:5000/x", "localhost:5000", "x", "latest", ""},
      {"localhost:5000/x:1", "localhost:5000", "x", "1", ""},
      {"localhost/library/x", "localhost", "library/x", "latest", ""},
      {"localhost.localdomain/x", "localhost.localdomain", "x", "latest", ""},
      {"LOCALHOST/x", "LOCALHOST", "x", "latest", ""},
  });
  expect_rejects({
      {"localhost/", "repository path ends early at offset 10"},
      {"localhost/Foo", "repository name (Foo) must be lowercase at offset 10"},
  });
}

// ipv6address := '[' [a-fA-F0-9:]+ ']': no zone, no embedded IPv4, a port
// only after the bracket, and never without a path.
TEST(ReferenceIpv6, BracketedAddresses) {
  expect_parses({
      {"[2001:db8::1]/repo", "[2001:db8::1]", "repo", "latest", ""},
      {"[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "repo", "tag", ""},
      {"[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "repo", "latest", ""},
      {"[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000", "repo", "tag", ""},
      {"[2001:db8::1]:5000/repo@" + sha256_f, "[2001:db8::1]:5000", "repo", "", sha256_f},
      {"[2001:db8::]:5000/repo", "[2001:db8::]:5000", "repo", "latest", ""},
      {"[::1]:5000/repo", "[::1]:5000", "repo", "latest", ""},
      {"[fc00::1]:5000/docker/docker", "[fc00::1]:5000", "docker/docker", "latest", ""},
      {"[fc00:1:2:3:4:5:6:7]:5000/library/debian", "[fc00:1:2:3:4:5:6:7]:5000", "library/debian",
       "latest", ""},
      {"[FC00::1]:5000/x", "[FC00::1]:5000", "x", "latest", ""},
  });
  expect_rejects({
      {"[2001:db8::1]", "invalid reference format"},
      {"[2001:db8::1]:5000", "invalid reference format"},
      {"[2001:db8::1]:tag", "invalid reference format"},
      {"[fc00::1]", "invalid reference format"},
      {"[fe80::1%eth0]:5000/repo", "domain has unexpected '%' at offset 8"},
      {"[fe80::1%@invalidzone]:5000/repo", "invalid reference format"},
      {"[2001:db8:3:4::192.0.2.33]:5000/debian", "domain has unexpected '.' at offset 18"},
      {"[]:5000/x", "domain has unexpected ']' at offset 1"},
      {"[::1/x", "domain has unexpected '/' at offset 4"},
      {"[::1]5000/x", "domain has unexpected '5' at offset 5"},
      {"::1/x", "invalid reference format"},
      {"[::g]:5000/x", "domain has unexpected 'g' at offset 3"},
  });
}

// The path is lowercase; the domain keeps its case, and an uppercase first
// component is taken for a domain (normalize.go splitDockerDomain).
TEST(ReferenceUppercase, DomainMayBeUppercase) {
  expect_parses({
      {"Docker/docker", "Docker", "docker", "latest", ""},
      {"DOCKER/docker", "DOCKER", "docker", "latest", ""},
      {"Foo/bar", "Foo", "bar", "latest", ""},
      {"EXAMPLE.COM/x", "EXAMPLE.COM", "x", "latest", ""},
      {"Example.com:5000/x:TAG", "Example.com:5000", "x", "TAG", ""},
  });
}

TEST(ReferenceUppercase, PathMustBeLowercase) {
  expect_rejects({
      {"Redis",
       "invalid reference format: repository name (library/Redis) must be lowercase at offset 0 "
       "in \"Redis\""},
      {"Uppercase:tag", "repository name (library/Uppercase) must be lowercase"},
      {"docker/Docker", "repository name (docker/Docker) must be lowercase at offset 7"},
      {"docker.io/docker/Docker", "repository name (docker/Docker) must be lowercase"},
      {"docker.io/Redis", "repository name (library/Redis) must be lowercase at offset 10"},
      {"test:5000/Uppercase/lowercase:tag",
       "repository name (Uppercase/lowercase) must be lowercase"},
      {"example.com/Foo", "repository name (Foo) must be lowercase"},
      {"team/app/Sub", "repository name (team/app/Sub) must be lowercase at offset 9"},
      // Not a valid domain, but lowercased it would be a valid path.
      {"UP_PER/x", "invalid reference format: repository name must be lowercase at offset 0"},
      {"A__B/c:1", "repository name must be lowercase"},
  });
}

// separator := [._] | __ | [-]+ between runs of [a-z0-9].
TEST(ReferenceSeparators, ValidSeparators) {
  expect_parses({
      {"team/a.b", "docker.io", "team/a.b", "latest", ""},
      {"team/a_b", "docker.io", "team/a_b", "latest", ""},
      {"team/a__b", "docker.io", "team/a__b", "latest", ""},
      {"team/a-b", "docker.io", "team/a-b", "latest", ""},
      {"team/a---b", "docker.io", "team/a---b", "latest", ""},
      {"team/a.b_c__d-e--f", "docker.io", "team/a.b_c__d-e--f", "latest", ""},
      {"docker-rules/docker", "docker.io", "docker-rules/docker", "latest", ""},
      {"docker---rules/docker", "docker.io", "docker---rules/docker", "latest", ""},
      {"dock__er/docker", "docker.io", "dock__er/docker", "latest", ""},
      {"a_b", "docker.io", "library/a_b", "latest", ""},
      {"a-b", "docker.io", "library/a-b", "latest", ""},
      {"a__b", "docker.io", "library/a__b", "latest", ""},
  });
}

TEST(ReferenceSeparators, InvalidSeparators) {
  expect_rejects({
      {"team/a___b", "repository path has unexpected '_' at offset 8"},
      {"team/a..b", "repository path has unexpected '.' at offset 7"},
      {"team/a._b", "repository path has unexpected '_' at offset 7"},
      {"team/a_-b", "repository path has unexpected '-' at offset 7"},
      {"team/a-_b", "repository path has unexpected '_' at offset 7"},
      {"dock_.er/docker", "repository path has unexpected '.' at offset 5"},
      {"dock-.er/docker", "has unexpected '.' at offset 5"},
      {"dock..er/docker", "invalid reference format"},
      {"-docker", "repository path has unexpected '-' at offset 0"},
      {"-docker/docker", "repository path has unexpected '-' at offset 0"},
      {"docker-/docker", "repository path has unexpected '/' at offset 7"},
      {"-docker-/docker", "repository path has unexpected '-' at offset 0"},
      {"____/____", "repository path has unexpected '_' at offset 0"},
      {"_docker/_docker", "repository path has unexpected '_' at offset 0"},
      {"team/.a", "repository path has unexpected '.' at offset 5"},
      {"team/a.", "repository path ends early at offset 7"},
      {"team/a-", "repository path ends early at offset 7"},
      {"team/a_", "repository path ends early at offset 7"},
  });
}

// A first component with '.' that is no valid domain but a valid path leaves
// the whole name as the path, with no domain: upstream's Parse re-reads the
// name with the grammar, which then takes the no-domain branch.
TEST(ReferenceSeparators, UnderscoreDomainIsAPath) {
  expect_parses({
      {"a_b.com/foo", "", "a_b.com/foo", "latest", ""},
      {"a__b.example/foo:1", "", "a__b.example/foo", "1", ""},
  });
}

// RepositoryNameTotalLengthMax: at most 255 characters of path ("library/"
// included); the domain does not count (distribution/reference v0.6.0).
TEST(ReferenceLength, PathOf255Passes) {
  expect_parses({
      {"example.com/" + std::string(255, 'a'), "example.com", std::string(255, 'a'), "latest", ""},
      {std::string(247, 'a'), "docker.io", "library/" + std::string(247, 'a'), "latest", ""},
      {"team/" + std::string(250, 'a'), "docker.io", "team/" + std::string(250, 'a'), "latest", ""},
      {[] {
         std::string s;
         for (int i = 0; i < 127; ++i) s += "a/";
         return s + "a:tag-puts-this-over-max";
       }(),
       "docker.io",
       [] {
         std::string s;
         for (int i = 0; i < 127; ++i) s += "a/";
         return s + "a";
       }(),
       "tag-puts-this-over-max", ""},
      {std::string(300, 'a') + ".com/x", std::string(300, 'a') + ".com", "x", "latest", ""},
  });
}

TEST(ReferenceLength, PathOf256Fails) {
  expect_rejects({
      {"example.com/" + std::string(256, 'a'),
       "repository name must not be more than 255 characters (the path has 256)"},
      {std::string(248, 'a'), "repository name must not be more than 255 characters"},
      {"team/" + std::string(251, 'a') + ":1", "must not be more than 255 characters"},
      {[] {
         std::string s;
         for (int i = 0; i < 128; ++i) s += "a/";
         return s + "a:tag";
       }(),
       "must not be more than 255 characters (the path has 257)"},
      {"this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_"
       "namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_"
       "lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_"
       "255/docker",
       "must not be more than 255 characters"},
  });
}

// A bare 64-hex string is an image ID, not a name; anything around it makes
// it a name again.
TEST(ReferenceIdentifier, Bare64HexIsRefused) {
  expect_rejects({
      {"1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
       "invalid repository name "
       "(\"1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a\"), "
       "cannot specify 64-byte hexadecimal strings"},
      {hex64, "cannot specify 64-byte hexadecimal strings"},
      // Uppercase hex is no identifier, but no valid name either.
      {"1A3F5E7D9C1B3A5F7E9D1C3B5A7F9E1D3C5B7A9F1E3D5D7C9B1A3F5E7D9C1B3A", "must be lowercase"},
  });
  expect_parses({
      {hex64 + ":latest", "docker.io", "library/" + hex64, "latest", ""},
      {hex64 + "a", "docker.io", "library/" + hex64 + "a", "latest", ""},
      {hex64.substr(1), "docker.io", "library/" + hex64.substr(1), "latest", ""},
      {"team/" + hex64, "docker.io", "team/" + hex64, "latest", ""},
  });
}

// Empty input, empty components, stray separators.
TEST(ReferenceMalformed, EmptyAndStraySeparators) {
  expect_rejects({
      {"", "repository name must have at least one component in \"\""},
      {"/", "repository path has unexpected '/' at offset 0"},
      {"/redis", "repository path has unexpected '/' at offset 0"},
      {"redis/", "repository path ends early at offset 6"},
      {"docker/", "repository path ends early at offset 7"},
      {"docker///docker", "repository path has unexpected '/' at offset 7"},
      {"docker.io/docker///docker", "repository path has unexpected '/' at offset 17"},
      {"docker.io/", "repository path ends early at offset 10"},
      {"a//b", "repository path has unexpected '/' at offset 2"},
      {":", "repository path has unexpected ':' at offset 0"},
      {":justtag", "repository path has unexpected ':' at offset 0"},
      {"@", "repository path has unexpected '@' at offset 0"},
      {"redis@@", "digest has unexpected '@' at offset 6"},
      {" redis", "has unexpected ' ' at offset 0"},
      {"redis ", "has unexpected ' ' at offset 5"},
      {"re dis", "has unexpected ' ' at offset 2"},
      {"aa/asdf$$^/aa",
       "invalid reference format: repository path has unexpected '$' at offset 7 in "
       "\"aa/asdf$$^/aa\""},
  });
}

// Untrusted bytes: NULs, control characters, UTF-8 and invalid UTF-8 are all
// outside the grammar, and the message stays printable.
TEST(ReferenceMalformed, RawBytes) {
  expect_rejects({
      {"foo\0bar"s, "repository path has unexpected '\\x00' at offset 3 in \"foo\\x00bar\""},
      {"\0"s, "at offset 0 in \"\\x00\""},
      {"redis:7\0"s, "tag has unexpected '\\x00' at offset 7"},
      {"redis\n", "unexpected '\\x0a' at offset 5"},
      {std::string("\xef\xbd\x92") + "edis", "unexpected '\\xef' at offset 0"},
      {"\xc3\xa9/foo", "unexpected '\\xc3' at offset 0"},
      {"foo/\xc3\x89", "unexpected '\\xc3' at offset 4"},
      {"\xff", "unexpected '\\xff' at offset 0"},
      {"\xc3\x28", "unexpected '\\xc3' at offset 0"},
      {"a\"b", "unexpected '\\\"' at offset 1 in \"a\\\"b\""},
  });
}

// Huge inputs end quickly with a short message that still quotes the input.
TEST(ReferenceMalformed, HugeInputs) {
  expect_rejects({
      {std::string(1'000'000, 'a'), "(the path has 1000008) in \"aaaa"},
      {std::string(1'000'000, 'a'), "...\" (1000000 bytes)"},
      {std::string(1 << 20, '/'), "at offset 0"},
      {std::string(100'000, '@'), "at offset 0"},
      {std::string(100'000, ':'), "at offset 0"},
      {"redis:" + std::string(100'000, 'a'), "tag is longer than 128 characters"},
      {"redis@sha256:" + std::string(100'000, 'f'), "got 100000"},
      {std::string(100'000, 'A'), "must be lowercase"},
  });
  const auto parsed = parse_reference(std::string(1'000'000, 'a'));
  ASSERT_FALSE(parsed);
  EXPECT_LT(parsed.error().message.size(), 400u) << parsed.error().message;
}

TEST(ReferencePrinting, NameFamiliarCanonical) {
  expect_prints({
      {"redis", "docker.io/library/redis", "redis", "docker.io/library/redis:latest",
       "redis:latest"},
      {"redis:7", "docker.io/library/redis", "redis", "docker.io/library/redis:7", "redis:7"},
      {"team/app:1", "docker.io/team/app", "team/app", "docker.io/team/app:1", "team/app:1"},
      {"docker.io/foo", "docker.io/library/foo", "foo", "docker.io/library/foo:latest",
       "foo:latest"},
      {"index.docker.io/library/ubuntu-12.04-base", "docker.io/library/ubuntu-12.04-base",
       "ubuntu-12.04-base", "docker.io/library/ubuntu-12.04-base:latest",
       "ubuntu-12.04-base:latest"},
      // familiarizeName strips "library/" only when nothing is nested below it.
      {"library/foo/bar", "docker.io/library/foo/bar", "library/foo/bar",
       "docker.io/library/foo/bar:latest", "library/foo/bar:latest"},
      {"other/library", "docker.io/other/library", "other/library",
       "docker.io/other/library:latest", "other/library:latest"},
      {"127.0.0.1:5000/bb:1@" + sha256, "127.0.0.1:5000/bb", "127.0.0.1:5000/bb",
       "127.0.0.1:5000/bb@" + sha256, "127.0.0.1:5000/bb@" + sha256},
      {"busybox:latest@sha256:" + busybox_hex, "docker.io/library/busybox", "busybox",
       "docker.io/library/busybox@sha256:" + busybox_hex, "busybox@sha256:" + busybox_hex},
      {"redis@" + sha256, "docker.io/library/redis", "redis", "docker.io/library/redis@" + sha256,
       "redis@" + sha256},
      {"localhost/x", "localhost/x", "localhost/x", "localhost/x:latest", "localhost/x:latest"},
      {"example.com/library/x", "example.com/library/x", "example.com/library/x",
       "example.com/library/x:latest", "example.com/library/x:latest"},
      {"registry-1.docker.io/library/x", "registry-1.docker.io/library/x",
       "registry-1.docker.io/library/x", "registry-1.docker.io/library/x:latest",
       "registry-1.docker.io/library/x:latest"},
      {"Foo/bar", "Foo/bar", "Foo/bar", "Foo/bar:latest", "Foo/bar:latest"},
      {"[::1]:5000/x@" + sha256, "[::1]:5000/x", "[::1]:5000/x", "[::1]:5000/x@" + sha256,
       "[::1]:5000/x@" + sha256},
      {"a_b.com/foo", "a_b.com/foo", "a_b.com/foo", "a_b.com/foo:latest", "a_b.com/foo:latest"},
      // Upstream's familiar form is ambiguous here: read back, "foo.com" is a domain.
      {"docker.io/foo.com/bar", "docker.io/foo.com/bar", "foo.com/bar",
       "docker.io/foo.com/bar:latest", "foo.com/bar:latest"},
  });
}

// A Reference built by hand with neither tag nor digest prints as its name.
TEST(ReferencePrinting, NameOnlyWhenNoTagAndNoDigest) {
  const Reference reference{"docker.io", "library/redis", "", ""};
  EXPECT_EQ(reference.canonical(), "docker.io/library/redis");
  EXPECT_EQ(reference.familiar(), "redis");
}

// Equal references compare equal whatever spelling they were parsed from.
TEST(ReferenceEquality, SpellingsOfOneImage) {
  const std::vector<std::string> spellings = {"redis",
                                              "redis:latest",
                                              "library/redis",
                                              "docker.io/redis",
                                              "docker.io/library/redis:latest",
                                              "index.docker.io/redis",
                                              "index.docker.io/library/redis:latest"};
  const auto first = parse_reference(spellings.front());
  ASSERT_TRUE(first);
  for (const auto& spelling : spellings) {
    const auto parsed = parse_reference(spelling);
    ASSERT_TRUE(parsed) << spelling << ": " << parsed.error().message;
    EXPECT_EQ(*parsed, *first) << spelling;
  }
  ::testing::Test::RecordProperty("spelling_rows", static_cast<int>(spellings.size()));
}

// swarm's executor skips the pull of an image given by ID: whatever
// go-digest's Parse accepts.
TEST(IsImageId, ADigestAloneIsAnImageId) {
  EXPECT_TRUE(is_image_id("sha256:" + std::string(64, 'a')));
  EXPECT_TRUE(is_image_id("sha384:" + std::string(96, '0')));
  EXPECT_TRUE(is_image_id("sha512:" + std::string(128, 'f')));
}

TEST(IsImageId, AnythingElseIsNot) {
  EXPECT_FALSE(is_image_id(std::string(64, 'a')));  // parse_reference refuses that one
  EXPECT_FALSE(is_image_id("sha256:" + std::string(63, 'a')));
  EXPECT_FALSE(is_image_id("sha256:" + std::string(64, 'A')));
  EXPECT_FALSE(is_image_id("md5:" + std::string(32, 'a')));
  EXPECT_FALSE(is_image_id("redis:"));
  EXPECT_FALSE(is_image_id(":"));
  EXPECT_FALSE(is_image_id("redis@sha256:" + std::string(64, 'a')));
  EXPECT_FALSE(is_image_id("docker.io/library/sha256:" + std::string(64, 'a')));
}

}  // namespace
}  // namespace swarm_prepull::reconcile
