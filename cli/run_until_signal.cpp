#include "cli/run_until_signal.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>

namespace swarm_prepull::cli {

bool run_until_signal(boost::asio::io_context& context,
                      std::function<boost::asio::awaitable<void>()> stop, spdlog::logger& logger,
                      std::chrono::milliseconds grace) {
  namespace net = boost::asio;
  net::signal_set signals(context, SIGTERM, SIGINT);
  net::steady_timer watchdog(context);
  bool clean = true;
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    logger.info("signal {} received, stopping", signal == SIGTERM ? "SIGTERM" : "SIGINT");
    // A swarm task must exit within its stop grace period (10 s by default);
    // whatever is still pending after `grace` is abandoned.
    watchdog.expires_after(grace);
    watchdog.async_wait([&](const boost::system::error_code& wait_ec) {
      if (wait_ec) return;
      logger.warn("stop took longer than {} ms; exiting anyway", grace.count());
      clean = false;
      context.stop();
    });
    net::co_spawn(
        context,
        [&]() -> net::awaitable<void> {
          co_await stop();
          watchdog.cancel();  // then nothing is left: run() returns
        },
        net::detached);
  });
  context.run();
  return clean;
}

}  // namespace swarm_prepull::cli
