#include "http/url.h"

#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/pct_string_view.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url_view.hpp>

namespace swarm_prepull::http {
namespace {

Error bad(std::string message) {
  return Error{make_error_code(errc::bad_request), {}, {}, 400, std::move(message)};
}

bool has_control(std::string_view text) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) return true;
  }
  return false;
}

}  // namespace

std::string percent_encode(std::string_view text, std::string_view keep) {
  boost::urls::grammar::lut_chars allowed = boost::urls::unreserved_chars;
  for (const char c : keep) allowed = allowed + boost::urls::grammar::lut_chars(c);
  boost::urls::encoding_opts options;
  options.lower_case = false;  // %3A, as Go's url package and the docker CLI write it
  return boost::urls::encode(text, allowed, options);
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_as_space) {
  const auto encoded = boost::urls::make_pct_string_view(text);
  if (!encoded) return std::nullopt;
  boost::urls::encoding_opts options;
  options.space_as_plus = plus_as_space;
  return encoded->decode(options);
}

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t code = 0;
    if (byte < 0x80) {
      ++i;
      continue;
    } else if ((byte & 0xE0) == 0xC0) {
      length = 2;
      code = byte & 0x1F;
    } else if ((byte & 0xF0) == 0xE0) {
      length = 3;
      code = byte & 0x0F;
    } else if ((byte & 0xF8) == 0xF0) {
      length = 4;
      code = byte & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    static constexpr std::uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

Result<Target> parse_target(std::string_view text) {
  if (text.empty() || text.front() != '/') {
    return bad("the request target must be a path starting with '/' (origin form)");
  }
  const auto url = boost::urls::parse_origin_form(text);
  if (!url) return bad("malformed request target: " + url.error().message());
  Target target;
  // The segments are split here rather than taken from Boost.URL's segment
  // view, which hides a leading "/." (its way to keep "//x" a path).
  std::string_view path = url->encoded_path();
  if (path != "/") {
    path.remove_prefix(1);
    std::size_t index = 0;
    while (true) {
      const auto slash = path.find('/');
      const std::string_view encoded = path.substr(0, slash);
      ++index;
      const std::string where = "path segment " + std::to_string(index);
      if (encoded.empty()) return bad("empty " + where + " (\"//\" or a trailing '/')");
      if (encoded.find("%2F") != std::string_view::npos ||
          encoded.find("%2f") != std::string_view::npos) {
        return bad(where + " holds an encoded '/' (%2F)");
      }
      auto decoded = percent_decode(encoded);
      if (!decoded) return bad(where + " is malformed");
      if (*decoded == "." || *decoded == "..") return bad(where + " is a dot segment");
      if (!is_valid_utf8(*decoded)) return bad(where + " is not valid UTF-8");
      if (has_control(*decoded)) return bad(where + " holds a control character");
      target.path += '/';
      target.path += *decoded;
      target.segments.push_back(std::move(*decoded));
      if (slash == std::string_view::npos) break;
      path.remove_prefix(slash + 1);
    }
  }
  if (target.path.empty()) target.path = "/";
  if (url->has_query()) {
    std::string_view query = url->encoded_query();
    while (!query.empty()) {
      const auto amp = query.find('&');
      const auto pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
      if (pair.empty()) continue;
      const auto equals = pair.find('=');
      auto name = percent_decode(pair.substr(0, equals), true);
      auto value = percent_decode(
          equals == std::string_view::npos ? std::string_view{} : pair.substr(equals + 1), true);
      if (!name || !value) return bad("malformed query string");
      if (!is_valid_utf8(*name) || has_control(*name)) {
        return bad("a query parameter name is not valid UTF-8 text");
      }
      if (!is_valid_utf8(*value) || has_control(*value)) {
        return bad("query parameter " + *name + ": not valid UTF-8 text");
      }
      target.query[std::move(*name)] = std::move(*value);
    }
  }
  return target;
}

}  // namespace swarm_prepull::http
