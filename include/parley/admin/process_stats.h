// ProcessStats: what the kernel says about parleyd's own process, for /metrics.

#ifndef PARLEY_ADMIN_PROCESS_STATS_H_
#define PARLEY_ADMIN_PROCESS_STATS_H_

#include <cstdint>

namespace parley::admin {

// Each figure is -1 when it could not be read.
struct ProcessStats {
  std::int64_t resident_bytes = -1;  // RSS.
  std::int64_t virtual_bytes = -1;   // Address space.
  std::int64_t open_fds = -1;        // Sockets, files, pipes.
  std::int64_t max_fds = -1;         // RLIMIT_NOFILE (soft).
  std::int64_t threads = -1;
  double cpu_seconds = -1;         // User plus system time.
  double start_time_seconds = -1;  // When the process started, since the Unix epoch.
  double uptime_seconds = -1;
};

// Reads /proc/self and getrusage. Counting open fds walks /proc/self/fd, about a
// millisecond per 10,000 descriptors: fine for a scrape every few seconds.
ProcessStats ReadProcessStats();

}  // namespace parley::admin

#endif  // PARLEY_ADMIN_PROCESS_STATS_H_
