#include "bench/options.h"

#include <algorithm>
#include <charconv>
#include <string_view>
#include <type_traits>
#include <variant>

namespace parley::bench {

namespace {

using Member = std::variant<std::string BenchOptions::*, std::int64_t BenchOptions::*,
                            double BenchOptions::*, bool BenchOptions::*>;

struct Flag {
  std::string_view name;  // Without the leading "--".
  Member member;
  std::string_view help;
};

// clang-format off
const Flag kFlags[] = {
    {"workload", &BenchOptions::workload, "idle | online | offline | mixed"},
    {"label", &BenchOptions::label, "name of the result (default: workload, -tls for wss)"},
    {"json", &BenchOptions::json_file, "write the result to this JSON file"},
    {"summarize", &BenchOptions::summarize_dir,
     "print the summary of every result in this folder against the targets"},
    {"server-url", &BenchOptions::server_url, "ws://HOST:PORT/v1/chat of a running server"},
    {"server-pid", &BenchOptions::server_pid, "its process id, for RSS and CPU figures"},
    {"admin-port", &BenchOptions::admin_port, "its admin port, for /metrics"},
    {"secret-file", &BenchOptions::secret_file, "its HMAC secret, to mint tokens"},
    {"spawn-server", &BenchOptions::spawn_server, "start this parleyd for the run instead"},
    {"no-sync", &BenchOptions::no_sync, "spawned server: storage.sync false"},
    {"server-threads", &BenchOptions::server_threads, "spawned server: server.threads (0: cores)"},
    {"keep-server-dir", &BenchOptions::keep_server_dir, "keep the spawned server's folder"},
    {"tls", &BenchOptions::tls, "spawned server: serve wss with a fresh certificate"},
    {"ca-file", &BenchOptions::ca_file, "wss: trust this CA certificate (PEM)"},
    {"insecure", &BenchOptions::insecure, "wss: do not verify the server's certificate"},
    {"processes", &BenchOptions::processes, "worker processes (0: one per 8,000 connections)"},
    {"threads", &BenchOptions::threads, "network threads per worker process"},
    {"connect-concurrency", &BenchOptions::connect_concurrency,
     "connection attempts in progress at once, per process"},
    {"connections", &BenchOptions::connections, "idle: connections to hold"},
    {"hold", &BenchOptions::hold_s, "idle: seconds to hold them before measuring"},
    {"pairs", &BenchOptions::pairs, "online: sender-receiver pairs"},
    {"rate", &BenchOptions::rate, "online, mixed: messages/s in total (online 0: flat out)"},
    {"duration", &BenchOptions::duration_s, "online, mixed: seconds of sending"},
    {"in-flight", &BenchOptions::in_flight, "online flat out: unacknowledged sends per sender"},
    {"users", &BenchOptions::users, "offline, mixed: users (default 1,000 and 10,000)"},
    {"backlog", &BenchOptions::backlog, "offline: messages waiting for each user"},
    {"measure-disk", &BenchOptions::measure_disk,
     "offline, spawned server: restart it and measure bytes on disk per message"},
    {"msgs-per-user", &BenchOptions::msgs_per_user, "mixed: messages each user sends in the run"},
    {"churn", &BenchOptions::churn, "mixed: fraction of users that reconnect every second"},
    {"message-bytes", &BenchOptions::message_bytes,
     "encoded size of each message, metadata included"},
    {"drain-timeout", &BenchOptions::drain_timeout_s,
     "seconds to wait for the last delivery once sending stopped"},
    {"run-tag", &BenchOptions::run_tag, "(internal) prefix of the run's user ids"},
    {"worker-index", &BenchOptions::worker_index, "(internal) this worker's number"},
};
// clang-format on

const Flag* FindFlag(std::string_view name) {
  for (const Flag& flag : kFlags) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

template <typename T>
bool ParseNumber(std::string_view text, T* out) {
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && ptr == end;
}

// Stores `value` into the member `flag` names; false if it does not parse.
bool Assign(BenchOptions& options, const Flag& flag, std::string_view value) {
  return std::visit(
      [&](auto member) -> bool {
        using T = std::remove_cvref_t<decltype(options.*member)>;
        if constexpr (std::is_same_v<T, std::string>) {
          options.*member = std::string(value);
          return true;
        } else if constexpr (std::is_same_v<T, bool>) {
          return false;  // Booleans take no value.
        } else {
          return ParseNumber(value, &(options.*member));
        }
      },
      flag.member);
}

std::string Format(const BenchOptions& options, const Flag& flag) {
  return std::visit(
      [&](auto member) -> std::string {
        using T = std::remove_cvref_t<decltype(options.*member)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return options.*member;
        } else if constexpr (std::is_same_v<T, bool>) {
          return {};
        } else {
          // to_chars gives the shortest text that parses back to the same number.
          char buffer[64];
          const auto result = std::to_chars(buffer, buffer + sizeof buffer, options.*member);
          return std::string(buffer, result.ptr);
        }
      },
      flag.member);
}

bool IsDefault(const BenchOptions& options, const Flag& flag) {
  static const BenchOptions kDefaults;
  return std::visit([&](auto member) { return options.*member == kDefaults.*member; }, flag.member);
}

}  // namespace

Result<BenchOptions> ParseOptions(int argc, char** argv) {
  BenchOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!arg.starts_with("--")) {
      return Status::InvalidArgument("unexpected argument " + std::string(arg));
    }
    arg.remove_prefix(2);

    const Flag* flag = FindFlag(arg);
    if (flag == nullptr) return Status::InvalidArgument("unknown flag --" + std::string(arg));
    if (std::holds_alternative<bool BenchOptions::*>(flag->member)) {
      options.*std::get<bool BenchOptions::*>(flag->member) = true;
      continue;
    }
    if (i + 1 >= argc) return Status::InvalidArgument("--" + std::string(arg) + " needs a value");
    if (!Assign(options, *flag, argv[++i])) {
      return Status::InvalidArgument("--" + std::string(arg) + ": cannot parse '" + argv[i] + "'");
    }
  }
  return options;
}

std::vector<std::string> ToArgs(const BenchOptions& options) {
  std::vector<std::string> args;
  for (const Flag& flag : kFlags) {
    if (IsDefault(options, flag)) continue;
    args.push_back("--" + std::string(flag.name));
    if (!std::holds_alternative<bool BenchOptions::*>(flag.member)) {
      args.push_back(Format(options, flag));
    }
  }
  return args;
}

std::string Usage() {
  std::string text =
      "usage: parley-bench --workload idle|online|offline|mixed [flags]\n"
      "       parley-bench --summarize DIR\n\nflags:\n";
  for (const Flag& flag : kFlags) {
    std::string line = "  --" + std::string(flag.name);
    if (!std::holds_alternative<bool BenchOptions::*>(flag.member)) line += " X";
    line.resize(std::max<std::size_t>(line.size() + 1, 26), ' ');
    text += line + std::string(flag.help) + "\n";
  }
  return text;
}

}  // namespace parley::bench
