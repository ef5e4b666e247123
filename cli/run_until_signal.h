// The one way a long-running command (controller, agent) stops: run its
// io_context until SIGTERM or SIGINT, then co_await its stop coroutine, which
// must make every task on the context end; run() then returns by itself
// because nothing is left. No flag is polled.
#pragma once

#include <spdlog/logger.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>

namespace swarm_prepull::cli {

// Returns true when the stop finished cleanly, false when it took longer than
// `grace` and the context was stopped with tasks still pending (logged).
bool run_until_signal(boost::asio::io_context& context,
                      std::function<boost::asio::awaitable<void>()> stop, spdlog::logger& logger,
                      std::chrono::milliseconds grace = std::chrono::seconds(5));

}  // namespace swarm_prepull::cli
