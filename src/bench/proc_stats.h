// What the bench reads about a process and its files from /proc and the file system.
//
// Every reader returns a Status naming the file it could not read; none throws.

#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "parley/common/status.h"

#include <sys/types.h>

namespace parley::bench {

// Raises the soft limit on open files to the hard limit and returns the new soft limit.
// Worker processes and a spawned server inherit it.
std::uint64_t RaiseFileLimit();

struct MemoryUsage {
  std::uint64_t rss_bytes = 0;       // VmRSS
  std::uint64_t rss_anon_bytes = 0;  // RssAnon: heap and stacks, without mapped files
};

// From /proc/PID/status.
Result<MemoryUsage> ReadMemory(pid_t pid);

// User plus system CPU time of the whole process, from /proc/PID/stat.
Result<std::uint64_t> ReadCpuNs(pid_t pid);

// User plus system CPU time per thread, from /proc/PID/task/*/stat, keyed "name+N" where N
// is the thread id less the process id (threads are numbered in the order they started).
// Threads that end while being read are skipped.
std::map<std::string, std::uint64_t> ReadThreadCpuNs(pid_t pid);

// CPU time of the whole host since boot, from the first line of /proc/stat.
struct HostCpu {
  std::uint64_t busy_ns = 0;  // user, nice, system, irq, softirq, steal
  std::uint64_t idle_ns = 0;  // idle, iowait
};

HostCpu ReadHostCpu();

// Sizes of the files under a RocksDB folder, by kind.
struct DiskUsage {
  std::uint64_t sst_bytes = 0;    // *.sst: the tables
  std::uint64_t wal_bytes = 0;    // *.log: the write-ahead log
  std::uint64_t other_bytes = 0;  // MANIFEST, OPTIONS, the info LOG and the rest
  std::uint64_t total() const { return sst_bytes + wal_bytes + other_bytes; }
};

DiskUsage MeasureDisk(const std::filesystem::path& folder);

// Steady-clock time in nanoseconds. CLOCK_MONOTONIC is the same clock in every process of
// the host, so worker processes can compare stamps with each other and the orchestrator.
std::int64_t NowNs();

}  // namespace parley::bench
