#include "parley/client/client_state.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace parley::client {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kInboxHeader = "parley-inbox 1";
constexpr std::string_view kOutboxHeader = "parley-outbox 1";

Status ErrnoError(std::string_view what, const fs::path& path) {
  return Status::IOError(std::string(what) + " " + path.string() + ": " + std::strerror(errno));
}

// Values are written one per line after their key, so bytes that would end or split a line
// (controls, space) and the escape character itself become %XX. Message text is valid UTF-8,
// whose multi-byte sequences stay as they are.
std::string Escape(std::string_view raw) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(raw.size());
  for (const char c : raw) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == '%' || byte == 0x7F) {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> Unescape(std::string_view escaped) {
  std::string out;
  out.reserve(escaped.size());
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] != '%') {
      out += escaped[i];
      continue;
    }
    unsigned value = 0;
    if (i + 2 >= escaped.size()) return std::nullopt;
    const auto* begin = escaped.data() + i + 1;
    const auto [end, error] = std::from_chars(begin, begin + 2, value, 16);
    if (error != std::errc() || end != begin + 2) return std::nullopt;
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

// Splits "key value" lines; the value is everything after the first space.
std::vector<std::pair<std::string, std::string>> ReadRecord(const std::string& contents) {
  std::vector<std::pair<std::string, std::string>> fields;
  std::istringstream lines(contents);
  std::string line;
  while (std::getline(lines, line)) {
    const auto space = line.find(' ');
    if (space == std::string::npos) {
      fields.emplace_back(line, "");
    } else {
      fields.emplace_back(line.substr(0, space), line.substr(space + 1));
    }
  }
  return fields;
}

// NotFound when the file does not exist (so callers can tell a race from a failure).
Result<std::string> ReadFile(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return Status::NotFound(path.string() + " does not exist");
  if (fd < 0) return ErrnoError("cannot open", path);

  std::string contents;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, buffer, sizeof buffer)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status status = ErrnoError("cannot read", path);
      ::close(fd);
      return status;
    }
    contents.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return contents;
}

bool ParseUint64(std::string_view text, std::uint64_t* value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size();
}

bool ParseInt64(std::string_view text, std::int64_t* value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size();
}

Status SyncFolder(const fs::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", folder);
  const int result = ::fsync(fd);
  ::close(fd);
  if (result != 0) return ErrnoError("cannot sync", folder);
  return Status::Ok();
}

Status WriteAll(int fd, std::string_view contents, const fs::path& path) {
  while (!contents.empty()) {
    const ssize_t written = ::write(fd, contents.data(), contents.size());
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) return ErrnoError("cannot write", path);
    contents.remove_prefix(static_cast<std::size_t>(written));
  }
  return Status::Ok();
}

}  // namespace

fs::path DefaultStateRoot() {
  if (const char* state = std::getenv("XDG_STATE_HOME"); state != nullptr && state[0] == '/') {
    return fs::path(state) / "parley";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && home[0] != '\0') {
    return fs::path(home) / ".local" / "state" / "parley";
  }
  return fs::path(".parley-state");
}

fs::path StateFolder(const fs::path& root, const Endpoint& server, std::string_view user) {
  // User ids are already safe in a file name; a host could hold anything a URL allows.
  std::string name = std::string(user) + "@" + server.host + "_" + server.port;
  for (char& c : name) {
    const bool safe = std::isalnum(static_cast<unsigned char>(c)) ||
                      std::string_view("._+-@:").find(c) != std::string_view::npos;
    if (!safe) c = '_';
  }
  return root / name;
}

Status MakeStateFolder(const fs::path& folder) {
  std::error_code error;
  fs::create_directories(folder, error);
  if (error) return Status::IOError("cannot create " + folder.string() + ": " + error.message());
  fs::permissions(folder, fs::perms::owner_all, fs::perm_options::replace, error);
  if (error) return Status::IOError("cannot protect " + folder.string() + ": " + error.message());
  return Status::Ok();
}

