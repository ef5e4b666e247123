// A registry as the engines meet it, in front of the sandbox's: an HTTP
// server on the address the sandbox's engines trust as an insecure registry
// (Sandbox::test_proxy_registry) that hands every request on to the real
// registry, and records each one (which node asked, what, when it started and
// ended) at a resolution the registry's own log does not give. Told to, it
// answers manifest requests as Docker Hub does when a pull limit is reached
// (HTTP 429 TOOMANYREQUESTS), which Debian's docker-registry cannot do; or
// holds blob downloads back, so that a pull stays under way for as long as a
// test needs.
//
// Blocking Beast on a thread per connection: a test's few engines at a time,
// and nothing here needs to be clever. The destructor closes every socket and
// joins every thread.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace swarm_prepull::testing {

class RegistryProxy {
 public:
  using Clock = std::chrono::steady_clock;

  struct Request {
    std::string client;  // the asking engine's address
    std::string method;
    std::string target;
    unsigned status = 0;
    std::uint64_t bytes = 0;  // of the response body sent
    Clock::time_point started;
    Clock::time_point ended;  // none while the answer is still being sent
    bool is_manifest() const { return target.find("/manifests/") != std::string::npos; }
    bool is_blob() const { return target.find("/blobs/") != std::string::npos; }
    bool is_download() const { return is_blob() && method == "GET"; }
  };

  // `listen` and `upstream` as host:port.
  RegistryProxy(const std::string& listen, const std::string& upstream)
      : acceptor_(context_), listen_(endpoint_of(listen)), upstream_(endpoint_of(upstream)) {
    acceptor_.open(listen_.protocol());
    acceptor_.set_option(boost::asio::socket_base::reuse_address(true));
    acceptor_.bind(listen_);
    acceptor_.listen();
    accepting_ = std::thread([this] { accept_loop(); });
  }
  RegistryProxy(const RegistryProxy&) = delete;
  RegistryProxy& operator=(const RegistryProxy&) = delete;

  ~RegistryProxy() {
    stopping_ = true;
    {
      std::lock_guard lock(mutex_);  // a held download waits on it
    }
    blobs_released_.notify_all();
    boost::system::error_code ignored;
    {
      // A blocking accept() wakes for a connection, not for a close() elsewhere.
      boost::asio::ip::tcp::socket wake(context_);
      wake.connect(listen_, ignored);
      accepting_.join();
    }
    acceptor_.close(ignored);
    std::vector<std::thread> serving;
    {
      std::lock_guard lock(mutex_);
      for (auto& socket : sockets_)
        socket->shutdown(boost::asio::socket_base::shutdown_both, ignored);
      serving.swap(serving_);
    }
    for (auto& thread : serving) thread.join();
  }

  // Every answer's bytes, to all clients together, at most `bytes_per_second`
  // (0: unlimited): one link out of the registry, as a remote registry's is.
  // The controller's copy comes from the host, where the sandbox's tc
  // shaping cannot reach it; this paces it with the nodes' pulls.
  void limit_rate(std::uint64_t bytes_per_second) { bytes_per_second_ = bytes_per_second; }

  // While on, manifest requests get 429 and go no further.
  void set_rate_limited(bool on) { rate_limited_ = on; }

  // While on, downloads (GETs) of blobs that nobody downloaded before it was
  // turned on wait (until it is turned off, or the proxy stops). Those
  // downloaded before still pass: an engine reads an image's config blob to
  // resolve its platform (`docker service create` does), the pull of its
  // layers waits. A HEAD (a copy into a cache asks whether the cache holds a
  // blob) is no download and passes.
  void hold_new_blobs(bool on) {
    {
      std::lock_guard lock(mutex_);
      blobs_held_ = on;
      blobs_before_hold_.clear();
      for (const auto& request : requests_) {
        if (request.is_download()) blobs_before_hold_.insert(request.target);
      }
    }
    blobs_released_.notify_all();
  }

  std::vector<Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

  // Whether every request recorded has its answer sent (its `ended` set).
  bool all_answered() const {
    std::lock_guard lock(mutex_);
    return std::ranges::all_of(
        requests_, [](const Request& request) { return request.ended != Clock::time_point{}; });
  }

 private:
  static boost::asio::ip::tcp::endpoint endpoint_of(const std::string& host_port) {
    const auto colon = host_port.rfind(':');
    return {boost::asio::ip::make_address(host_port.substr(0, colon)),
            static_cast<unsigned short>(std::stoi(host_port.substr(colon + 1)))};
  }

  void accept_loop() {
    while (!stopping_) {
      auto socket = std::make_shared<boost::asio::ip::tcp::socket>(context_);
      boost::system::error_code error;
      acceptor_.accept(*socket, error);
      if (error || stopping_) return;
      std::lock_guard lock(mutex_);
      sockets_.push_back(socket);
      serving_.emplace_back([this, socket] {
        serve(*socket);
        // The engine's first try is TLS, which ends serve() at once: it falls
        // back to plain HTTP only when it sees the connection end.
        std::lock_guard lock(mutex_);
        boost::system::error_code ignored;
        socket->shutdown(boost::asio::socket_base::shutdown_both, ignored);
      });
    }
  }

