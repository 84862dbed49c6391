// parley: the reference command-line client. See docs/client.md, or run it without arguments
// for the usage.

#include <string>
#include <string_view>

#include "cli_options.h"
#include "commands.h"

int main(int argc, char** argv) {
  using namespace parley::client;  // NOLINT(google-build-using-namespace): main only.

  if (argc < 2) return Usage();
  const std::string_view command = argv[1];
  const Args args(argv + 2, argv + argc);

  if (command == "chat") return RunChat(args);
  if (command == "send") return RunSend(args);
  if (command == "listen") return RunListen(args);
  if (command == "token") return RunToken(args);
  if (command == "help" || command == "--help" || command == "-h") return Usage();
  return Usage("unknown command " + std::string(command));
}
