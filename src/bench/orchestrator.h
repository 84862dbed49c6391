// The two roles of a parley-bench process.
//
// The orchestrator is the process the user starts: it spawns the server when asked to,
// starts the worker processes (this same binary with --worker-index), answers their phases
// after measuring the server, merges their results and prints the report. It holds no
// connections itself, so its own memory never blurs the figures.
//
// A worker holds connections: its share of the workload's users on --threads threads.

#pragma once

#include "bench/options.h"

namespace parley::bench {

// Both return the process's exit code: 0 when the run was free of problems, 1 when it found
// some (or could not run), 2 for a usage error.
int RunOrchestrator(BenchOptions options);
int RunWorker(const BenchOptions& options);

}  // namespace parley::bench
