#include "chat_ui.h"

#include <algorithm>
#include <charconv>
#include <ctime>

#include "parley/auth/token.h"
#include "parley/common/utf8.h"

namespace parley::client {

namespace {

constexpr std::size_t kMaxTextChars = 1000;  // The protocol's limit, checked before queueing.
constexpr std::uint32_t kHistoryPage = 20;   // Messages one /history shows.
constexpr std::size_t kAbbreviateAt = 30;    // Characters of text repeated on status lines.
constexpr std::size_t kTrackedSends = 4096;  // Sent messages whose receipts we can still show.

constexpr std::string_view kBlue = "\033[34m";
constexpr std::string_view kDim = "\033[2m";
constexpr std::string_view kReset = "\033[0m";

constexpr std::string_view kHelp =
    "[/to NAME         talk to NAME: what you type next goes to her]\n"
    "[/history [NAME]  the last messages kept on the server, with NAME or with everyone]\n"
    "[/more            the page of history before the one shown last]\n"
    "[/retention DAYS  keep your history on the server for DAYS days (0 to 90; 0: none)]\n"
    "[/help            this list]\n"
    "[/quit            leave (Ctrl-D and Ctrl-C too); unsent messages wait in the outbox]\n"
    "[//text           sends \"/text\"]";

// HH:MM:SS, or YYYY-MM-DD HH:MM:SS, in local time.
std::string FormatTime(std::int64_t ms, bool with_date) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[32];
  std::strftime(text, sizeof text, with_date ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", &local);
  return text;
}

// Text from other people goes to a terminal: control characters (an escape sequence could
// rewrite the screen) become '?', and a line break indents what follows.
std::string Printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\n    ";
    } else if (byte < 0x20 || byte == 0x7F) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out;
}

// The first `chars` characters of UTF-8 `text`, with an ellipsis when there were more.
std::string Abbreviate(std::string_view text, std::size_t chars) {
  std::size_t seen = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool starts_char = (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
    if (starts_char && seen++ == chars) return std::string(text.substr(0, i)) + "…";
  }
  return std::string(text);
}

std::string_view Trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

std::string DescribeError(const v1::Error& error) {
  return v1::Error::Code_Name(error.code()) + ": " + error.message();
}

}  // namespace

ChatUi::ChatUi(std::string user, std::FILE* out, bool color)
    : user_(std::move(user)), out_(out), color_(color) {}

void ChatUi::ShowQueued(const Outbox& outbox) {
  if (outbox.empty()) return;
  Notice(std::to_string(outbox.entries().size()) + " message(s) from earlier wait in the outbox");
  for (const OutboxEntry& entry : outbox.entries()) {
    Outgoing& message = Track(entry.client_msg_id);
    message = Outgoing{entry.to, entry.text, entry.created_ms, Tick::kPending};
    ShowOutgoing(message, /*abbreviate=*/false);
  }
}

void ChatUi::TalkTo(const std::string& peer) {
  if (!auth::IsValidUserId(peer)) {
    Notice("'" + peer + "' is not a user id");
    return;
  }
  peer_ = peer;
  Notice("talking to " + peer_);

  const auto unread = unread_.find(peer_);
  if (unread != unread_.end()) {
    session_->MarkRead(peer_, unread->second);
    unread_.erase(unread);
  }
}

bool ChatUi::HandleLine(std::string_view line) {
  if (Trim(line).empty()) return true;
  if (line.starts_with("//")) {
    SendText(std::string(line.substr(1)));
    return true;
  }
  if (!line.starts_with('/')) {
    SendText(std::string(line));
    return true;
  }

  const std::string_view rest = Trim(line.substr(1));
  const auto space = rest.find(' ');
  const std::string_view command = rest.substr(0, space);
  const std::string_view argument =
      space == std::string_view::npos ? std::string_view() : Trim(rest.substr(space));
  return RunCommand(command, argument);
}

void ChatUi::Farewell() {
  const std::size_t waiting = session_->outbox().entries().size();
  if (waiting > 0) {
    Notice(std::to_string(waiting) +
           " message(s) not yet stored stay in the outbox;"
           " they go out the next time you connect");
  }
}

// --- Session events ---------------------------------------------------------------------------

void ChatUi::OnConnected(const v1::Connected& connected) {
  if (ever_connected_) {
    Notice("connected again");
    return;
  }
  ever_connected_ = true;
  std::string line = "connected as " + connected.user();
  if (connected.pending() > 0) line += "; " + std::to_string(connected.pending()) + " waiting";
  if (connected.history_days() > 0) {
    line += "; history kept " + std::to_string(connected.history_days()) + " days";
  }
  Notice(line + "; /help lists the commands");
}

