#include "bench/report.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "bench/options.h"
#include <unistd.h>

namespace parley::bench {

namespace {

constexpr int kLabelWidth = 44;

// A figure the design brief sets a target for, in the result of the run named `label`.
struct Target {
  const char* label;
  const char* figure;
  const char* what;
  bool at_most;   // The figure must stay at or below the target (else at or above).
  double target;  // NaN: shown for information, without a target.
  const char* unit;
};

constexpr double kNone = NAN;

const Target kTargets[] = {
    {"idle-ws", "rss_per_connection_kib", "RSS per idle ws connection", true, 5, "KiB"},
    {"idle-wss", "rss_per_connection_kib", "RSS per idle wss connection", true, 16, "KiB"},
    {"online", "delivered_per_s", "durable msg/s, 23,000/s offered", false, 23000, "msg/s"},
    {"online", "delivery_p99_ms", "send->delivery p99 at that rate", true, 20, "ms"},
    {"online", "server_cpu_us_per_delivered", "server CPU per delivered message", true, 30, "us"},
    {"online-flat", "delivered_per_s", "durable msg/s flat out", false, 40000, "msg/s"},
    {"online-flat", "server_cpu_us_per_delivered", "server CPU per delivered, flat", true, 30,
     "us"},
    {"offline", "drain_items_per_s", "offline backlog drain", false, 150000, "items/s"},
    {"offline", "disk_bytes_per_message", "bytes on disk per message", true, 250, "B"},
    {"mixed", "accepted_per_s", "mixed: msg/s accepted", false, kNone, "msg/s"},
    {"mixed", "delivery_p99_ms", "mixed: send->delivery p99 (live)", true, kNone, "ms"},
    {"mixed", "reconnect_p99_ms", "mixed: reconnect->caught_up p99", true, kNone, "ms"},
    {"mixed", "server_cpu_us_per_delivered", "mixed: server CPU per delivered", true, kNone, "us"},
};

// Milliseconds and KiB want two decimals, microseconds one, counts and rates none.
int DecimalsFor(std::string_view unit) {
  if (unit == "ms" || unit == "KiB") return 2;
  if (unit == "us") return 1;
  return 0;
}

std::string Pad(std::string text, std::size_t width) {
  if (text.size() < width) text.resize(width, ' ');
  return text;
}

std::string FirstLineWith(const char* path, std::string_view key) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(key)) {
      const auto colon = line.find(':');
      auto value = colon == std::string::npos ? line : line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      return value;
    }
  }
  return "unknown";
}

}  // namespace

// --- Report ---------------------------------------------------------------------------------

Report::Report(std::string workload, std::string label, std::string server_url)
    : workload_(std::move(workload)),
      label_(std::move(label)),
      server_url_(std::move(server_url)) {}

void Report::Add(const std::string& key, const std::string& label, double value,
                 const std::string& unit, int decimals) {
  figures_[key] = std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
  const std::string text = std::isfinite(value) ? FormatNumber(value, decimals) : "n/a";
  rows_.emplace_back(label, unit.empty() ? text : text + " " + unit);
}

void Report::Row(const std::string& label, const std::string& value) {
  rows_.emplace_back(label, value);
}

void Report::Latency(const std::string& key, const std::string& label, const Histogram& ns) {
  const double p50 = static_cast<double>(ns.ValueAt(0.50)) / 1e6;
  const double p99 = static_cast<double>(ns.ValueAt(0.99)) / 1e6;
  const double p999 = static_cast<double>(ns.ValueAt(0.999)) / 1e6;
  const double max = static_cast<double>(ns.max()) / 1e6;
  figures_[key + "_p50_ms"] = p50;
  figures_[key + "_p99_ms"] = p99;
  figures_[key + "_p999_ms"] = p999;
  figures_[key + "_max_ms"] = max;
  figures_[key + "_count"] = ns.count();
  if (ns.count() == 0) {
    rows_.emplace_back(label + " p50/p99/p99.9/max", "none recorded");
    return;
  }
  rows_.emplace_back(label + " p50/p99/p99.9/max",
                     FormatNumber(p50, 2) + " / " + FormatNumber(p99, 2) + " / " +
                         FormatNumber(p999, 2) + " / " + FormatNumber(max, 2) + " ms");
}

void Report::Problem(const std::string& text) { problems_.push_back(text); }

void Report::Note(const std::string& text) { notes_.push_back(text); }

