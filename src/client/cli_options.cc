#include "cli_options.h"

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "parley/auth/token.h"
#include "parley/common/clock.h"
#include "parley/config/config.h"

namespace parley::client {

namespace {

constexpr std::string_view kUsage =
    "usage: parley COMMAND [FLAGS]\n"
    "\n"
    "  chat    --user NAME [--to PEER]        talk in the terminal; /help lists the commands\n"
    "  send    --user NAME --to PEER TEXT...  send one message; TEXT '-' reads it from stdin\n"
    "  send    --user NAME --flush            send what earlier runs left unacknowledged\n"
    "  listen  --user NAME                    print each incoming item as one JSON line\n"
    "  token   --user NAME [--secret-file FILE | --config FILE] [--ttl SECONDS]\n"
    "          mint a development token signed with the server's secret; the secret comes\n"
    "          from --secret-file, or from the auth section of --config (default:\n"
    "          config/parleyd.yaml); the token lasts --ttl seconds (default 86400)\n"
    "\n"
    "flags of chat, send and listen:\n"
    "  --server URL        ws:// or wss:// (default ws://127.0.0.1:8080/v1/chat)\n"
    "  --token TOKEN       the user's token (default: $PARLEY_TOKEN)\n"
    "  --secret-file FILE  mint the token with the server's secret instead (development)\n"
    "  --ca-file FILE      trust this CA (PEM) for wss:// instead of the system's\n"
    "  --state-dir DIR     client state (default: $XDG_STATE_HOME/parley or\n"
    "                      ~/.local/state/parley)\n"
    "  --format FORMAT     json (text frames, the default) or protobuf (binary frames)\n"
    "flags of send:\n"
    "  --timeout SECONDS   how long to wait for the server's answer (default 30)\n"
    "  -v, --verbose       report each step on stderr\n"
    "\n"
    "exit status: 0 done, 1 failed (one line on stderr says why), 2 bad usage\n";

// Tokens minted from a secret file live a day; a new one is minted for every connection.
constexpr std::int64_t kMintedTokenTtlS = 86400;

}  // namespace

int Usage(std::string_view reason) {
  if (!reason.empty())
    std::fprintf(stderr, "parley: %.*s\n", static_cast<int>(reason.size()), reason.data());
  std::fputs(kUsage.data(), stderr);
  return kExitUsage;
}

int Fail(std::string_view message) {
  std::fprintf(stderr, "parley: %.*s\n", static_cast<int>(message.size()), message.data());
  return kExitFailure;
}

void FlagParser::AddValue(std::string_view name, std::string* target) {
  flags_.push_back(Flag{name, target, nullptr});
}

void FlagParser::AddSwitch(std::string_view name, bool* target) {
  flags_.push_back(Flag{name, nullptr, target});
}

const FlagParser::Flag* FlagParser::Find(std::string_view name) const {
  for (const Flag& flag : flags_) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

Status FlagParser::Parse(const std::vector<std::string_view>& args,
                         std::vector<std::string>* positional) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--") {
      positional->insert(positional->end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                         args.end());
      return Status::Ok();
    }
    if (!arg.starts_with('-') || arg == "-") {
      positional->emplace_back(arg);
      continue;
    }

    const auto equals = arg.find('=');
    const Flag* flag = Find(arg.substr(0, equals));
    if (flag == nullptr) return Status::InvalidArgument("unknown flag " + std::string(arg));
    if (flag->set != nullptr) {
      if (equals != std::string_view::npos) {
        return Status::InvalidArgument(std::string(flag->name) + " takes no value");
      }
      *flag->set = true;
      continue;
    }
    if (equals != std::string_view::npos) {
      *flag->value = std::string(arg.substr(equals + 1));
    } else if (i + 1 < args.size()) {
      *flag->value = std::string(args[++i]);
    } else {
      return Status::InvalidArgument(std::string(flag->name) + " needs a value");
    }
  }
  return Status::Ok();
}

void AddConnectFlags(FlagParser* parser, ConnectFlags* flags) {
  parser->AddValue("--server", &flags->server);
  parser->AddValue("--user", &flags->user);
  parser->AddValue("--token", &flags->token);
  parser->AddValue("--secret-file", &flags->secret_file);
  parser->AddValue("--ca-file", &flags->ca_file);
  parser->AddValue("--state-dir", &flags->state_dir);
  parser->AddValue("--format", &flags->format);
}

std::string UsageProblem(const ConnectFlags& flags) {
  if (flags.user.empty()) return "--user is required";
  if (flags.format != "json" && flags.format != "protobuf") {
    return "--format must be json or protobuf";
  }
  const char* env_token = std::getenv("PARLEY_TOKEN");
  const bool has_token = !flags.token.empty() || (env_token != nullptr && env_token[0] != '\0');
  if (!has_token && flags.secret_file.empty()) {
    return "no token: pass --token, set PARLEY_TOKEN, or mint one with --secret-file";
  }
  return {};
}

Result<SessionOptions> MakeSessionOptions(const ConnectFlags& flags, bool receive) {
  auto endpoint = ParseUrl(flags.server);
  if (!endpoint.ok()) {
    return Status::InvalidArgument("bad --server " + flags.server + ": " +
                                   endpoint.status().message());
  }
  if (!auth::IsValidUserId(flags.user)) {
    return Status::InvalidArgument("'" + flags.user + "' is not a valid user id");
  }

  SessionOptions options;
  options.url = flags.server;
  options.user = flags.user;
  options.receive = receive;
  options.connection.ca_file = flags.ca_file;
  options.connection.format = flags.format == "protobuf" ? WireFormat::kBinary : WireFormat::kJson;

  const std::filesystem::path root =
      flags.state_dir.empty() ? DefaultStateRoot() : std::filesystem::path(flags.state_dir);
  options.state_folder = StateFolder(root, *endpoint, flags.user);

  // An explicit token wins over the environment, which wins over minting.
  std::string token = flags.token;
  if (const char* env = std::getenv("PARLEY_TOKEN"); token.empty() && env != nullptr) token = env;
  if (!token.empty()) {
    options.token = [token]() -> Result<std::string> { return token; };
    return options;
  }

  std::string secret;
  try {
    secret = ReadSecret(flags.secret_file, "");
  } catch (const std::exception& error) {
    return Status::InvalidArgument(error.what());
  }
  options.token = [user = flags.user, secret]() -> Result<std::string> {
    return auth::MintToken(user, secret, SystemClock().NowMs(), kMintedTokenTtlS);
  };
  return options;
}

std::string ReadSecret(const std::string& secret_file, const std::string& config_file) {
  // The config loader resolves and trims secrets the same way the daemon does.
  if (!secret_file.empty()) {
    return config::ParseConfig("auth:\n  hmac_secret_file: '" + secret_file + "'\n", ".")
        .auth.secret;
  }
  return config::LoadConfig(config_file).auth.secret;
}

}  // namespace parley::client
