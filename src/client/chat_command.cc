// parley chat: the interactive client.
//
// One thread does everything: it waits a short while for the server, then takes whatever
// lines have been typed, and so on. ChatConnection is single-threaded, and this keeps it so
// without a lock or a queue between threads.

#include <cstdio>
#include <cstdlib>
#include <string>

#include "chat_ui.h"
#include "cli_options.h"
#include "commands.h"
#include "terminal_io.h"
#include <unistd.h>

namespace parley::client {

namespace {

// How long one turn waits for the server before looking at the keyboard: short enough that
// typing feels immediate, long enough that an idle client sleeps.
constexpr std::chrono::milliseconds kTurn{25};

bool WantColor() {
  const char* no_color = std::getenv("NO_COLOR");  // https://no-color.org
  return ::isatty(STDOUT_FILENO) == 1 && (no_color == nullptr || no_color[0] == '\0');
}

}  // namespace

int RunChat(const Args& args) {
  ConnectFlags flags;
  std::string peer;
  FlagParser parser;
  AddConnectFlags(&parser, &flags);
  parser.AddValue("--to", &peer);
  std::vector<std::string> positional;
  if (Status status = parser.Parse(args, &positional); !status.ok()) {
    return Usage(status.message());
  }
  if (!positional.empty()) return Usage("chat takes no arguments; type the messages");
  if (std::string problem = UsageProblem(flags); !problem.empty()) return Usage(problem);

  auto options = MakeSessionOptions(flags, /*receive=*/true);
  if (!options.ok()) return Fail(options.status().message());

  InstallStopHandlers();
  ChatUi ui(flags.user, stdout, WantColor());
  Session session(std::move(options).value(), &ui);
  ui.set_session(&session);
  if (Status status = session.Start(); !status.ok()) return Fail(status.message());
  ui.ShowQueued(session.outbox());
  if (!peer.empty()) ui.TalkTo(peer);

  LineReader input(STDIN_FILENO);
  bool quit = false;
  while (!quit && !StopRequested() && !input.ended()) {
    if (Status status = session.Poll(kTurn); !status.ok()) return Fail(status.message());
    while (auto line = input.Next()) {
      if (!ui.HandleLine(*line)) {
        quit = true;
        break;
      }
    }
  }

  ui.Farewell();
  session.Close();
  return kExitOk;
}

}  // namespace parley::client
