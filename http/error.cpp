#include "http/error.h"

#include <boost/system/system_error.hpp>
#include <nlohmann/json.hpp>
#include <optional>

namespace swarm_prepull::http {
namespace {

class HttpCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "swarm_prepull.http"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::unavailable:
        return "unavailable";
      case errc::timeout:
        return "timed out";
      case errc::connection_lost:
        return "connection lost";
      case errc::too_large:
        return "too large";
      case errc::bad_response:
        return "bad response";
      case errc::status:
        return "HTTP error status";
      case errc::cancelled:
        return "cancelled";
      case errc::invalid_address:
        return "invalid address";
      case errc::bad_request:
        return "bad request";
    }
    return "unknown http error " + std::to_string(value);
  }
};

// Long enough for any message a peer writes, short enough for one log line.
constexpr std::size_t kMaxMessage = 512;

}  // namespace

const boost::system::error_category& http_category() noexcept {
  static const HttpCategory category;
  return category;
}

boost::system::error_code make_error_code(errc code) noexcept {
  return {static_cast<int>(code), http_category()};
}

namespace {

std::string shortened(std::string message) {
  if (message.size() > kMaxMessage) message.replace(kMaxMessage, std::string::npos, "...");
  return message;
}

std::string trimmed(std::string_view body) {
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r' || body.back() == ' ')) {
    body.remove_suffix(1);
  }
  return std::string(body);
}

// The string at `field` of a JSON object body, if there is one.
std::optional<std::string> string_field(const nlohmann::json& parsed, std::string_view field) {
  if (!parsed.is_object()) return std::nullopt;
  const auto found = parsed.find(field);
  if (found == parsed.end() || !found->is_string()) return std::nullopt;
  return found->get<std::string>();
}

}  // namespace

std::string peer_message(std::string_view body) {
  const auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (auto message = string_field(parsed, "message")) return shortened(std::move(*message));
  if (auto error = string_field(parsed, "error")) return shortened(std::move(*error));
  return shortened(trimmed(body));
}

std::string peer_message(std::string_view body, std::string_view field) {
  const auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (auto message = string_field(parsed, field)) return shortened(std::move(*message));
  return shortened(trimmed(body));
}

std::string Error::to_string() const {
  std::string text = request;
  if (!endpoint.empty()) text += (text.empty() ? "" : " at ") + endpoint;
  if (!text.empty()) text += ": ";
  // A status error says its status; other codes say what kind of failure.
  if (code == errc::status && status != 0) {
    text += "HTTP " + std::to_string(status);
  } else {
    text += code.message();
    if (status != 0) text += " (HTTP " + std::to_string(status) + ")";
  }
  if (!message.empty()) text += ": " + message;
  return text;
}

void throw_exception_from_error(const Error& error, const boost::source_location& loc) {
  boost::throw_exception(boost::system::system_error(error.code, error.to_string()), loc);
}

}  // namespace swarm_prepull::http
