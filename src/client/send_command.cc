// parley send: sends one message and exits 0 once the server has stored it, printing its
// client_msg_id; or, with --flush, sends what earlier runs left in the outbox.
//
// The message goes through the outbox like any other: on disk before the frame is written,
// resent with the same client_msg_id after a reconnect, and, should this process die before
// the answer, resent by the next `parley send` or `parley chat` of the same user. The server's
// dedup stores it once either way.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>

#include "parley/auth/token.h"
#include "parley/common/utf8.h"

#include "cli_options.h"
#include "commands.h"
#include "terminal_io.h"

namespace parley::client {

namespace {

constexpr std::chrono::milliseconds kPollInterval{100};
constexpr long kDefaultTimeoutS = 30;
constexpr std::size_t kMaxTextChars = 1000;

// Test hook (PARLEY_TEST_EXIT_AFTER_SEND=1): die right after the first send frame is written,
// before its answer is read, as a crash there would. The pause lets the server take the frame
// before the process's exit resets the connection.
constexpr std::chrono::milliseconds kTestExitPause{300};
constexpr int kTestExitCode = 3;

// Follows the outbox on behalf of the command: which message is its own, and how it ended.
class SendReporter final : public SessionListener {
 public:
  explicit SendReporter(bool verbose) : verbose_(verbose) {}

  void set_target(std::string client_msg_id) { target_ = std::move(client_msg_id); }
  bool target_done() const { return target_done_; }
  bool target_refused() const { return !refusal_.empty(); }
  const std::string& refusal() const { return refusal_; }
  int refused() const { return refused_; }

  void OnDisconnected(const Status& reason, std::chrono::milliseconds retry_in) override {
    if (!verbose_) return;
    std::fprintf(stderr, "parley: %s; reconnecting in %lld ms\n", reason.message().c_str(),
                 static_cast<long long>(retry_in.count()));
  }

  void OnSendWritten(const OutboxEntry& entry) override {
    if (verbose_) std::fprintf(stderr, "parley: sent %s\n", entry.client_msg_id.c_str());
    const char* hook = std::getenv("PARLEY_TEST_EXIT_AFTER_SEND");
    if (hook != nullptr && std::string_view(hook) == "1") {
      std::this_thread::sleep_for(kTestExitPause);
      std::_Exit(kTestExitCode);
    }
  }

  void OnSendAck(const OutboxEntry& entry, const v1::SendAck& ack) override {
    // stdout gets the ids of stored messages: the receipts that come later name them.
    std::printf("%s\n", entry.client_msg_id.c_str());
    std::fflush(stdout);
    if (verbose_) {
      std::fprintf(stderr, "parley: %s to %s stored%s\n", entry.client_msg_id.c_str(),
                   entry.to.c_str(), ack.duplicate() ? " (it had been stored before)" : "");
    }
    if (entry.client_msg_id == target_) target_done_ = true;
  }

  void OnSendRefused(const OutboxEntry& entry, const v1::Error& error) override {
    const std::string why = error.message() + " (" + v1::Error::Code_Name(error.code()) + ")";
    if (entry.client_msg_id == target_) {
      target_done_ = true;
      refusal_ = "cannot send to " + entry.to + ": " + why;
      return;
    }
    // A message from an earlier run is lost for good: say so even without --verbose.
    ++refused_;
    std::fprintf(stderr, "parley: queued message %s to %s refused: %s\n",
                 entry.client_msg_id.c_str(), entry.to.c_str(), why.c_str());
  }

 private:
  bool verbose_;
  std::string target_;
  bool target_done_ = false;
  std::string refusal_;
  int refused_ = 0;
};

std::string JoinWords(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) {
    if (!text.empty()) text += ' ';
    text += word;
  }
  return text;
}

std::string ReadStdin() {
  std::string text(std::istreambuf_iterator<char>(std::cin), {});
  if (text.ends_with('\n')) text.pop_back();
  return text;
}

// Empty when `text` may be sent; otherwise why not.
std::string TextProblem(const std::string& text) {
  const auto chars = CountUtf8Chars(text);
  if (!chars) return "the text is not valid UTF-8";
  if (*chars == 0) return "the text is empty";
  if (*chars > kMaxTextChars) {
    return "the text has " + std::to_string(*chars) + " characters; at most 1000 are allowed";
  }
  return {};
}

}  // namespace

int RunSend(const Args& args) {
  ConnectFlags flags;
  std::string to;
  std::string timeout_text = std::to_string(kDefaultTimeoutS);
  bool flush = false;
  bool verbose = false;
  bool verbose_short = false;
  FlagParser parser;
  AddConnectFlags(&parser, &flags);
  parser.AddValue("--to", &to);
  parser.AddValue("--timeout", &timeout_text);
  parser.AddSwitch("--flush", &flush);
  parser.AddSwitch("--verbose", &verbose);
  parser.AddSwitch("-v", &verbose_short);
  std::vector<std::string> words;
  if (Status status = parser.Parse(args, &words); !status.ok()) return Usage(status.message());
  verbose = verbose || verbose_short;

  if (std::string problem = UsageProblem(flags); !problem.empty()) return Usage(problem);
  char* end = nullptr;
  const long timeout_s = std::strtol(timeout_text.c_str(), &end, 10);
  if (timeout_text.empty() || *end != '\0' || timeout_s <= 0) {
    return Usage("--timeout must be a positive number of seconds");
  }
  if (flush && (!words.empty() || !to.empty())) return Usage("--flush takes no --to or TEXT");
  if (!flush && (to.empty() || words.empty())) return Usage("send needs --to and TEXT");

  std::string text;
  if (!flush) {
    if (!auth::IsValidUserId(to)) return Fail("'" + to + "' is not a valid user id");
    text = words.size() == 1 && words[0] == "-" ? ReadStdin() : JoinWords(words);
    if (std::string problem = TextProblem(text); !problem.empty()) return Fail(problem);
  }

  auto options = MakeSessionOptions(flags, /*receive=*/false);
  if (!options.ok()) return Fail(options.status().message());

  InstallStopHandlers();
  SendReporter reporter(verbose);
  Session session(std::move(options).value(), &reporter);
  if (Status status = session.Start(); !status.ok()) return Fail(status.message());

  // Only now, with the server reachable, does the message enter the outbox: a run that could
  // not connect at all leaves nothing behind to surprise a later one.
  if (!flush) {
    auto entry = session.Send(to, std::move(text));
    if (!entry.ok()) return Fail(entry.status().message());
    reporter.set_target(entry->client_msg_id);
  }

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  auto finished = [&] { return flush ? session.outbox().empty() : reporter.target_done(); };
  while (!finished()) {
    if (StopRequested()) return Fail("interrupted; unanswered messages stay in the outbox");
    if (std::chrono::steady_clock::now() >= deadline) {
      return Fail("no answer from the server within " + timeout_text +
                  " s; the message stays in the outbox, and `parley send --flush` resends it");
    }
    if (Status status = session.Poll(kPollInterval); !status.ok()) return Fail(status.message());
  }
  session.Close();

  if (reporter.target_refused()) return Fail(reporter.refusal());
  if (flush && reporter.refused() > 0) return kExitFailure;
  return kExitOk;
}

}  // namespace parley::client
