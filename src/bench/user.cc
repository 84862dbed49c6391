#include "bench/user.h"

#include <atomic>
#include <charconv>
#include <cstdio>
#include <utility>

#include <nlohmann/json.hpp>

#include "bench/proc_stats.h"

namespace parley::bench {

namespace {

// clang-format off
constexpr std::pair<const char*, std::uint64_t Counters::*> kCounterFields[] = {
    {"dials", &Counters::dials},
    {"connected", &Counters::connected},
    {"caught_up", &Counters::caught_up},
    {"connect_failures", &Counters::connect_failures},
    {"unexpected_closes", &Counters::unexpected_closes},
    {"sends", &Counters::sends},
    {"send_acks", &Counters::send_acks},
    {"send_acks_duplicate", &Counters::send_acks_duplicate},
    {"send_errors", &Counters::send_errors},
    {"delivered", &Counters::delivered},
    {"delivered_live", &Counters::delivered_live},
    {"delivered_backlog", &Counters::delivered_backlog},
    {"receipts", &Counters::receipts},
    {"redelivered", &Counters::redelivered},
    {"duplicates", &Counters::duplicates},
    {"gaps", &Counters::gaps},
    {"seq_gaps", &Counters::seq_gaps},
    {"receipt_duplicates", &Counters::receipt_duplicates},
    {"receipt_gaps", &Counters::receipt_gaps},
    {"foreign_items", &Counters::foreign_items},
};

constexpr std::pair<const char*, Histogram Tally::*> kHistogramFields[] = {
    {"send_ack_ns", &Tally::send_ack_ns},
    {"delivery_ns", &Tally::delivery_ns},
    {"connect_ns", &Tally::connect_ns},
    {"caught_up_ns", &Tally::caught_up_ns},
};
// clang-format on

// A worker with a broken server could print one line per connection; ten tell the story.
constexpr int kMaxReportedErrors = 10;
std::atomic<int> reported_errors{0};

void ReportError(const std::string& user, std::string_view what) {
  if (reported_errors.fetch_add(1, std::memory_order_relaxed) < kMaxReportedErrors) {
    std::fprintf(stderr, "parley-bench: %s: %.*s\n", user.c_str(), static_cast<int>(what.size()),
                 what.data());
  }
}

// The number after the last `separator`, if the text ends in one.
std::optional<std::uint64_t> NumberAfter(std::string_view text, char separator) {
  const auto at = text.rfind(separator);
  if (at == std::string_view::npos) return std::nullopt;
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data() + at + 1, end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

// The leading decimal number of `text`.
std::optional<std::int64_t> LeadingNumber(std::string_view text) {
  std::int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc()) return std::nullopt;
  return value;
}

// Lowercase letters and a few spaces, 5 random bits each: about what a chat message holds,
// and nothing Snappy could shorten.
void AppendRandomText(std::uint64_t& state, std::size_t length, std::string& text) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz      ";
  static_assert(sizeof kAlphabet - 1 == 32);
  while (text.size() < length) {
    // xorshift64 (Marsaglia): plenty for text nobody reads.
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    for (std::uint64_t bits = state, n = 0; n < 12 && text.size() < length; ++n, bits >>= 5) {
      text += kAlphabet[bits & 31];
    }
  }
}

std::size_t VarintSize(std::size_t value) {
  std::size_t size = 1;
  for (; value >= 0x80; value >>= 7) ++size;
  return size;
}

// Length of text that makes Message{from, to, client_msg_id, text, sent_at_ms} encode to
// `message_bytes`: each string costs a tag byte, a length varint and its bytes; sent_at_ms
// (milliseconds since 1970, 41 bits) a tag byte and a 6-byte varint.
std::size_t TextLength(std::size_t message_bytes, std::size_t from, std::size_t to,
                       std::size_t id) {
  const std::size_t fixed = (2 + from) + (2 + to) + (2 + id) + (1 + 6) + 1;
  if (message_bytes <= fixed + 2) return 0;
  const std::size_t room = message_bytes - fixed;
  // The text's own length varint takes 1 byte below 128 and 2 up to 16383.
  return VarintSize(room - 1) == 1 ? room - 1 : room - 2;
}

}  // namespace

// --- Tally ----------------------------------------------------------------------------------

void Tally::Merge(const Tally& other) {
  for (const auto& [name, field] : kCounterFields) counters.*field += other.counters.*field;
  for (const auto& [name, field] : kHistogramFields) (this->*field).Merge(other.*field);
  last_caught_up_ns = std::max(last_caught_up_ns, other.last_caught_up_ns);
  last_delivery_ns = std::max(last_delivery_ns, other.last_delivery_ns);
}