void Report::Print() const {
  std::printf("\nparley-bench %s (%s) against %s\n", workload_.c_str(), label_.c_str(),
              server_url_.c_str());
  for (const auto& [label, value] : rows_) {
    std::printf("  %s %s\n", Pad(label, kLabelWidth).c_str(), value.c_str());
  }
  for (const auto& note : notes_) std::printf("  note: %s\n", note.c_str());
  if (problems_.empty()) {
    std::printf("  result: OK, no lost or duplicated messages\n");
  } else {
    for (const auto& problem : problems_) std::printf("  PROBLEM: %s\n", problem.c_str());
  }
  std::fflush(stdout);
}

nlohmann::json Report::ToJson(const BenchOptions& options) const {
  nlohmann::json json;
  json["label"] = label_;
  json["workload"] = workload_;
  json["server_url"] = server_url_;
  json["ok"] = problems_.empty();
  json["problems"] = problems_;
  json["notes"] = notes_;
  json["figures"] = figures_;
  json["detail"] = detail_;
  json["machine"] = DescribeMachine();

  nlohmann::json flags = nlohmann::json::array();
  for (const auto& arg : ToArgs(options)) flags.push_back(arg);
  json["flags"] = std::move(flags);
  return json;
}

// --- Helpers --------------------------------------------------------------------------------

std::string FormatNumber(double value, int decimals) {
  if (!std::isfinite(value)) return "n/a";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, std::fabs(value));
  std::string digits = buffer;
  const auto point = digits.find('.');
  std::string whole = digits.substr(0, point);
  const std::string fraction = point == std::string::npos ? "" : digits.substr(point);

  std::string grouped;
  for (std::size_t i = 0; i < whole.size(); ++i) {
    if (i > 0 && (whole.size() - i) % 3 == 0) grouped += ',';
    grouped += whole[i];
  }
  return (value < 0 ? "-" : "") + grouped + fraction;
}

nlohmann::json DescribeMachine() {
  const std::string mem_total = FirstLineWith("/proc/meminfo", "MemTotal");
  double ram_gib = 0;
  if (mem_total != "unknown") ram_gib = std::stod(mem_total) / (1024.0 * 1024.0);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return {{"nproc", std::thread::hardware_concurrency()},
          {"cpu_model", FirstLineWith("/proc/cpuinfo", "model name")},
          {"ram_gib", std::round(ram_gib * 10) / 10},
          {"kernel", FirstLineWith("/proc/sys/kernel/osrelease", "")},
          {"host", host}};
}

bool PrintSummary(const std::string& folder) {
  std::map<std::string, nlohmann::json> results;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    try {
      nlohmann::json json = nlohmann::json::parse(in);
      const auto label = json.at("label").get<std::string>();
      results[label] = std::move(json);
    } catch (const std::exception& error) {
      std::printf("%s: cannot read: %s\n", entry.path().c_str(), error.what());
    }
  }
  if (ec) {
    std::printf("cannot read %s: %s\n", folder.c_str(), ec.message().c_str());
    return false;
  }

  std::printf("\n%s %s %s %s\n", Pad("figure", kLabelWidth).c_str(), Pad("measured", 18).c_str(),
              Pad("target", 16).c_str(), "");
  for (const Target& target : kTargets) {
    std::string measured = "not run";
    std::string verdict;
    const auto it = results.find(target.label);
    if (it != results.end()) {
      const auto& figures = it->second.at("figures");
      if (figures.contains(target.figure) && figures[target.figure].is_number()) {
        const double value = figures[target.figure].get<double>();
        measured = FormatNumber(value, DecimalsFor(target.unit)) + " " + target.unit;
        if (!std::isnan(target.target)) {
          const bool met = target.at_most ? value <= target.target : value >= target.target;
          verdict = met ? "met" : "MISSED";
        }
      } else {
        measured = "n/a";
      }
    }
    std::string goal = "-";
    if (!std::isnan(target.target)) {
      goal = std::string(target.at_most ? "<= " : ">= ") + FormatNumber(target.target) + " " +
             target.unit;
    }
    std::printf("%s %s %s %s\n", Pad(target.what, kLabelWidth).c_str(), Pad(measured, 18).c_str(),
                Pad(goal, 16).c_str(), verdict.c_str());
  }

  bool all_ok = true;
  std::printf("\n");
  for (const auto& [label, json] : results) {
    const bool ok = json.value("ok", false);
    all_ok = all_ok && ok;
    std::printf("%s %s\n", Pad(label, 16).c_str(),
                ok ? "ok: no lost or duplicated messages" : "FAILED");
    for (const auto& problem : json.value("problems", nlohmann::json::array())) {
      std::printf("%s   %s\n", Pad("", 16).c_str(), problem.get<std::string>().c_str());
    }
  }
  std::fflush(stdout);
  return all_ok;
}

}  // namespace parley::bench
