#include "parley/admin/process_stats.h"

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

namespace parley::admin {

namespace {

// /proc/self/stat, from field 3 on: the command name (field 2) may hold spaces and
// parentheses, so the fields start after its last ')'.
std::istringstream StatFields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  const auto end_of_name = line.rfind(')');
  if (end_of_name == std::string::npos) return std::istringstream();
  return std::istringstream(line.substr(end_of_name + 2));
}

// Seconds since the epoch when the machine booted, from /proc/stat's `btime` line.
double BootTimeSeconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double value = -1;
      in >> value;
      return value;
    }
    in.ignore(1 << 20, '\n');
  }
  return -1;
}

std::int64_t CountOpenFds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  std::int64_t count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count - 1;  // The descriptor of the listing itself.
}

void ReadStat(ProcessStats& stats) {
  std::istringstream fields = StatFields();
  // Fields 3..24 of proc(5); we want 20 (threads), 22 (start time), 23 (vsize), 24 (rss).
  std::string skip;
  for (int field = 3; field < 20; ++field) fields >> skip;
  long long threads = -1, start_ticks = -1, vsize = -1, rss_pages = -1;
  fields >> threads >> skip >> start_ticks >> vsize >> rss_pages;
  if (!fields) return;

  const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  const double boot = BootTimeSeconds();
  stats.threads = threads;
  stats.virtual_bytes = vsize;
  stats.resident_bytes = rss_pages * page_size;
  if (boot >= 0 && ticks_per_second > 0) {
    stats.start_time_seconds = boot + static_cast<double>(start_ticks) / ticks_per_second;
  }
}

double NowSeconds() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration<double>(now).count();
}

}  // namespace

ProcessStats ReadProcessStats() {
  ProcessStats stats;
  ReadStat(stats);
  stats.open_fds = CountOpenFds();

  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0) {
    stats.max_fds = static_cast<std::int64_t>(files.rlim_cur);
  }

  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) == 0) {
    const auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
    stats.cpu_seconds = seconds(usage.ru_utime) + seconds(usage.ru_stime);
  }

  if (stats.start_time_seconds >= 0) stats.uptime_seconds = NowSeconds() - stats.start_time_seconds;
  return stats;
}

}  // namespace parley::admin