nlohmann::json Tally::ToJson() const {
  nlohmann::json json;
  for (const auto& [name, field] : kCounterFields) json["counters"][name] = counters.*field;
  for (const auto& [name, field] : kHistogramFields)
    json["histograms"][name] = (this->*field).ToJson();
  json["last_caught_up_ns"] = last_caught_up_ns;
  json["last_delivery_ns"] = last_delivery_ns;
  return json;
}

Tally Tally::FromJson(const nlohmann::json& json) {
  Tally tally;
  for (const auto& [name, field] : kCounterFields) {
    tally.counters.*field = json.at("counters").value(name, std::uint64_t{0});
  }
  for (const auto& [name, field] : kHistogramFields) {
    tally.*field = Histogram::FromJson(json.at("histograms").at(name));
  }
  tally.last_caught_up_ns = json.value("last_caught_up_ns", std::int64_t{0});
  tally.last_delivery_ns = json.value("last_delivery_ns", std::int64_t{0});
  return tally;
}

// --- User -----------------------------------------------------------------------------------

User::User(std::uint32_t index, std::size_t thread, std::string id, std::string token, Tally* tally,
           Progress* progress, UserObserver* observer)
    : index_(index),
      thread_(thread),
      id_(std::move(id)),
      token_(std::move(token)),
      tally_(tally),
      progress_(progress),
      observer_(observer),
      random_(0x9e3779b97f4a7c15ULL * (index + 1)) {}

std::uint64_t User::SentTo(std::uint32_t peer) const {
  const auto it = peers_.find(peer);
  return it == peers_.end() ? 0 : it->second.sent;
}

void User::Dial(Network& network, const std::string& source_address) {
  dialled_at_ns_ = NowNs();
  ++tally_->counters.dials;
  progress_->open.fetch_add(1, std::memory_order_relaxed);
  closing_ = false;
  connection_ = network.Dial(thread_, {source_address, token_, processed_seq_}, this);
}

void User::Disconnect() {
  if (!connection_) return;
  closing_ = true;
  connection_->Close();
}

void User::SendTo(const User& peer, std::size_t message_bytes) {
  Peer& state = peers_[peer.index()];
  const std::string client_msg_id = std::to_string(peer.index()) + "." + std::to_string(state.sent);
  ++state.sent;

  // The send stamp leads the text; random letters make up the rest of the message's size.
  const std::int64_t now = NowNs();
  std::string text = std::to_string(now) + " ";
  const std::size_t length =
      TextLength(message_bytes, id_.size(), peer.id().size(), client_msg_id.size());
  AppendRandomText(random_, length, text);

  v1::ClientFrame frame;
  frame.set_request_id(static_cast<std::uint64_t>(now));
  v1::Send* send = frame.mutable_send();
  send->set_client_msg_id(client_msg_id);
  send->set_to(peer.id());
  send->set_text(std::move(text));
  connection_->Send(frame);

  ++in_flight_;
  ++tally_->counters.sends;
  progress_->sends.fetch_add(1, std::memory_order_relaxed);
}

void User::OnFrame(const v1::ServerFrame& frame) {
  const std::int64_t now = NowNs();
  switch (frame.body_case()) {
    case v1::ServerFrame::kConnected:
      connected_ = true;
      ++tally_->counters.connected;
      tally_->connect_ns.Record(static_cast<std::uint64_t>(now - dialled_at_ns_));
      progress_->connected.fetch_add(1, std::memory_order_relaxed);
      break;
    case v1::ServerFrame::kCaughtUp:
      caught_up_ = true;
      ++tally_->counters.caught_up;
      tally_->caught_up_ns.Record(static_cast<std::uint64_t>(now - dialled_at_ns_));
      tally_->last_caught_up_ns = now;
      progress_->caught_up.fetch_add(1, std::memory_order_relaxed);
      observer_->OnCaughtUp(*this);
      break;
    case v1::ServerFrame::kSendAck:
      OnSendAck(frame);
      break;
    case v1::ServerFrame::kError:
      OnError(frame);
      break;
    case v1::ServerFrame::kItem:
      OnItem(frame.item());
      break;
    default:
      break;
  }
}