void ChatUi::OnDisconnected(const Status& reason, std::chrono::milliseconds retry_in) {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.1f", static_cast<double>(retry_in.count()) / 1000.0);
  Notice(reason.message() + "; trying again in " + seconds + " s");
}

Status ChatUi::OnItems(const std::vector<v1::Item>& items) {
  std::vector<std::string> read_now;
  for (const v1::Item& item : items) {
    if (item.has_receipt()) {
      ShowReceipt(item.receipt());
      continue;
    }
    const v1::Message& message = item.message();
    ShowMessage(message, /*with_date=*/false);
    if (message.from() == peer_) {
      read_now.push_back(message.client_msg_id());
    } else {
      unread_[message.from()].push_back(message.client_msg_id());
    }
  }
  if (!read_now.empty()) session_->MarkRead(peer_, read_now);
  return Status::Ok();
}

void ChatUi::OnSendAck(const OutboxEntry& entry, const v1::SendAck& ack) {
  Outgoing& message = Track(entry.client_msg_id);
  message.to = entry.to;
  message.text = entry.text;
  message.at_ms = ack.sent_at_ms();
  if (message.tick >= Tick::kSent) return;  // A receipt overtook the ack.
  message.tick = Tick::kSent;
  ShowOutgoing(message, /*abbreviate=*/true);
}

void ChatUi::OnSendRefused(const OutboxEntry& entry, const v1::Error& error) {
  Outgoing& message = Track(entry.client_msg_id);
  message = Outgoing{entry.to, entry.text, entry.created_ms, Tick::kRefused};
  ShowOutgoing(message, /*abbreviate=*/false, DescribeError(error));
}

void ChatUi::OnReply(const v1::ServerFrame& frame) {
  const std::uint64_t id = frame.request_id();
  if (const auto history = history_requests_.find(id); history != history_requests_.end()) {
    const std::string peer = history->second;
    history_requests_.erase(history);
    if (frame.has_history()) {
      ShowHistory(frame.history(), peer);
    } else if (frame.has_error()) {
      Notice("/history failed: " + DescribeError(frame.error()));
    }
    return;
  }

  std::string what = "a request";
  if (const auto other = other_requests_.find(id); other != other_requests_.end()) {
    what = other->second;
    other_requests_.erase(other);
  }
  if (frame.has_retention_set()) {
    const std::uint32_t days = frame.retention_set().history_days();
    Notice(days == 0 ? std::string("the server keeps no history of your messages")
                     : "the server keeps your history for " + std::to_string(days) + " days");
  } else if (frame.has_error()) {
    Notice(what + " failed: " + DescribeError(frame.error()));
  }
}

// --- Typed lines --------------------------------------------------------------------------------

void ChatUi::SendText(std::string text) {
  if (peer_.empty()) {
    Notice("no one to send to yet: /to NAME picks someone");
    return;
  }
  const auto chars = CountUtf8Chars(text);
  if (!chars) {
    Notice("not sent: the line is not valid UTF-8");
    return;
  }
  if (*chars > kMaxTextChars) {
    Notice("not sent: " + std::to_string(*chars) + " characters, at most 1000");
    return;
  }

  auto entry = session_->Send(peer_, std::move(text));
  if (!entry.ok()) {
    Notice("not sent: " + entry.status().message());
    return;
  }

  // Its answer is read by the next Poll(), so the pending line always comes first.
  Outgoing& message = Track(entry->client_msg_id);
  message = Outgoing{entry->to, entry->text, entry->created_ms, Tick::kPending};
  ShowOutgoing(message, /*abbreviate=*/false);
}

bool ChatUi::RunCommand(std::string_view command, std::string_view argument) {
  if (command == "quit" || command == "exit") return false;
  if (command == "to" && !argument.empty()) {
    TalkTo(std::string(argument));
  } else if (command == "history") {
    AskHistory(argument.empty() ? std::string_view(peer_) : argument, /*cursor=*/"");
  } else if (command == "more") {
    if (history_cursor_.empty()) {
      Notice("no more history to show; /history starts from the newest");
    } else {
      AskHistory(history_peer_, history_cursor_);
    }
  } else if (command == "retention") {
    AskRetention(argument);
  } else if (command == "help") {
    ShowHelp();
  } else {
    Notice("unknown command /" + std::string(command) + "; /help lists them");
  }
  return true;
}

