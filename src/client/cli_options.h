// The command line of `parley`: flag parsing, the flags the networked commands share, and
// turning them into SessionOptions.

#ifndef PARLEY_CLIENT_CLI_OPTIONS_H_
#define PARLEY_CLIENT_CLI_OPTIONS_H_

#include <string>
#include <string_view>
#include <vector>

#include "parley/client/session.h"
#include "parley/common/status.h"

namespace parley::client {

// Exit codes of every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Prints the usage text to stderr and returns kExitUsage; with a reason, prints that first.
int Usage(std::string_view reason = {});

// Prints "parley: <message>" to stderr and returns kExitFailure.
int Fail(std::string_view message);

// Recognises "--name VALUE", "--name=VALUE" and switches; everything else is positional, and
// "--" makes the rest positional too.
class FlagParser {
 public:
  void AddValue(std::string_view name, std::string* target);
  void AddSwitch(std::string_view name, bool* target);

  // InvalidArgument naming the flag on an unknown flag or a missing value.
  Status Parse(const std::vector<std::string_view>& args, std::vector<std::string>* positional);

 private:
  struct Flag {
    std::string_view name;
    std::string* value = nullptr;  // Null for a switch.
    bool* set = nullptr;
  };

  const Flag* Find(std::string_view name) const;

  std::vector<Flag> flags_;
};

// What chat, send and listen need to reach the server as a user.
struct ConnectFlags {
  std::string server = "ws://127.0.0.1:8080/v1/chat";
  std::string user;
  std::string token;        // --token, else $PARLEY_TOKEN.
  std::string secret_file;  // Mint tokens with the server's secret instead (development).
  std::string ca_file;
  std::string state_dir;  // Empty: DefaultStateRoot().
  std::string format = "json";
};

void AddConnectFlags(FlagParser* parser, ConnectFlags* flags);

// Checks what can be checked without the network. A non-empty answer is a usage error.
std::string UsageProblem(const ConnectFlags& flags);

// Builds the session's options: reads the secret, parses the URL, finds the state folder.
// Failures here are runtime errors (exit 1), with a message fit for one line.
Result<SessionOptions> MakeSessionOptions(const ConnectFlags& flags, bool receive);

// The secret in `secret_file`, or else in the auth section of `config_file`, read the way
// parleyd reads it. Throws std::exception with a message on failure.
std::string ReadSecret(const std::string& secret_file, const std::string& config_file);

}  // namespace parley::client

#endif  // PARLEY_CLIENT_CLI_OPTIONS_H_
