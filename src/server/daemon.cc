#include "server/daemon.h"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "parley/admin/admin_server.h"
#include "parley/admin/metrics.h"
#include "parley/admin/process_stats.h"
#include "parley/chat/local_router.h"
#include "parley/chat/session_registry.h"
#include "parley/common/clock.h"
#include "parley/gateway/io_pool.h"
#include "parley/gateway/server.h"
#include "parley/storage/fault_injection.h"
#include "parley/storage/store.h"

#include "server/config_reloader.h"
#include "server/systemd_notify.h"

namespace parley::server {

namespace {

// How long sessions get to close cleanly on shutdown before the threads are stopped anyway.
constexpr auto kDrainTimeout = std::chrono::seconds(5);

std::size_t NetworkThreads(const config::Config& config) {
  if (config.server.threads > 0) return config.server.threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

storage::StoreOptions MakeStoreOptions(const config::Config& config, const Clock* clock) {
  storage::StoreOptions options;
  options.path = config.storage.path;
  options.sync = config.storage.sync;
  options.mailbox_max_items = config.limits.mailbox_max_items;
  options.undelivered_ttl_ms = config.retention.undelivered_days * kMsPerDay;
  options.dedup_ttl_ms = config.retention.dedup_days * kMsPerDay;
  options.clock = clock;
  return options;
}

// Tests make days pass by starting the daemon with its clock moved forward; retention and
// token expiry then see the moved time. Never set it in production.
constexpr char kClockOffsetVariable[] = "PARLEYD_TEST_CLOCK_OFFSET_MS";

// Tests make the write-ahead log fail, as a full disk would, while the file this names
// exists. Never set it in production.
constexpr char kWalFaultVariable[] = "PARLEYD_TEST_WAL_FAULT_FILE";

std::shared_ptr<rocksdb::Env> MakeFaultEnv() {
  const char* trigger = std::getenv(kWalFaultVariable);
  if (trigger == nullptr || *trigger == '\0') return nullptr;
  spdlog::warn("WAL writes fail while {} exists ({}): for tests only", trigger, kWalFaultVariable);
  return storage::NewWalFaultEnv(trigger);
}

std::unique_ptr<Clock> MakeClock() {
  const char* offset = std::getenv(kClockOffsetVariable);
  if (offset == nullptr || *offset == '\0') return std::make_unique<SystemClock>();

  char* end = nullptr;
  const long long offset_ms = std::strtoll(offset, &end, 10);
  if (*end != '\0') {
    throw std::runtime_error(std::string(kClockOffsetVariable) + " is not a whole number");
  }
  auto clock = std::make_unique<OffsetClock>();
  clock->SetOffset(offset_ms);
  spdlog::warn("clock moved by {} ms through {}: for tests only", offset_ms, kClockOffsetVariable);
  return clock;
}

// The signals the main thread takes with sigwait (blocked everywhere, see parleyd_main.cc).
sigset_t HandledSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  return signals;
}

// Serves SIGHUP reloads until SIGTERM or SIGINT arrives, and returns that signal.
int ServeSignals(ConfigReloader& reloader, admin::Metrics& metrics, const std::string& status) {
  const sigset_t signals = HandledSignals();
  for (;;) {
    int signal = 0;
    if (sigwait(&signals, &signal) != 0) continue;
    if (signal != SIGHUP) return signal;

    NotifyReloading();
    const ReloadResult reloaded = reloader.Reload();
    (reloaded.loaded ? metrics.config_reloads : metrics.config_reload_failures).Add();
    if (reloaded.loaded) {
      metrics.config_restart_pending.Set(
          static_cast<std::int64_t>(reloaded.restart_pending.size()));
    }
    NotifyReady(status);
  }
}

// Stops accepting, closes every session with 1001 and waits a while for them to go; the
// writes they queued are finished when the store closes.
void Drain(gateway::Server& server) {
  server.Shutdown();
  const auto give_up = std::chrono::steady_clock::now() + kDrainTimeout;
  while (!server.Drained() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!server.Drained()) spdlog::warn("drain timed out after {} s", kDrainTimeout.count());
}

}  // namespace

int RunDaemon(const config::Config& config, const std::string& config_path) {
  if (!config.storage.sync) {
    spdlog::warn(
        "storage.sync is false: acknowledged messages can be lost on a crash; "
        "use this for benchmarks only");
  }

  // Declared in dependency order: what is declared later may use what came before, and is
  // destroyed first.
  const std::unique_ptr<Clock> clock = MakeClock();
  const std::shared_ptr<rocksdb::Env> fault_env = MakeFaultEnv();
  admin::Metrics metrics;
  chat::SessionRegistry registry;
  chat::LocalRouter router(&registry);

  storage::StoreOptions store_options = MakeStoreOptions(config, clock.get());
  store_options.env = fault_env.get();
  auto store = storage::Store::Open(store_options, [&router](std::vector<storage::NewItem> items) {
    for (auto& item : items) {
      router.DeliverItem(item.user, std::move(item.item));
    }
  });
  if (!store.ok()) throw std::runtime_error("storage: " + store.status().ToString());
  spdlog::info("storage open path={} sync={}", config.storage.path, config.storage.sync);

  chat::ChatContext context;
  context.store = store->get();
  context.registry = &registry;
  context.router = &router;
  context.clock = clock.get();
  context.metrics = &metrics;
  context.token_secret = config.auth.secret;

  const std::size_t threads = NetworkThreads(config);
  gateway::IoPool pool(threads);
  gateway::Server server(pool, config, context);

  admin::AdminHandlers handlers;
  handlers.metrics = [&] {
    return admin::RenderPrometheus(metrics, (*store)->stats(), admin::ReadProcessStats());
  };
  handlers.readiness = [&] {
    admin::Readiness readiness;
    readiness.listening = server.listening();
    readiness.storage_writable = (*store)->IsWritable();
    return readiness;
  };
  admin::AdminServer admin(config.admin.address, config.admin.port, std::move(handlers));

  server.Start();
  pool.Run();
  admin.Start();
  spdlog::info("listening address={} port={} tls={} threads={} admin_port={}",
               config.listen.address, server.port(), config.listen.tls.enabled, threads,
               admin.port());

  // Only now: storage is open and the listener accepts, so systemd may start what follows us.
  const std::string status = fmt::format("serving on port {}", server.port());
  NotifyReady(status);

  ConfigReloader reloader(config_path, config,
                          [&server](const config::Config& next) { return server.Reload(next); });
  const int signal = ServeSignals(reloader, metrics, status);
  NotifyStopping();
  spdlog::info("stopping on signal {}", signal);

  Drain(server);
  pool.Stop();
  admin.Stop();
  store->reset();  // Finishes every queued write before closing the database.
  spdlog::info("stopped");
  return 0;
}

int CompactDatabase(const config::Config& config) {
  const std::unique_ptr<Clock> clock = MakeClock();
  auto store = storage::Store::Open(MakeStoreOptions(config, clock.get()), nullptr);
  if (!store.ok()) throw std::runtime_error("storage: " + store.status().ToString());

  spdlog::info("compacting path={}", config.storage.path);
  const Status compacted = (*store)->CompactAll();
  if (!compacted.ok()) {
    spdlog::error("compaction failed: {}", compacted.ToString());
    return 1;
  }
  spdlog::info("compacted");
  return 0;
}

}  // namespace parley::server
