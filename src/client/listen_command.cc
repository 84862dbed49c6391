// parley listen: prints every incoming item as one line of canonical proto3 JSON, for scripts.
//
// stdout carries only those lines, each written and flushed as the item is processed, so a
// reader sees it at once. Notes about the connection go to stderr.

#include <cstdio>
#include <string>

#include <google/protobuf/util/json_util.h>

#include "cli_options.h"
#include "commands.h"
#include "terminal_io.h"
#include <unistd.h>

namespace parley::client {

namespace {

// The idle wait between two looks at the stop flag; bounds how late SIGTERM is noticed.
constexpr std::chrono::milliseconds kPollInterval{200};

class JsonLinesPrinter final : public SessionListener {
 public:
  explicit JsonLinesPrinter(std::string url) : url_(std::move(url)) {}

  void OnConnected(const v1::Connected& connected) override {
    std::fprintf(stderr, "parley: listening as %s on %s\n", connected.user().c_str(), url_.c_str());
  }

  void OnDisconnected(const Status& reason, std::chrono::milliseconds retry_in) override {
    std::fprintf(stderr, "parley: %s; reconnecting in %lld ms\n", reason.message().c_str(),
                 static_cast<long long>(retry_in.count()));
  }

  // One write(2) for the whole batch: right after it, the session renames the record that
  // marks these items processed into place, and a crash between the two is the only one that
  // would show them twice (Session::CommitItems()).
  Status OnItems(const std::vector<v1::Item>& items) override {
    std::string lines;
    for (const v1::Item& item : items) {
      std::string json;
      const auto status = google::protobuf::util::MessageToJsonString(item, &json);
      if (!status.ok()) return Status::InvalidArgument("cannot print an item as JSON");
      lines += json;
      lines += '\n';
    }
    if (Status status = WriteAll(STDOUT_FILENO, lines); !status.ok()) {
      return Status::IOError("cannot write to stdout: " + status.message());
    }
    return Status::Ok();
  }

 private:
  std::string url_;
};

}  // namespace

int RunListen(const Args& args) {
  ConnectFlags flags;
  FlagParser parser;
  AddConnectFlags(&parser, &flags);
  std::vector<std::string> positional;
  if (Status status = parser.Parse(args, &positional); !status.ok()) {
    return Usage(status.message());
  }
  if (!positional.empty()) return Usage("listen takes no arguments");
  if (std::string problem = UsageProblem(flags); !problem.empty()) return Usage(problem);

  auto options = MakeSessionOptions(flags, /*receive=*/true);
  if (!options.ok()) return Fail(options.status().message());

  InstallStopHandlers();
  JsonLinesPrinter printer(flags.server);
  Session session(std::move(options).value(), &printer);
  if (Status status = session.Start(); !status.ok()) return Fail(status.message());

  // The stop flag is looked at only between two polls, and a poll commits whole batches, so
  // SIGTERM never cuts in between showing items and recording them.
  while (!StopRequested()) {
    if (Status status = session.Poll(kPollInterval); !status.ok()) {
      return Fail(status.message());
    }
  }
  session.Close();
  return kExitOk;
}

}  // namespace parley::client
