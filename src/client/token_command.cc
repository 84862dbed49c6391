// parley token: mints a development token signed with the server's secret.

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "parley/auth/token.h"
#include "parley/common/clock.h"

#include "cli_options.h"
#include "commands.h"

namespace parley::client {

int RunToken(const Args& args) {
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
    return Fail(error.what());
  }
  auto token = auth::MintToken(user, secret, SystemClock().NowMs(), ttl);
  if (!token.ok()) return Fail(token.status().message());
  std::printf("%s\n", token.value().c_str());
  return kExitOk;
}

}  // namespace parley::client
