// The .env / --env-file reader, following compose-go's dotenv package
// (parser.go, godotenv.go), which `docker compose` uses for --env-file. It is
// not a line-by-line reader: a quoted value may span lines, and after its
// closing quote the next statement starts at once (`A="x" # c` is a comment,
// `A="x" B=y` sets both), so it reads statement by statement, counting lines.
#include <algorithm>
#include <cctype>

#include "compose/compose.h"

namespace swarm_prepull::compose {
namespace {

using reconcile::Error;
using reconcile::Expected;

// Blanks inside a line (compose-go's isSpace: whitespace but not '\n').
bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r'; }
bool is_space(char c) { return is_blank(c) || c == '\n'; }

std::string_view trim_left_blanks(std::string_view text) {
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  return text;
}

std::string_view trim_right_spaces(std::string_view text) {
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

std::string_view first_line(std::string_view text) { return text.substr(0, text.find('\n')); }

// The length of the UTF-8 sequence at `at`, 0 when it is not valid UTF-8
// (compose-go reads keys as runes; an invalid byte is U+FFFD, not a letter).
std::size_t utf8_length(std::string_view text, std::size_t at) {
  const auto lead = static_cast<unsigned char>(text[at]);
  const std::size_t length = lead >= 0xF0 && lead <= 0xF4   ? 4
                             : lead >= 0xE0                 ? 3
                             : lead >= 0xC2 && lead <= 0xDF ? 2
                                                            : 0;
  if (length == 0 || at + length > text.size() || lead > 0xF4) return 0;
  for (std::size_t i = 1; i < length; ++i) {
    if ((static_cast<unsigned char>(text[at + i]) & 0xC0) != 0x80) return 0;
  }
  return length;
}

void append_utf8(std::string& out, unsigned value) {
  if (value < 0x80) {
    out += static_cast<char>(value);
  } else {
    out += static_cast<char>(0xC0 | (value >> 6));
    out += static_cast<char>(0x80 | (value & 0x3F));
  }
}

// Escapes in a double-quoted value, after the quote scan: compose-go's
// `\\(?:[abcfnrtv$"\\]|0\d{0,3})`, each unquoted as Go would. `\$` becomes
// `$$` so that interpolation keeps a literal '$'; `\0` plus three octal digits
// (at most \0377) is that character, written as UTF-8 as Go's string(rune)
// does; `\c`, a short or non-octal `\0…` and anything else stay as written.
std::string expand_escapes(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '\\' || i + 1 == value.size()) {
      out += value[i];
      continue;
    }
    const char next = value[i + 1];
    if (next == '0') {
      std::size_t digits = 0;
      while (digits < 3 && i + 2 + digits < value.size() &&
             std::isdigit(static_cast<unsigned char>(value[i + 2 + digits]))) {
        ++digits;
      }
      const std::string_view octal = value.substr(i + 2, digits);
      const bool valid =
          digits == 3 && std::all_of(octal.begin(), octal.end(), [](char c) { return c <= '7'; });
      const unsigned code = valid ? static_cast<unsigned>((octal[0] - '0') * 64 +
                                                          (octal[1] - '0') * 8 + (octal[2] - '0'))
                                  : 256;
      if (code <= 255) {
        append_utf8(out, code);
      } else {
        out += value.substr(i, 2 + digits);
      }
      i += 1 + digits;
      continue;
    }
    static constexpr std::string_view simple = "abfnrtv";
    static constexpr std::string_view replaced = "\a\b\f\n\r\t\v";
    if (const auto at = simple.find(next); at != std::string_view::npos) {
      out += replaced[at];
    } else if (next == '\\' || next == '"') {
      out += next;
    } else if (next == '$') {
      out += "$$";
    } else {
      out += '\\';  // not an escape: the next character is read as itself
      continue;
    }
    ++i;
  }
  return out;
}

class Parser {
 public:
  Parser(std::string_view text, const Lookup& environment)
      : rest_(text), environment_(environment) {
    // Editors on Windows write a byte-order mark; compose-go drops it.
    if (rest_.substr(0, 3) == "\xEF\xBB\xBF") rest_.remove_prefix(3);
  }

  Expected<std::map<std::string, std::string>> parse() {
    while (next_statement()) {
      if (auto error = statement()) return *error;
    }
    return std::move(values_);
  }

 private:
  Error at_line(int line, const std::string& what) const {
    return Error{"line " + std::to_string(line) + ": " + what};
  }

  // Skips blank lines and '#' comments; false at the end of the text.
  bool next_statement() {
    while (!rest_.empty()) {
      if (is_space(rest_.front())) {
        if (rest_.front() == '\n') ++line_;
        rest_.remove_prefix(1);
      } else if (rest_.front() == '#') {
        const auto end = rest_.find('\n');
        rest_ = end == std::string_view::npos ? std::string_view{} : rest_.substr(end);
      } else {
        return true;
      }
    }
    return false;
  }