void User::OnSendAck(const v1::ServerFrame& frame) {
  const v1::SendAck& ack = frame.send_ack();
  // client_msg_id is "<recipient>.<number>"; the request id is the send's stamp.
  std::uint64_t recipient = 0;
  const std::string& id = ack.client_msg_id();
  std::from_chars(id.data(), id.data() + id.size(), recipient);
  ++peers_[static_cast<std::uint32_t>(recipient)].accepted;

  tally_->send_ack_ns.Record(static_cast<std::uint64_t>(NowNs()) - frame.request_id());
  ++tally_->counters.send_acks;
  if (ack.duplicate()) ++tally_->counters.send_acks_duplicate;
  progress_->send_acks.fetch_add(1, std::memory_order_relaxed);
  if (in_flight_ > 0) --in_flight_;
  observer_->OnSendDone(*this);
}

void User::OnError(const v1::ServerFrame& frame) {
  const v1::Error& error = frame.error();
  ReportError(id_, v1::Error::Code_Name(error.code()) + ": " + error.message());
  if (error.client_msg_id().empty()) return;

  ++tally_->counters.send_errors;
  progress_->send_errors.fetch_add(1, std::memory_order_relaxed);
  if (in_flight_ > 0) --in_flight_;
  observer_->OnSendDone(*this);
}

void User::OnItem(const v1::Item& item) {
  if (item.seq() <= processed_seq_) {
    ++tally_->counters.redelivered;
    return;
  }
  if (item.seq() != processed_seq_ + 1)
    tally_->counters.seq_gaps += item.seq() - processed_seq_ - 1;

  if (item.has_message()) {
    OnMessage(item.message());
  } else if (item.has_receipt()) {
    OnReceipt(item.receipt());
  }

  processed_seq_ = item.seq();
  connection_->Ack(processed_seq_);
}

void User::OnMessage(const v1::Message& message) {
  const auto sender = NumberAfter(message.from(), '-');
  const auto number = NumberAfter(message.client_msg_id(), '.');
  const auto sent_ns = LeadingNumber(message.text());
  if (!sender || !number || !sent_ns) {
    ++tally_->counters.foreign_items;
    return;
  }

  Peer& peer = peers_[static_cast<std::uint32_t>(*sender)];
  if (*number < peer.next_expected) {
    ++tally_->counters.duplicates;
    return;
  }
  if (*number > peer.next_expected) tally_->counters.gaps += *number - peer.next_expected;
  peer.next_expected = *number + 1;
  ++peer.received;

  const std::int64_t now = NowNs();
  ++tally_->counters.delivered;
  if (caught_up_) {
    ++tally_->counters.delivered_live;
    tally_->delivery_ns.Record(
        static_cast<std::uint64_t>(std::max<std::int64_t>(0, now - *sent_ns)));
  } else {
    ++tally_->counters.delivered_backlog;
  }
  tally_->last_delivery_ns = now;
  progress_->delivered.fetch_add(1, std::memory_order_relaxed);
}

void User::OnReceipt(const v1::Receipt& receipt) {
  const auto recipient = NumberAfter(receipt.peer(), '-');
  const auto number = NumberAfter(receipt.client_msg_id(), '.');
  if (!recipient || !number) {
    ++tally_->counters.foreign_items;
    return;
  }

  Peer& peer = peers_[static_cast<std::uint32_t>(*recipient)];
  if (*number < peer.next_receipt) {
    ++tally_->counters.receipt_duplicates;
    return;
  }
  if (*number > peer.next_receipt) tally_->counters.receipt_gaps += *number - peer.next_receipt;
  peer.next_receipt = *number + 1;
  ++tally_->counters.receipts;
  progress_->receipts.fetch_add(1, std::memory_order_relaxed);
}

void User::OnClosed(std::string_view error) {
  connection_.reset();
  const bool was_connected = connected_;
  connected_ = false;
  caught_up_ = false;
  in_flight_ = 0;  // Answers to these can no longer come.

  if (!error.empty()) {
    ReportError(id_, error);
    ++(was_connected ? tally_->counters.unexpected_closes : tally_->counters.connect_failures);
  }
  progress_->ended.fetch_add(1, std::memory_order_relaxed);
  progress_->open.fetch_sub(1, std::memory_order_relaxed);
  observer_->OnEnded(*this, error);
}

// --- Helpers --------------------------------------------------------------------------------

std::string UserId(std::string_view run_tag, std::int64_t worker, std::uint32_t index) {
  return std::string(run_tag) + "-" + std::to_string(worker) + "-" + std::to_string(index);
}

}  // namespace parley::bench