  void serve(boost::asio::ip::tcp::socket& socket) {
    namespace http = boost::beast::http;
    boost::system::error_code error;
    const auto client = socket.remote_endpoint(error).address().to_string();
    boost::beast::flat_buffer buffer;
    while (!stopping_) {
      // The controller's copy into a cache PATCHes 8 MiB chunks through it;
      // Beast reads at most 1 MiB of a request body unless told otherwise.
      http::request_parser<http::string_body> parser;
      parser.body_limit(1024ull * 1024 * 1024);
      http::read(socket, buffer, parser, error);
      if (error) return;
      auto request = parser.release();
      Request record{.client = client,
                     .method = std::string(request.method_string()),
                     .target = std::string(request.target()),
                     .status = 0,
                     .bytes = 0,
                     .started = Clock::now(),
                     .ended = {}};
      const bool keep_alive = request.keep_alive();
      http::response<http::string_body> response;
      if (rate_limited_ && record.is_manifest()) {
        // Docker Hub's answer, as the distribution spec words the error.
        response = {http::status::too_many_requests, request.version()};
        response.set(http::field::content_type, "application/json");
        response.body() =
            R"({"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit."}]})";
        response.prepare_payload();
      } else {
        if (record.is_download()) {
          std::unique_lock lock(mutex_);
          blobs_released_.wait(lock, [&] {
            return !blobs_held_ || stopping_ || blobs_before_hold_.contains(record.target);
          });
        }
        response = forward(std::move(request));
      }
      response.keep_alive(keep_alive);
      record.status = response.result_int();
      record.bytes = response.body().size();
      // Recorded before the answer goes out: an engine that has its answer
      // (a `docker pull`, /distribution) finds its request in requests(), and
      // a count a test takes afterwards never gains a late one.
      std::size_t recorded = 0;
      {
        std::lock_guard lock(mutex_);
        recorded = requests_.size();
        requests_.push_back(record);
      }
      write_paced(socket, response, error);
      {
        std::lock_guard lock(mutex_);
        requests_[recorded].ended = Clock::now();
      }
      if (error || !keep_alive) return;
    }
  }

  void write_paced(boost::asio::ip::tcp::socket& socket,
                   boost::beast::http::response<boost::beast::http::string_body>& response,
                   boost::system::error_code& error) {
    namespace http = boost::beast::http;
    http::response_serializer<http::string_body> serializer(response);
    serializer.limit(64 * 1024);
    while (!serializer.is_done() && !error) {
      const std::size_t written = http::write_some(socket, serializer, error);
      const std::uint64_t rate = bytes_per_second_;
      if (rate == 0 || written == 0) continue;
      // The link is busy until link_free_: this piece goes out after what is queued.
      Clock::time_point until;
      {
        std::lock_guard lock(mutex_);
        link_free_ = std::max(link_free_, Clock::now()) +
                     std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                         static_cast<double>(written) / static_cast<double>(rate)));
        until = link_free_;
      }
      std::this_thread::sleep_until(until);
    }
  }

  boost::beast::http::response<boost::beast::http::string_body> forward(
      boost::beast::http::request<boost::beast::http::string_body> request) {
    namespace http = boost::beast::http;
    boost::asio::io_context context;
    boost::asio::ip::tcp::socket upstream(context);
    boost::system::error_code error;
    upstream.connect(upstream_, error);
    if (error) return {http::status::bad_gateway, request.version()};
    const bool head = request.method() == http::verb::head;
    request.keep_alive(false);
    http::write(upstream, request, error);
    http::response_parser<http::string_body> parser;
    parser.body_limit(1024ull * 1024 * 1024);
    parser.skip(head);  // a HEAD answer says Content-Length, with no body
    boost::beast::flat_buffer buffer;
    if (!error) http::read(upstream, buffer, parser, error);
    if (error) return {http::status::bad_gateway, request.version()};
    return parser.release();
  }

  std::atomic<std::uint64_t> bytes_per_second_{0};
  Clock::time_point link_free_{};  // under mutex_
  boost::asio::io_context context_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::tcp::endpoint listen_, upstream_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> rate_limited_{false};
  std::thread accepting_;
  mutable std::mutex mutex_;
  std::condition_variable blobs_released_;
  bool blobs_held_ = false;                  // under mutex_
  std::set<std::string> blobs_before_hold_;  // under mutex_
  std::vector<std::shared_ptr<boost::asio::ip::tcp::socket>> sockets_;
  std::vector<std::thread> serving_;
  std::vector<Request> requests_;
};

// The blob downloads among `requests` of at least `min_bytes`, a line each,
// for a test's figures or its failure message: who (`name_of` the client's
// address, when given), when (ms from `origin`; -1 while still answering),
// how much, which blob, the status.
inline std::string download_timeline(
    const std::vector<RegistryProxy::Request>& requests, RegistryProxy::Clock::time_point origin,
    const std::function<std::string(const std::string&)>& name_of = {},
    std::uint64_t min_bytes = 0) {
  const auto ms = [&](RegistryProxy::Clock::time_point at) -> long long {
    if (at == RegistryProxy::Clock::time_point{}) return -1;
    return std::chrono::duration_cast<std::chrono::milliseconds>(at - origin).count();
  };
  std::string lines;
  for (const auto& request : requests) {
    if (!request.is_download() || request.bytes < min_bytes) continue;
    char line[200];
    std::snprintf(line, sizeof line, "    %s %lld..%lld ms, %.1f MiB, %s, %u\n",
                  (name_of ? name_of(request.client) : request.client).c_str(), ms(request.started),
                  ms(request.ended), static_cast<double>(request.bytes) / (1024.0 * 1024.0),
                  request.target.substr(request.target.rfind('/') + 1, 19).c_str(), request.status);
    lines += line;
  }
  return lines;
}

}  // namespace swarm_prepull::testing