  // The process environment first, then what earlier lines set.
  std::optional<std::string> lookup(const std::string& name) const {
    if (environment_) {
      if (auto value = environment_(name)) return value;
    }
    if (auto found = values_.find(name); found != values_.end()) return found->second;
    return std::nullopt;
  }

  // One KEY=VALUE, KEY: VALUE, export KEY=VALUE or bare KEY statement.
  std::optional<Error> statement() {
    // `export` and any blanks after it (compose-go: ^export\s+).
    if (rest_.substr(0, 6) == "export" && rest_.size() > 6 &&
        (is_space(rest_[6]) && rest_[6] != '\v')) {
      rest_ = trim_left_blanks(rest_.substr(6));
    }
    const int key_line = line_;
    std::size_t end = 0;
    char separator = '\0';
    while (end < rest_.size()) {
      const char c = rest_[end];
      if (c == '=' || c == ':' || c == '\n') {
        separator = c;
        break;
      }
      const auto byte = static_cast<unsigned char>(c);
      if (is_blank(c) || std::isalnum(byte) || c == '_' || c == '.' || c == '-' || c == '[' ||
          c == ']') {
        ++end;
      } else if (const std::size_t length = byte >= 0x80 ? utf8_length(rest_, end) : 0) {
        end += length;  // a non-ASCII character (compose-go: a letter or a digit)
      } else {
        const std::string shown = byte >= 0x80 || !std::isprint(byte)
                                      ? "byte " + std::to_string(byte)
                                      : "'" + std::string(1, c) + "'";
        return at_line(key_line, "unexpected character " + shown + " in variable name \"" +
                                     std::string(first_line(rest_)) + "\"");
      }
    }
    // A last line without '=' or a newline: compose-go takes it all as the
    // value of the empty key.
    const std::string key(separator == '\0' ? std::string_view{}
                                            : trim_right_spaces(rest_.substr(0, end)));
    rest_ = trim_left_blanks(separator == '\0' ? rest_ : rest_.substr(end + 1));
    if (key.find(' ') != std::string::npos) {
      return at_line(key_line, "key \"" + key + "\" cannot contain a space");
    }
    if (separator == '\n') {
      // A bare KEY takes its value from the environment (or an earlier
      // line), and is left out when neither has it.
      ++line_;
      if (auto value = lookup(key)) values_[key] = std::move(*value);
      return std::nullopt;
    }
    auto value =
        rest_.empty() || (rest_.front() != '"' && rest_.front() != '\'') ? unquoted() : quoted();
    if (!value) return value.error();
    values_[key] = std::move(*value);
    return std::nullopt;
  }

  // To the end of the line, cut at " #", trailing blanks dropped, variables
  // expanded.
  Expected<std::string> unquoted() {
    const int value_line = line_++;
    const auto end = rest_.find('\n');
    std::string_view value = rest_.substr(0, end);
    rest_ = end == std::string_view::npos ? std::string_view{} : rest_.substr(end + 1);
    value = trim_right_spaces(value.substr(0, value.find(" #")));
    return expand(value, value_line);
  }

  // To the matching unescaped quote, newlines included. A backslash keeps
  // the quote it escapes and stays before anything else; single-quoted
  // values are then taken as they are, double-quoted ones get their escapes
  // and variables expanded.
  Expected<std::string> quoted() {
    const int value_line = line_;
    const char quote = rest_.front();
    std::string chars;
    bool escaped = false;
    for (std::size_t i = 1; i < rest_.size(); ++i) {
      const char c = rest_[i];
      if (c == '\n') ++line_;
      if (c != quote) {
        if (!escaped && c == '\\') {
          escaped = true;
          continue;
        }
        if (escaped) chars += '\\';
        escaped = false;
        chars += c;
        continue;
      }
      if (escaped) {
        escaped = false;
        chars += c;
        continue;
      }
      rest_ = rest_.substr(i + 1);
      if (quote == '\'') return chars;
      return expand(expand_escapes(chars), value_line);
    }
    return at_line(value_line, "unterminated quoted value " + std::string(first_line(rest_)));
  }

  Expected<std::string> expand(std::string_view value, int value_line) const {
    auto expanded = interpolate(value, [this](const std::string& name) { return lookup(name); });
    if (!expanded) return at_line(value_line, expanded.error().message);
    return expanded;
  }

  std::string_view rest_;
  const Lookup& environment_;
  int line_ = 1;
  std::map<std::string, std::string> values_;
};

}  // namespace

Expected<std::map<std::string, std::string>> parse_env_file(std::string_view text,
                                                            const Lookup& environment) {
  return Parser(text, environment).parse();
}

}  // namespace swarm_prepull::compose
