#include "compose/compose.h"

#include <algorithm>
#include <cctype>

namespace swarm_prepull::compose {
namespace {

using reconcile::Error;
using reconcile::Expected;

bool is_name_start(char c) { return c == '_' || std::isalpha(static_cast<unsigned char>(c)); }
bool is_name_char(char c) { return c == '_' || std::isalnum(static_cast<unsigned char>(c)); }

// compose-go has no limit (Go stacks grow); ours is bounded so that a file of
// nested defaults cannot exhaust the stack.
constexpr int max_nesting = 64;

Error invalid(std::string_view text) {
  return Error{"invalid interpolation format in \"" + std::string(text) +
               "\" (a literal $ is written $$)"};
}

// compose-go's template package finds ${...} with a regular expression whose
// argument is `.*` followed by `}`: greedy, so it runs to the last '}' of the
// line ('.' stops at a newline). It then cuts that at the first balanced '}'
// (getFirstBraceClosingIndex, which skips the character after every '{'),
// or keeps all of it when the braces never balance. `open` is the position
// of the '{' after '$'; `last` the line's last '}'.
std::size_t closing_brace(std::string_view text, std::size_t open, std::size_t last) {
  int depth = 0;
  for (std::size_t i = open; i <= last; ++i) {
    if (text[i] == '}' && --depth == 0) return i;
    if (text[i] == '{') {
      ++depth;
      ++i;
    }
  }
  return last;
}

// The last '}' on the line holding `from`, remembered per line so a line of
// many ${...} is read once (npos when the line has none).
class LastBrace {
 public:
  explicit LastBrace(std::string_view text) : text_(text) {}
  std::size_t on_line_of(std::size_t from) {
    if (from >= line_start_ && from < line_end_) return last_;
    line_start_ = text_.rfind('\n', from);
    line_start_ = line_start_ == std::string_view::npos ? 0 : line_start_ + 1;
    line_end_ = std::min(text_.find('\n', from), text_.size());
    const std::size_t found = text_.substr(line_start_, line_end_ - line_start_).rfind('}');
    last_ = found == std::string_view::npos ? found : line_start_ + found;
    return last_;
  }

 private:
  std::string_view text_;
  std::size_t line_start_ = 0;
  std::size_t line_end_ = 0;
  std::size_t last_ = std::string_view::npos;
};

Expected<std::string> interpolate_nested(std::string_view text, const Lookup& lookup,
                                         std::vector<std::string>* unset, int depth);

// ${NAME<modifier><argument>}: ':' makes "set but empty" count as unset;
// the argument is interpolated only when it is used, as compose-go does.
Expected<std::string> apply_modifier(const std::string& name, bool colon, char kind,
                                     std::string_view argument, const Lookup& lookup,
                                     std::vector<std::string>* unset, int depth) {
  const std::optional<std::string> value = lookup(name);
  const bool has_value = value && (!colon || !value->empty());
  switch (kind) {
    case '-':
      if (has_value) return *value;
      return interpolate_nested(argument, lookup, unset, depth + 1);
    case '+':
      if (!has_value) return std::string{};
      return interpolate_nested(argument, lookup, unset, depth + 1);
    default: {  // '?'
      if (has_value) return *value;
      auto message = interpolate_nested(argument, lookup, unset, depth + 1);
      if (!message) return message;
      return Error{"required variable " + name + " is missing a value" +
                   (message->empty() ? std::string{} : ": " + *message)};
    }
  }
}

Expected<std::string> interpolate_nested(std::string_view text, const Lookup& lookup,
                                         std::vector<std::string>* unset, int depth) {
  if (depth > max_nesting) {
    return Error{"interpolation nested deeper than " + std::to_string(max_nesting) +
                 " levels in \"" + std::string(text.substr(0, 80)) + "\""};
  }
  std::string out;
  out.reserve(text.size());
  LastBrace last_brace(text);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char next = i + 1 < text.size() ? text[i + 1] : '\0';
    // A '$' compose's pattern does not match ($5, "a $ b", a trailing $) is
    // kept as written.
    if (text[i] != '$' || (next != '$' && next != '{' && !is_name_start(next))) {
      out += text[i];
      continue;
    }
    if (next == '$') {
      out += '$';
      ++i;
      continue;
    }
    const std::size_t name_start = next == '{' ? i + 2 : i + 1;
    std::size_t name_end = name_start;
    while (name_end < text.size() && is_name_char(text[name_end])) ++name_end;
    if (name_end == name_start || !is_name_start(text[name_start])) return invalid(text);
    const std::string name(text.substr(name_start, name_end - name_start));
    // $NAME and ${NAME}: the value, or "" (and a warning) when unset.
    const bool plain = next != '{' || (name_end < text.size() && text[name_end] == '}');
    if (plain) {
      const auto value = lookup(name);
      if (!value && unset != nullptr) unset->push_back(name);
      out += value.value_or("");
      i = next == '{' ? name_end : name_end - 1;
      continue;
    }
    if (name_end == text.size()) return invalid(text);
    const bool colon = text[name_end] == ':';
    const std::size_t kind_at = colon ? name_end + 1 : name_end;
    if (kind_at >= text.size() ||
        std::string_view("-+?").find(text[kind_at]) == std::string_view::npos) {
      return invalid(text);
    }
    const std::size_t last = last_brace.on_line_of(kind_at);
    if (last == std::string_view::npos || last <= kind_at) return invalid(text);
    const std::size_t close = closing_brace(text, i + 1, last);
    auto value =
        apply_modifier(name, colon, text[kind_at], text.substr(kind_at + 1, close - kind_at - 1),
                       lookup, unset, depth);
    if (!value) return value;
    out += *value;
    i = close;
  }
  return out;
}

}  // namespace

Expected<std::string> interpolate(std::string_view text, const Lookup& lookup,
                                  std::vector<std::string>* unset) {
  return interpolate_nested(text, lookup, unset, 0);
}

}  // namespace swarm_prepull::compose
