// parley: the reference command-line client.
//
//   parley token --user NAME [--secret-file FILE | --config FILE] [--ttl SECONDS]

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "parley/auth/token.h"
#include "parley/common/clock.h"
#include "parley/config/config.h"

namespace {

constexpr std::string_view kUsage =
    "usage: parley token --user NAME [--secret-file FILE | --config FILE] [--ttl SECONDS]\n"
    "\n"
    "  token   mint a development token signed with the server's secret; the secret comes\n"
    "          from --secret-file, or from the auth section of --config (default:\n"
    "          config/parleyd.yaml); the token lasts --ttl seconds (default 86400)\n";

int Usage() {
  std::fputs(kUsage.data(), stderr);
  return 2;
}

std::string ReadSecret(const std::string& secret_file, const std::string& config_file) {
  // The config loader resolves and trims secrets the same way the daemon does.
  if (!secret_file.empty()) {
    return parley::config::ParseConfig("auth:\n  hmac_secret_file: '" + secret_file + "'\n", ".")
        .auth.secret;
  }
  return parley::config::LoadConfig(config_file).auth.secret;
}

int Token(const std::vector<std::string_view>& args) {
  std::string user;
  std::string secret_file;
  std::string config_file = "config/parleyd.yaml";
  long ttl = 86400;
  for (std::size_t i = 0; i + 1 < args.size(); i += 2) {
    const std::string value(args[i + 1]);
    if (args[i] == "--user") {
      user = value;
    } else if (args[i] == "--secret-file") {
      secret_file = value;
    } else if (args[i] == "--config") {
      config_file = value;
    } else if (args[i] == "--ttl") {
      ttl = std::strtol(value.c_str(), nullptr, 10);
    } else {
      return Usage();
    }
  }
  if (user.empty() || args.size() % 2 != 0 || ttl <= 0) return Usage();

  std::string secret;
  try {
    secret = ReadSecret(secret_file, config_file);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "parley: %s\n", error.what());
    return 1;
  }
  auto token = parley::auth::MintToken(user, secret, parley::SystemClock().NowMs(), ttl);
  if (!token.ok()) {
    std::fprintf(stderr, "parley: %s\n", token.status().message().c_str());
    return 1;
  }
  std::printf("%s\n", token.value().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  const std::string_view command = argv[1];
  const std::vector<std::string_view> args(argv + 2, argv + argc);
  if (command == "token") return Token(args);
  return Usage();
}