Result<StagedFile> StagedFile::Write(fs::path path, std::string_view contents) {
  // The pid keeps two processes replacing the same file from sharing a temporary; the dot
  // keeps Outbox::Load() from taking an unfinished one for an entry.
  fs::path temp = path.parent_path() /
                  ("." + path.filename().string() + "." + std::to_string(::getpid()) + ".tmp");
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("cannot create", temp);

  Status status = WriteAll(fd, contents, temp);
  if (status.ok() && ::fsync(fd) != 0) status = ErrnoError("cannot sync", temp);
  if (::close(fd) != 0 && status.ok()) status = ErrnoError("cannot close", temp);
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  return StagedFile(std::move(path), std::move(temp));
}

StagedFile::StagedFile(StagedFile&& other) noexcept
    : path_(std::move(other.path_)), temp_(std::move(other.temp_)) {
  other.temp_.clear();
}

StagedFile::~StagedFile() {
  if (!temp_.empty()) ::unlink(temp_.c_str());
}

Status StagedFile::Publish() {
  if (::rename(temp_.c_str(), path_.c_str()) != 0) return ErrnoError("cannot rename to", path_);
  temp_.clear();

  // The rename itself is only durable once the folder's entry is on disk.
  return SyncFolder(path_.parent_path());
}

Status WriteFileDurably(const fs::path& path, std::string_view contents) {
  auto staged = StagedFile::Write(path, contents);
  if (!staged.ok()) return staged.status();
  return staged->Publish();
}

std::string RandomMessageId() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::random_device random;
  std::string id;
  for (int word = 0; word < 4; ++word) {
    std::uint32_t bits = random();
    for (int nibble = 0; nibble < 8; ++nibble) {
      id += kHex[bits & 0xF];
      bits >>= 4;
    }
  }
  return id;
}

// --- Inbox ------------------------------------------------------------------------------------

Status Inbox::Load() {
  auto contents = ReadFile(file_);
  if (contents.status().IsNotFound()) return Status::Ok();
  if (!contents.ok()) return contents.status();

  const auto fields = ReadRecord(*contents);
  if (fields.empty() || fields[0].first + " " + fields[0].second != kInboxHeader) {
    return Status::Corruption(file_.string() + " is not a parley inbox");
  }
  for (const auto& [key, value] : fields) {
    if (key == "seq" && !ParseUint64(value, &seq_)) {
      return Status::Corruption(file_.string() + ": bad seq");
    }
    if (key == "seen") {
      auto seen = Unescape(value);
      if (!seen) return Status::Corruption(file_.string() + ": bad key");
      Remember(*seen);
    }
  }
  return Status::Ok();
}

Status Inbox::Stage(std::uint64_t seq, const std::vector<std::string>& keys) {
  auto file = StagedFile::Write(file_, Serialize(seq, keys));
  if (!file.ok()) return file.status();
  staged_.emplace(Staged{std::move(file).value(), seq, keys});
  return Status::Ok();
}

Status Inbox::Publish() {
  Staged staged = std::move(*staged_);
  staged_.reset();
  if (Status status = staged.file.Publish(); !status.ok()) return status;

  seq_ = staged.seq;
  for (const std::string& key : staged.keys) Remember(key);
  return Status::Ok();
}

std::string Inbox::Serialize(std::uint64_t seq, const std::vector<std::string>& more_keys) const {
  // The keys that Remember() would keep after adding `more_keys`: the newest kSeenCapacity.
  std::vector<const std::string*> keys;
  for (const std::string& key : seen_order_) keys.push_back(&key);
  for (const std::string& key : more_keys) {
    if (!seen_.contains(key)) keys.push_back(&key);
  }
  const std::size_t skip = keys.size() > kSeenCapacity ? keys.size() - kSeenCapacity : 0;

  std::string out(kInboxHeader);
  out += "\nseq " + std::to_string(seq) + "\n";
  for (std::size_t i = skip; i < keys.size(); ++i) out += "seen " + Escape(*keys[i]) + "\n";
  return out;
}

