// ChatUi: the terminal side of `parley chat`. It turns typed lines into messages and
// commands, and what the session reports into lines of text:
//
//   [12:01:05] you → bob: hi  ✓✓
//   [12:01:09] bob → you: hello
//
// Each message the user sends gets a new line whenever its state moves on: (pending) while it
// waits in the outbox, ✓ once the server stored it, ✓✓ once bob's client acknowledged it,
// ✓✓ read once bob's client marked it read. Messages from the peer the user is talking to are
// marked read as soon as they are shown; those from anyone else when she turns to them.
//
// Line-based on purpose: no cursor control, so it works the same in any terminal, in a pipe
// and in a test's pseudo-terminal. Runs on the session's thread.

#ifndef PARLEY_CLIENT_CHAT_UI_H_
#define PARLEY_CLIENT_CHAT_UI_H_

#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "parley/client/session.h"

namespace parley::client {

class ChatUi final : public SessionListener {
 public:
  // Writes to `out`; `color` adds ANSI colour to read marks and notices.
  ChatUi(std::string user, std::FILE* out, bool color);

  // REQUIRES: called once, before the session starts; the session outlives this object's use.
  void set_session(Session* session) { session_ = session; }

  // Shows what earlier runs left in the outbox, so that its acks have something to update.
  void ShowQueued(const Outbox& outbox);

  // Picks who typed lines go to, and marks what she sent earlier as read.
  void TalkTo(const std::string& peer);

  // Handles one typed line: a message, or a command. False when the user asked to quit.
  bool HandleLine(std::string_view line);

  // A last word before the program ends.
  void Farewell();

  // SessionListener.
  void OnConnected(const v1::Connected& connected) override;
  void OnDisconnected(const Status& reason, std::chrono::milliseconds retry_in) override;
  Status OnItems(const std::vector<v1::Item>& items) override;
  void OnSendAck(const OutboxEntry& entry, const v1::SendAck& ack) override;
  void OnSendRefused(const OutboxEntry& entry, const v1::Error& error) override;
  void OnReply(const v1::ServerFrame& frame) override;

 private:
  // Ordered: a message's state only ever moves forward.
  enum class Tick { kPending, kSent, kDelivered, kRead, kRefused };

  struct Outgoing {
    std::string to;
    std::string text;
    std::int64_t at_ms = 0;
    Tick tick = Tick::kPending;
  };

  void SendText(std::string text);
  bool RunCommand(std::string_view command, std::string_view argument);
  // A page of history with `peer` (empty: everyone), from the newest or from `cursor`.
  void AskHistory(std::string_view peer, const std::string& cursor);
  void AskRetention(std::string_view days);
  void ShowHelp();

  void ShowMessage(const v1::Message& message, bool with_date);
  void ShowReceipt(const v1::Receipt& receipt);
  void ShowOutgoing(const Outgoing& message, bool abbreviate, std::string_view note = {});
  void ShowHistory(const v1::History& history, const std::string& peer);

  // The record of a sent message, made on first use; the oldest are forgotten past a bound.
  Outgoing& Track(const std::string& client_msg_id);

  std::string Mark(Tick tick) const;
  std::string Who(const std::string& user) const;
  void Notice(std::string_view text);
  void Print(const std::string& line);

  std::string user_;
  std::FILE* out_;
  bool color_;
  Session* session_ = nullptr;
  std::string peer_;
  bool ever_connected_ = false;

  std::unordered_map<std::string, Outgoing> outgoing_;      // By client_msg_id.
  std::deque<std::string> outgoing_order_;                  // Oldest first, for forgetting.
  std::map<std::string, std::vector<std::string>> unread_;  // Peer -> client_msg_ids.
  std::string history_peer_;    // Whose history /history showed last, for /more.
  std::string history_cursor_;  // Where /more goes on; empty: nothing older.
  std::unordered_map<std::uint64_t, std::string> history_requests_;  // request_id -> peer.
  std::unordered_map<std::uint64_t, std::string> other_requests_;    // request_id -> what.
};

}  // namespace parley::client

#endif  // PARLEY_CLIENT_CHAT_UI_H_
