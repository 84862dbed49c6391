// parley-bench: the load generator.
//
//   parley-bench --workload idle|online|offline|mixed --spawn-server PATH [flags]
//   parley-bench --workload ... --server-url URL --secret-file F [--server-pid PID] [flags]
//   parley-bench --summarize DIR
//
// docs/benchmarks.md describes the workloads and their figures.

#include <csignal>
#include <cstdio>
#include <cstring>

#include "bench/options.h"
#include "bench/orchestrator.h"
#include "bench/proc_stats.h"
#include "bench/report.h"

int main(int argc, char** argv) {
  using namespace parley::bench;

  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::fputs(Usage().c_str(), stdout);
      return 0;
    }
  }
  auto options = ParseOptions(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr, "parley-bench: %s\n%s", options.status().message().c_str(),
                 Usage().c_str());
    return 2;
  }

  // A peer that vanishes must end a write with an error, not the process.
  std::signal(SIGPIPE, SIG_IGN);
  // Thousands of sockets per process; children (workers, the server) inherit the limit.
  RaiseFileLimit();

  if (!options->summarize_dir.empty()) return PrintSummary(options->summarize_dir) ? 0 : 1;
  if (options->worker_index >= 0) return RunWorker(*options);
  return RunOrchestrator(std::move(options).value());
}
