#include "bench/proc_stats.h"

#include <chrono>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

namespace parley::bench {

namespace {

std::filesystem::path ProcPath(pid_t pid) { return "/proc/" + std::to_string(pid); }

// The fields of a /proc/.../stat line after the command name, which is in parentheses and may
// itself hold spaces and parentheses: the last ')' ends it. fields[0] is the state, field 3
// of proc(5).
std::vector<std::string> StatFields(const std::string& line) {
  std::vector<std::string> fields;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return fields;
  std::istringstream in(line.substr(close + 1));
  for (std::string field; in >> field;) fields.push_back(field);
  return fields;
}

std::string CommandName(const std::string& line) {
  const auto open = line.find('(');
  const auto close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return "?";
  return line.substr(open + 1, close - open - 1);
}

// utime and stime are fields 14 and 15 of proc(5), in clock ticks.
std::uint64_t CpuTicksOf(const std::vector<std::string>& fields) {
  constexpr std::size_t kUtime = 14 - 3;
  constexpr std::size_t kStime = 15 - 3;
  if (fields.size() <= kStime) return 0;
  return std::stoull(fields[kUtime]) + std::stoull(fields[kStime]);
}

std::uint64_t TicksToNs(std::uint64_t ticks) {
  static const auto kTicksPerSecond = static_cast<std::uint64_t>(sysconf(_SC_CLK_TCK));
  return ticks * (1'000'000'000ULL / kTicksPerSecond);
}

std::string ReadLine(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

std::uint64_t RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

Result<MemoryUsage> ReadMemory(pid_t pid) {
  const auto path = ProcPath(pid) / "status";
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read " + path.string());

  // Lines read "VmRSS:     12345 kB".
  MemoryUsage usage;
  bool found = false;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string key;
    std::uint64_t kib = 0;
    fields >> key >> kib;
    if (key == "VmRSS:") {
      usage.rss_bytes = kib * 1024;
      found = true;
    } else if (key == "RssAnon:") {
      usage.rss_anon_bytes = kib * 1024;
    }
  }
  if (!found) return Status::NotFound("no VmRSS in " + path.string());
  return usage;
}

Result<std::uint64_t> ReadCpuNs(pid_t pid) {
  const auto path = ProcPath(pid) / "stat";
  const auto fields = StatFields(ReadLine(path));
  if (fields.empty()) return Status::NotFound("cannot read " + path.string());
  return TicksToNs(CpuTicksOf(fields));
}

std::map<std::string, std::uint64_t> ReadThreadCpuNs(pid_t pid) {
  std::map<std::string, std::uint64_t> by_name;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(ProcPath(pid) / "task", ec)) {
    const std::string line = ReadLine(entry.path() / "stat");
    const auto fields = StatFields(line);
    if (fields.empty()) continue;  // The thread is gone.
    // Thread ids follow creation order, so "parleyd+3" tells threads of one name apart in
    // a way that stays put from one snapshot to the next.
    const std::string name =
        CommandName(line) + "+" + std::to_string(std::stoll(entry.path().filename()) - pid);
    by_name[name] += TicksToNs(CpuTicksOf(fields));
  }
  return by_name;
}

HostCpu ReadHostCpu() {
  // "cpu  user nice system idle iowait irq softirq steal guest guest_nice", in clock ticks.
  std::istringstream in(ReadLine("/proc/stat"));
  std::string label;
  std::uint64_t ticks[8] = {};
  in >> label;
  for (std::uint64_t& tick : ticks) in >> tick;
  const auto [user, nice, system, idle, iowait, irq, softirq, steal] = ticks;
  return {TicksToNs(user + nice + system + irq + softirq + steal), TicksToNs(idle + iowait)};
}

DiskUsage MeasureDisk(const std::filesystem::path& folder) {
  DiskUsage usage;
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(folder, ec)) {
    if (!entry.is_regular_file(ec)) continue;
    const std::uint64_t size = entry.file_size(ec);
    if (ec) continue;
    const auto extension = entry.path().extension();
    if (extension == ".sst") {
      usage.sst_bytes += size;
    } else if (extension == ".log") {
      usage.wal_bytes += size;
    } else {
      usage.other_bytes += size;
    }
  }
  return usage;
}

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace parley::bench
