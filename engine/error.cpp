#include "engine/error.h"

namespace swarm_prepull::engine {
namespace {

class EngineCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "swarm_prepull.engine"; }

  std::string message(int value) const override {
    switch (static_cast<engine_errc>(value)) {
      case engine_errc::not_found:
        return "not found";
      case engine_errc::unauthorized:
        return "unauthorized";
      case engine_errc::conflict:
        return "conflict";
      case engine_errc::unavailable:
        return "engine unavailable";
      case engine_errc::bad_request:
        return "bad request";
      case engine_errc::server_error:
        return "engine internal error";
      case engine_errc::bad_response:
        return "bad response";
      case engine_errc::timeout:
        return "timed out";
      case engine_errc::connection_failed:
        return "cannot connect";
      case engine_errc::connection_lost:
        return "connection lost";
      case engine_errc::unsupported_version:
        return "unsupported engine API version";
      case engine_errc::pull_failed:
        return "pull failed";
      case engine_errc::cancelled:
        return "cancelled";
      case engine_errc::invalid_endpoint:
        return "invalid engine endpoint";
    }
    return "unknown engine error " + std::to_string(value);
  }
};

}  // namespace

const boost::system::error_category& engine_category() noexcept {
  static const EngineCategory category;
  return category;
}

boost::system::error_code make_error_code(engine_errc code) noexcept {
  return {static_cast<int>(code), engine_category()};
}

engine_errc errc_from_status(unsigned status) noexcept {
  switch (status) {
    case 400:
      return engine_errc::bad_request;
    case 401:
    case 403:
      return engine_errc::unauthorized;
    case 404:
      return engine_errc::not_found;
    case 409:
      return engine_errc::conflict;
    case 503:
      return engine_errc::unavailable;
    default:
      break;
  }
  if (status >= 400 && status < 500) return engine_errc::bad_request;
  if (status >= 500 && status < 600) return engine_errc::server_error;
  return engine_errc::bad_response;  // 1xx and 3xx: nothing the Engine API sends us
}

std::string engine_message(std::string_view body) { return http::peer_message(body, "message"); }

Error engine_error(Error error) {
  if (error.code.category() != http::http_category()) return error;
  switch (static_cast<http::errc>(error.code.value())) {
    case http::errc::status:
      error.code = make_error_code(errc_from_status(error.status));
      break;
    case http::errc::unavailable:
      error.code = make_error_code(engine_errc::connection_failed);
      break;
    case http::errc::timeout:
      error.code = make_error_code(engine_errc::timeout);
      break;
    case http::errc::connection_lost:
      error.code = make_error_code(engine_errc::connection_lost);
      break;
    case http::errc::cancelled:
      error.code = make_error_code(engine_errc::cancelled);
      break;
    case http::errc::invalid_address:
      error.code = make_error_code(engine_errc::invalid_endpoint);
      break;
    case http::errc::too_large:
    case http::errc::bad_response:
    case http::errc::bad_request:
      error.code = make_error_code(engine_errc::bad_response);
      break;
  }
  return error;
}

}  // namespace swarm_prepull::engine
