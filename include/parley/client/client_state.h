// Client state on disk: how far a client has processed its mailbox and what it still has to
// send, kept per server and user so that a crash or a restart neither repeats nor loses a
// message.
//
// clang-format off
//
//   <root>/<user>@<host>_<port>/
//     inbox                          seq N: every mailbox item up to N has been processed;
//                                    seen KEY: recently processed items (at most 1,024)
//     outbox/<stamp>-<client_msg_id> one file per send the server has not acknowledged yet
//     lock                           held (flock) by the one process that receives
//
// clang-format on
//
// Every file is replaced whole: written under a temporary name, fsynced, renamed over the old
// one, and its folder fsynced. A crash leaves either the old contents or the new, never a mix.
// The inbox does the two halves separately (StagedFile), so that the slow half is done before
// the items it records are shown, and only a rename is left for after.
//
// None of these classes is thread-safe; one thread owns them.

#ifndef PARLEY_CLIENT_CLIENT_STATE_H_
#define PARLEY_CLIENT_CLIENT_STATE_H_

#include <cstdint>
#include <deque>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "parley/client/chat_connection.h"
#include "parley/common/status.h"

namespace parley::client {

// $XDG_STATE_HOME/parley, or ~/.local/state/parley when that is unset.
std::filesystem::path DefaultStateRoot();

// The folder for `user` on the server at `server`, under `root`. Not created here.
std::filesystem::path StateFolder(const std::filesystem::path& root, const Endpoint& server,
                                  std::string_view user);

// Creates `folder` and its parents (mode 0700: the state holds message text).
Status MakeStateFolder(const std::filesystem::path& folder);

// The next contents of a file, written and synced under a temporary name in the same folder,
// but not yet in place. Destroying it unpublished removes the temporary.
class StagedFile {
 public:
  static Result<StagedFile> Write(std::filesystem::path path, std::string_view contents);

  StagedFile(StagedFile&& other) noexcept;
  StagedFile& operator=(StagedFile&&) = delete;
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;
  ~StagedFile();

  // Renames the temporary over the file (from then on a restarted process reads the new
  // contents), then syncs the folder (from then on so does a rebooted machine).
  Status Publish();

 private:
  StagedFile(std::filesystem::path path, std::filesystem::path temp)
      : path_(std::move(path)), temp_(std::move(temp)) {}

  std::filesystem::path path_;
  std::filesystem::path temp_;  // Empty once published or moved from.
};

// Replaces `path` with `contents` durably: StagedFile::Write(), then Publish().
Status WriteFileDurably(const std::filesystem::path& path, std::string_view contents);

// 16 random bytes from the system's entropy source, in lowercase hex.
std::string RandomMessageId();

// What has been processed: a cumulative seq and the keys of the last items processed, so that
// one redelivered under a different seq is still recognised. Keys are opaque to the inbox.
class Inbox {
 public:
  static constexpr std::size_t kSeenCapacity = 1024;

  explicit Inbox(std::filesystem::path file) : file_(std::move(file)) {}

  // Reads the file; a missing file is an empty inbox. Corruption if it cannot be parsed.
  Status Load();

  // Writes, under a temporary name, the state in which every item up to `seq` has been
  // processed, `keys` among them. Nothing changes, in memory or in place, until Publish().
  // REQUIRES: seq >= this->seq(), and nothing staged.
  Status Stage(std::uint64_t seq, const std::vector<std::string>& keys);

  // Puts the staged state in place, on disk and in memory. REQUIRES: Stage() succeeded.
  Status Publish();

  // Drops the staged state.
  void Discard() { staged_.reset(); }

  std::uint64_t seq() const { return seq_; }
  bool Seen(const std::string& key) const { return seen_.contains(key); }

 private:
  struct Staged {
    StagedFile file;
    std::uint64_t seq;
    std::vector<std::string> keys;
  };

  std::string Serialize(std::uint64_t seq, const std::vector<std::string>& more_keys) const;
  void Remember(const std::string& key);

  std::filesystem::path file_;
  std::optional<Staged> staged_;
  std::uint64_t seq_ = 0;
  std::deque<std::string> seen_order_;  // Oldest first; bounded by kSeenCapacity.
  std::unordered_set<std::string> seen_;
};

struct OutboxEntry {
  std::string client_msg_id;
  std::string to;
  std::string text;
  std::int64_t created_ms = 0;
};

// Sends the server has not acknowledged, oldest first. One file per entry, so that two
// processes of the same user (a chat and a one-off send) can add and remove entries at the
// same time without losing each other's.
class Outbox {
 public:
  explicit Outbox(std::filesystem::path folder) : folder_(std::move(folder)) {}

  // Reads every entry. Corruption if a file cannot be parsed.
  Status Load();

  // Makes an entry with a fresh random client_msg_id and writes it durably; the entry is on
  // disk when this returns, so it may be sent from then on.
  Result<OutboxEntry> Add(std::string to, std::string text, std::int64_t now_ms);

  // Forgets an entry (acknowledged, or refused for good). Removing one that is gone is fine.
  Status Remove(std::string_view client_msg_id);

  const std::deque<OutboxEntry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }
  const OutboxEntry* Find(std::string_view client_msg_id) const;

 private:
  std::filesystem::path folder_;
  std::deque<OutboxEntry> entries_;
  std::vector<std::string> file_names_;  // Parallel to entries_.
  std::int64_t last_stamp_ns_ = 0;
};

// An exclusive lock on a state folder, held while the object lives. Only one process may
// receive for a user at a time: two would write the same inbox.
class StateLock {
 public:
  // Fails with Unavailable when another process holds it.
  static Result<StateLock> Acquire(const std::filesystem::path& folder);

  StateLock(StateLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  StateLock& operator=(StateLock&&) = delete;
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;
  ~StateLock();

 private:
  explicit StateLock(int fd) : fd_(fd) {}

  int fd_;
};

}  // namespace parley::client

#endif  // PARLEY_CLIENT_CLIENT_STATE_H_