void ChatUi::AskHistory(std::string_view peer, const std::string& cursor) {
  v1::ClientFrame frame;
  v1::GetHistory* get = frame.mutable_get_history();
  get->set_peer(std::string(peer));
  get->set_cursor(cursor);
  get->set_limit(kHistoryPage);
  auto id = session_->Request(std::move(frame));
  if (!id.ok()) {
    Notice("/history: " + id.status().message() + "; try again once connected");
    return;
  }
  history_requests_[*id] = std::string(peer);
}

void ChatUi::AskRetention(std::string_view days) {
  std::uint32_t value = 0;
  const auto [end, error] = std::from_chars(days.data(), days.data() + days.size(), value);
  if (days.empty() || error != std::errc() || end != days.data() + days.size()) {
    Notice("usage: /retention DAYS, with DAYS from 0 (no history) to 90");
    return;
  }

  v1::ClientFrame frame;
  frame.mutable_set_retention()->set_history_days(value);
  auto id = session_->Request(std::move(frame));
  if (!id.ok()) {
    Notice("/retention: " + id.status().message() + "; try again once connected");
    return;
  }
  other_requests_[*id] = "/retention";
}

void ChatUi::ShowHelp() { Print(std::string(kHelp)); }

// --- Output -----------------------------------------------------------------------------------

void ChatUi::ShowMessage(const v1::Message& message, bool with_date) {
  Print("[" + FormatTime(message.sent_at_ms(), with_date) + "] " + Who(message.from()) + " → " +
        Who(message.to()) + ": " + Printable(message.text()));
}

void ChatUi::ShowReceipt(const v1::Receipt& receipt) {
  const Tick tick = receipt.status() == v1::Receipt::READ ? Tick::kRead : Tick::kDelivered;
  const auto found = outgoing_.find(receipt.client_msg_id());
  if (found == outgoing_.end()) {
    // Sent by an earlier run or another client of this user: the text is not known here.
    Outgoing earlier{receipt.peer(), "(an earlier message)", receipt.at_ms(), tick};
    ShowOutgoing(earlier, /*abbreviate=*/false);
    return;
  }

  Outgoing& message = found->second;
  if (tick <= message.tick) return;
  message.tick = tick;
  ShowOutgoing(message, /*abbreviate=*/true);
}

void ChatUi::ShowOutgoing(const Outgoing& message, bool abbreviate, std::string_view note) {
  const std::string text = abbreviate ? Abbreviate(message.text, kAbbreviateAt) : message.text;
  std::string line = "[" + FormatTime(message.at_ms, false) + "] you → " + message.to + ": " +
                     Printable(text) + "  " + Mark(message.tick);
  if (!note.empty()) line += " " + std::string(note);
  Print(line);
}

void ChatUi::ShowHistory(const v1::History& history, const std::string& peer) {
  const std::string with = peer.empty() ? "" : " with " + peer;
  history_cursor_.clear();
  if (history.messages().empty()) {
    Notice("no history" + with + " on the server");
    return;
  }
  Notice("history" + with + ", oldest first:");
  for (auto message = history.messages().rbegin(); message != history.messages().rend();
       ++message) {
    ShowMessage(*message, /*with_date=*/true);
  }
  history_peer_ = peer;
  history_cursor_ = history.next_cursor();
  if (!history_cursor_.empty()) Notice("older messages are kept too: /more shows them");
}

std::string ChatUi::Mark(Tick tick) const {
  switch (tick) {
    case Tick::kPending:
      return "(pending)";
    case Tick::kSent:
      return "✓";
    case Tick::kDelivered:
      return "✓✓";
    case Tick::kRead:
      return color_ ? std::string(kBlue) + "✓✓ read" + std::string(kReset) : "✓✓ read";
    case Tick::kRefused:
      return "✗";
  }
  return {};
}

ChatUi::Outgoing& ChatUi::Track(const std::string& client_msg_id) {
  const auto [found, added] = outgoing_.try_emplace(client_msg_id);
  if (added) {
    outgoing_order_.push_back(client_msg_id);
    if (outgoing_order_.size() > kTrackedSends) {
      outgoing_.erase(outgoing_order_.front());
      outgoing_order_.pop_front();
    }
  }
  return found->second;
}

std::string ChatUi::Who(const std::string& user) const { return user == user_ ? "you" : user; }

void ChatUi::Notice(std::string_view text) {
  const std::string line = "[" + std::string(text) + "]";
  Print(color_ ? std::string(kDim) + line + std::string(kReset) : line);
}

void ChatUi::Print(const std::string& line) {
  std::fputs(line.c_str(), out_);
  std::fputc('\n', out_);
  std::fflush(out_);
}

}  // namespace parley::client