void Inbox::Remember(const std::string& key) {
  if (!seen_.insert(key).second) return;
  seen_order_.push_back(key);
  if (seen_order_.size() > kSeenCapacity) {
    seen_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
}

// --- Outbox -----------------------------------------------------------------------------------

Status Outbox::Load() {
  entries_.clear();
  file_names_.clear();
  std::error_code error;
  if (!fs::exists(folder_, error)) return Status::Ok();

  // Names start with a fixed-width stamp, so name order is the order of Add().
  std::vector<std::string> names;
  for (const auto& file : fs::directory_iterator(folder_, error)) {
    const std::string name = file.path().filename().string();
    if (!name.starts_with('.')) names.push_back(name);  // Dot files are unfinished writes.
  }
  if (error) return Status::IOError("cannot list " + folder_.string() + ": " + error.message());
  std::sort(names.begin(), names.end());

  for (const std::string& name : names) {
    auto contents = ReadFile(folder_ / name);
    if (contents.status().IsNotFound()) continue;  // Acknowledged by another process meanwhile.
    if (!contents.ok()) return contents.status();
    const auto fields = ReadRecord(*contents);
    if (fields.empty() || fields[0].first + " " + fields[0].second != kOutboxHeader) {
      return Status::Corruption((folder_ / name).string() + " is not a parley outbox entry");
    }

    OutboxEntry entry;
    for (const auto& [key, value] : fields) {
      const auto unescaped = Unescape(value);
      if (!unescaped) return Status::Corruption((folder_ / name).string() + ": bad " + key);
      if (key == "id") entry.client_msg_id = *unescaped;
      if (key == "to") entry.to = *unescaped;
      if (key == "text") entry.text = *unescaped;
      if (key == "created_ms" && !ParseInt64(*unescaped, &entry.created_ms)) {
        return Status::Corruption((folder_ / name).string() + ": bad created_ms");
      }
    }
    if (entry.client_msg_id.empty() || entry.to.empty()) {
      return Status::Corruption((folder_ / name).string() + ": incomplete entry");
    }
    entries_.push_back(std::move(entry));
    file_names_.push_back(name);
  }
  return Status::Ok();
}

Result<OutboxEntry> Outbox::Add(std::string to, std::string text, std::int64_t now_ms) {
  if (Status status = MakeStateFolder(folder_); !status.ok()) return status;

  OutboxEntry entry{RandomMessageId(), std::move(to), std::move(text), now_ms};
  const std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  last_stamp_ns_ = std::max(now_ns, last_stamp_ns_ + 1);
  char stamp[24];
  std::snprintf(stamp, sizeof stamp, "%020lld", static_cast<long long>(last_stamp_ns_));
  const std::string name = std::string(stamp) + "-" + entry.client_msg_id;

  std::string contents(kOutboxHeader);
  contents += "\nid " + Escape(entry.client_msg_id) + "\nto " + Escape(entry.to) + "\ncreated_ms " +
              std::to_string(entry.created_ms) + "\ntext " + Escape(entry.text) + "\n";
  if (Status status = WriteFileDurably(folder_ / name, contents); !status.ok()) return status;

  entries_.push_back(entry);
  file_names_.push_back(name);
  return entry;
}

Status Outbox::Remove(std::string_view client_msg_id) {
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].client_msg_id != client_msg_id) continue;

    // Not synced: should the removal be lost in a crash, the entry is sent again and the
    // server answers it as a duplicate, which removes it once more.
    const fs::path file = folder_ / file_names_[i];
    if (::unlink(file.c_str()) != 0 && errno != ENOENT) return ErrnoError("cannot remove", file);
    entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
    file_names_.erase(file_names_.begin() + static_cast<std::ptrdiff_t>(i));
    return Status::Ok();
  }
  return Status::Ok();
}

const OutboxEntry* Outbox::Find(std::string_view client_msg_id) const {
  for (const OutboxEntry& entry : entries_) {
    if (entry.client_msg_id == client_msg_id) return &entry;
  }
  return nullptr;
}

// --- StateLock --------------------------------------------------------------------------------

Result<StateLock> StateLock::Acquire(const fs::path& folder) {
  const fs::path file = folder / "lock";
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("cannot open", file);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd);
    if (error == EWOULDBLOCK) {
      return Status::Unavailable("another parley process is receiving with " + folder.string());
    }
    errno = error;
    return ErrnoError("cannot lock", file);
  }
  return StateLock(fd);
}

StateLock::~StateLock() {
  if (fd_ >= 0) ::close(fd_);  // Closing releases the lock.
}

}  // namespace parley::client
