// Report: the figures of one run, as a table for people and as JSON for tools.
//
// Figures are measured, never judged here: a missed target is not a problem. Problems are
// what make a run worthless or the server wrong: a workload that could not run, lost or
// duplicated messages. A report with a problem makes parley-bench exit non-zero.

#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/histogram.h"
#include "bench/options.h"

namespace parley::bench {

class Report {
 public:
  Report(std::string workload, std::string label, std::string server_url);

  // A figure: a table row "label  value unit" and figures.<key> = value in the JSON.
  void Add(const std::string& key, const std::string& label, double value,
           const std::string& unit = "", int decimals = 0);

  // A table row only, for text that is not a number.
  void Row(const std::string& label, const std::string& value);

  // p50, p99, p99.9 and max of a histogram of nanoseconds, in milliseconds: one table row,
  // and figures.<key>_p50_ms ... <key>_max_ms.
  void Latency(const std::string& key, const std::string& label, const Histogram& ns);

  void Problem(const std::string& text);
  void Note(const std::string& text);

  bool ok() const { return problems_.empty(); }

  // Free-form detail kept in the JSON only (counters, snapshots, histograms).
  nlohmann::json& detail() { return detail_; }

  void Print() const;
  nlohmann::json ToJson(const BenchOptions& options) const;

 private:
  std::string workload_;
  std::string label_;
  std::string server_url_;
  std::vector<std::pair<std::string, std::string>> rows_;
  std::vector<std::string> problems_;
  std::vector<std::string> notes_;
  nlohmann::json figures_ = nlohmann::json::object();
  nlohmann::json detail_ = nlohmann::json::object();
};

// 23,104 or 4.82: thousands separated, `decimals` after the point.
std::string FormatNumber(double value, int decimals = 0);

// nproc, CPU model and RAM of this host.
nlohmann::json DescribeMachine();

// Reads every result (*.json) in `folder` and prints one table: each targeted figure next to
// its target, then whether each run was free of problems. Returns false if a result reports
// a problem; a missed target, or a run that is not there, is not a failure.
bool PrintSummary(const std::string& folder);

}  // namespace parley::bench
