#include "parley/config/config.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "parley/common/status.h"

namespace parley::config {

namespace {

namespace fs = std::filesystem;

using KeyList = std::span<const std::string_view>;

// The keys each map of the file may hold; anything else is an error.
constexpr std::string_view kSections[] = {"listen",   "admin",     "auth", "storage", "limits",
                                          "delivery", "retention", "log",  "server"};
constexpr std::string_view kListenKeys[] = {"address", "port", "tls"};
constexpr std::string_view kTlsKeys[] = {"enabled", "cert_file", "key_file"};
constexpr std::string_view kAdminKeys[] = {"address", "port"};
constexpr std::string_view kAuthKeys[] = {"hmac_secret", "hmac_secret_file"};
constexpr std::string_view kStorageKeys[] = {"path", "sync"};
constexpr std::string_view kLimitsKeys[] = {
    "connect_timeout_s", "idle_timeout_s",         "write_timeout_s", "max_frame_bytes",
    "send_rate_per_s",   "typing_rate_per_s",      "frames_per_s",    "mailbox_max_items",
    "max_connections",   "violations_before_close"};
constexpr std::string_view kDeliveryKeys[] = {"window"};
constexpr std::string_view kRetentionKeys[] = {"undelivered_days", "dedup_days"};
constexpr std::string_view kLogKeys[] = {"level", "file", "max_size_mb", "max_files"};
constexpr std::string_view kServerKeys[] = {"threads"};

constexpr std::string_view kLogLevels[] = {"trace", "debug",    "info", "warn",
                                           "error", "critical", "off"};

// HS256 is HMAC-SHA-256; RFC 7518 section 3.2 asks for a key at least as long as the hash.
constexpr std::size_t kMinSecretBytes = 32;

// Levenshtein distance, for did-you-mean suggestions on misspelt keys.
std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;

  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const std::size_t replace = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, replace});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The known key closest to `key`, or "" when none is close enough to be a likely typo. Two
// edits catch a swapped pair of letters; a third of the length allows more in long names.
std::string_view ClosestKey(std::string_view key, KeyList known) {
  const std::size_t allowed = std::max<std::size_t>(2, key.size() / 3);
  std::string_view best;
  std::size_t best_distance = allowed + 1;
  for (std::string_view candidate : known) {
    const std::size_t distance = EditDistance(key, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string JoinKeys(KeyList keys) {
  std::string joined;
  for (std::string_view key : keys) {
    if (!joined.empty()) joined += ", ";
    joined += key;
  }
  return joined;
}

// What a node holds, in words, for "expected X, got Y" messages. Scalars are not quoted back:
// the value could be a secret typed under the wrong key.
std::string Describe(const YAML::Node& node) {
  if (node.IsMap()) return "a map";
  if (node.IsSequence()) return "a list";
  if (node.IsNull()) return "nothing";
  if (node.Tag() == "!") return "a quoted string";
  return "text";
}

std::string LineSuffix(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return "";
  return " (line " + std::to_string(mark.line + 1) + ")";
}

Result<std::string> ReadWholeFile(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (file == nullptr) return Status::IOError(std::strerror(errno));

  std::string contents;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) contents.append(buffer, n);
  if (std::ferror(file.get())) return Status::IOError(std::strerror(errno));  // e.g. a folder.
  return contents;
}

std::string TrimTrailingWhitespace(std::string text) {
  const std::size_t end = text.find_last_not_of(" \t\r\n");
  text.erase(end == std::string::npos ? 0 : end + 1);
  return text;
}

// Where the text came from and where its relative paths start.
struct Origin {
  std::string source;  // File name for messages, or "<config>".
  fs::path base_dir;
};

// One map of the file (the top level or a section), read key by key. Construction rejects
// unknown and repeated keys; every error names the file and the full dotted key.
class Section {
 public:
  Section(const Origin* origin, std::string prefix, const YAML::Node& node, KeyList known);

  bool Has(std::string_view key) const { return entries_.contains(key); }

  // The nested section under `key`; an absent or empty one reads as all defaults.
  Section Child(std::string_view key, KeyList known) const;

  std::int64_t Integer(std::string_view key, std::int64_t min, std::int64_t max,
                       std::int64_t fallback) const;
  bool Bool(std::string_view key, bool fallback) const;
  std::string String(std::string_view key, std::string fallback) const;
  std::string OneOf(std::string_view key, KeyList choices, std::string fallback) const;

  // A file or folder name, resolved against the config's folder unless absolute.
  std::string Path(std::string_view key, const std::string& fallback) const;

  [[noreturn]] void Fail(std::string_view key, const std::string& problem) const;

 private:
  struct Entry {
    YAML::Node key;
    YAML::Node value;
  };

  std::string Dotted(std::string_view key) const;
  const Entry* Find(std::string_view key) const;
  [[noreturn]] void FailAt(const Entry& entry, const std::string& problem) const;
  void CheckKey(const YAML::Node& key, KeyList known);

  const Origin* origin_;
  std::string prefix_;  // "" at the top level, else the dotted name of this section.
  std::map<std::string, Entry, std::less<>> entries_;
};

Section::Section(const Origin* origin, std::string prefix, const YAML::Node& node, KeyList known)
    : origin_(origin), prefix_(std::move(prefix)) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsMap()) {
    Fail("", "expected a map of settings, got " + Describe(node) + LineSuffix(node));
  }

  for (const auto& pair : node) {
    CheckKey(pair.first, known);
    entries_.emplace(pair.first.Scalar(), Entry{pair.first, pair.second});
  }
}

void Section::CheckKey(const YAML::Node& key, KeyList known) {
  if (!key.IsScalar()) {
    Fail("", "keys must be plain names, got " + Describe(key) + LineSuffix(key));
  }

  const std::string& name = key.Scalar();
  if (entries_.contains(name)) Fail(name, "given more than once" + LineSuffix(key));
  if (std::find(known.begin(), known.end(), name) != known.end()) return;

  // A misspelt key would otherwise be ignored silently and its default used instead.
  const std::string_view closest = ClosestKey(name, known);
  if (!closest.empty()) {
    Fail(name, "unknown key" + LineSuffix(key) + "; did you mean '" + Dotted(closest) + "'?");
  }
  const std::string where = prefix_.empty() ? "at the top level" : "in " + prefix_;
  Fail(name, "unknown key" + LineSuffix(key) + "; known keys " + where + ": " + JoinKeys(known));
}

Section Section::Child(std::string_view key, KeyList known) const {
  const Entry* entry = Find(key);
  if (entry == nullptr) return Section(origin_, Dotted(key), YAML::Node(), known);
  return Section(origin_, Dotted(key), entry->value, known);
}

std::int64_t Section::Integer(std::string_view key, std::int64_t min, std::int64_t max,
                              std::int64_t fallback) const {
  const Entry* entry = Find(key);
  if (entry == nullptr) return fallback;

  const std::string range = std::to_string(min) + ".." + std::to_string(max);
  const YAML::Node& value = entry->value;
  // A quoted "8080" is refused too: the file says it is text, and YAML tools will keep it so.
  if (!value.IsScalar() || value.Tag() == "!") {
    FailAt(*entry, "expected an integer in " + range + ", got " + Describe(value));
  }

  // Plain decimal only ([-+]?[0-9]+, YAML 1.2's core schema); hex or 1_000 are refused.
  std::string_view text = value.Scalar();
  if (text.starts_with('+')) text.remove_prefix(1);
  std::int64_t number = 0;
  const char* last = text.data() + text.size();
  const auto [end, error] = std::from_chars(text.data(), last, number);
  if (error == std::errc::result_out_of_range) FailAt(*entry, "must be in " + range);
  if (error != std::errc() || end != last || value.Scalar().starts_with("+-")) {
    FailAt(*entry, "expected an integer in " + range + ", got " + Describe(value));
  }

  if (number < min || number > max) {
    FailAt(*entry, "must be in " + range + ", got " + std::to_string(number));
  }
  return number;
}

bool Section::Bool(std::string_view key, bool fallback) const {
  const Entry* entry = Find(key);
  if (entry == nullptr) return fallback;

  // YAML 1.2's core schema; the 1.1 forms (yes, on, y) surprise people, so they are refused.
  const YAML::Node& value = entry->value;
  if (value.IsScalar() && value.Tag() != "!") {
    const std::string& text = value.Scalar();
    if (text == "true" || text == "True" || text == "TRUE") return true;
    if (text == "false" || text == "False" || text == "FALSE") return false;
  }
  FailAt(*entry, "expected true or false, got " + Describe(value));
}

std::string Section::String(std::string_view key, std::string fallback) const {
  const Entry* entry = Find(key);
  if (entry == nullptr) return fallback;

  if (!entry->value.IsScalar()) FailAt(*entry, "expected text, got " + Describe(entry->value));
  return entry->value.Scalar();
}

std::string Section::OneOf(std::string_view key, KeyList choices, std::string fallback) const {
  const Entry* entry = Find(key);
  if (entry == nullptr) return fallback;

  const std::string text = String(key, fallback);
  if (std::find(choices.begin(), choices.end(), text) != choices.end()) return text;
  // These values are names from a fixed list, never secrets, so quoting them back is safe.
  FailAt(*entry, "must be one of " + JoinKeys(choices) + ", got '" + text + "'");
}

std::string Section::Path(std::string_view key, const std::string& fallback) const {
  const fs::path path = String(key, fallback);
  if (path.empty()) return "";
  if (path.is_absolute()) return path.lexically_normal().string();
  return (origin_->base_dir / path).lexically_normal().string();
}

void Section::Fail(std::string_view key, const std::string& problem) const {
  const std::string dotted = Dotted(key);
  if (dotted.empty()) throw ConfigError(origin_->source + ": " + problem);
  throw ConfigError(origin_->source + ": " + dotted + ": " + problem);
}

std::string Section::Dotted(std::string_view key) const {
  if (prefix_.empty()) return std::string(key);
  if (key.empty()) return prefix_;
  return prefix_ + "." + std::string(key);
}

const Section::Entry* Section::Find(std::string_view key) const {
  const auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

void Section::FailAt(const Entry& entry, const std::string& problem) const {
  Fail(entry.key.Scalar(), problem + LineSuffix(entry.key));
}

// Checks that `path`, given under `key`, names a file the daemon will be able to read.
void RequireReadableFile(const Section& section, std::string_view key, const std::string& path) {
  const Result<std::string> contents = ReadWholeFile(path);
  if (!contents.ok()) {
    section.Fail(key, "cannot read '" + path + "': " + contents.status().message());
  }
}

ListenConfig ParseListen(const Section& root) {
  const Section section = root.Child("listen", kListenKeys);
  ListenConfig listen;
  listen.address = section.String("address", listen.address);
  if (listen.address.empty()) section.Fail("address", "must not be empty");
  listen.port = static_cast<std::uint16_t>(section.Integer("port", 0, 65535, listen.port));

  const Section tls = section.Child("tls", kTlsKeys);
  listen.tls.enabled = tls.Bool("enabled", listen.tls.enabled);
  listen.tls.cert_file = tls.Path("cert_file", listen.tls.cert_file);
  listen.tls.key_file = tls.Path("key_file", listen.tls.key_file);

  // Checked here rather than at startup so that --check-config catches a missing certificate.
  if (listen.tls.enabled) {
    if (listen.tls.cert_file.empty()) tls.Fail("cert_file", "required when tls is enabled");
    if (listen.tls.key_file.empty()) tls.Fail("key_file", "required when tls is enabled");
    RequireReadableFile(tls, "cert_file", listen.tls.cert_file);
    RequireReadableFile(tls, "key_file", listen.tls.key_file);
  }
  return listen;
}

AdminConfig ParseAdmin(const Section& root) {
  const Section section = root.Child("admin", kAdminKeys);
  AdminConfig admin;
  admin.address = section.String("address", admin.address);
  if (admin.address.empty()) section.Fail("address", "must not be empty");
  admin.port = static_cast<std::uint16_t>(section.Integer("port", 0, 65535, admin.port));
  return admin;
}

// Loads the secret from exactly one of the two keys. Messages give its length at most.
AuthConfig ParseAuth(const Section& root) {
  const Section section = root.Child("auth", kAuthKeys);
  AuthConfig auth;
  const bool inline_secret = section.Has("hmac_secret");
  const bool secret_file = section.Has("hmac_secret_file");
  if (!inline_secret && !secret_file) {
    section.Fail("hmac_secret", "required (or auth.hmac_secret_file): tokens cannot be checked");
  }
  if (inline_secret && secret_file) {
    section.Fail("hmac_secret", "set either this or auth.hmac_secret_file, not both");
  }

  std::string_view key = "hmac_secret";
  if (inline_secret) {
    auth.hmac_secret = section.String("hmac_secret", "");
    auth.secret = auth.hmac_secret;
  } else {
    key = "hmac_secret_file";
    auth.hmac_secret_file = section.Path("hmac_secret_file", "");
    if (auth.hmac_secret_file.empty()) section.Fail(key, "must not be empty");
    Result<std::string> contents = ReadWholeFile(auth.hmac_secret_file);
    if (!contents.ok()) {
      section.Fail(key,
                   "cannot read '" + auth.hmac_secret_file + "': " + contents.status().message());
    }
    // Editors and `echo` add a newline that is not meant to be part of the key.
    auth.secret = TrimTrailingWhitespace(std::move(contents).value());
  }

  if (auth.secret.size() < kMinSecretBytes) {
    section.Fail(key, "the secret must be at least " + std::to_string(kMinSecretBytes) +
                          " bytes for HS256, got " + std::to_string(auth.secret.size()));
  }
  return auth;
}

StorageConfig ParseStorage(const Section& root) {
  const Section section = root.Child("storage", kStorageKeys);
  StorageConfig storage;
  // The default is resolved like a value from the file: the data sits next to the config.
  storage.path = section.Path("path", storage.path);
  if (storage.path.empty()) section.Fail("path", "must not be empty");
  storage.sync = section.Bool("sync", storage.sync);
  return storage;
}

// Every field below fits in 32 bits once its range is checked, so the narrowing is safe.
std::uint32_t U32(const Section& section, std::string_view key, std::int64_t min, std::int64_t max,
                  std::uint32_t fallback) {
  return static_cast<std::uint32_t>(section.Integer(key, min, max, fallback));
}

LimitsConfig ParseLimits(const Section& root) {
  const Section section = root.Child("limits", kLimitsKeys);
  LimitsConfig limits;
  limits.connect_timeout_s = U32(section, "connect_timeout_s", 1, 300, limits.connect_timeout_s);
  limits.idle_timeout_s = U32(section, "idle_timeout_s", 5, 3600, limits.idle_timeout_s);
  limits.write_timeout_s = U32(section, "write_timeout_s", 1, 3600, limits.write_timeout_s);
  limits.max_frame_bytes = U32(section, "max_frame_bytes", 1024, 16777216, limits.max_frame_bytes);
  limits.send_rate_per_s = U32(section, "send_rate_per_s", 1, 10000, limits.send_rate_per_s);
  limits.typing_rate_per_s = U32(section, "typing_rate_per_s", 1, 1000, limits.typing_rate_per_s);
  limits.frames_per_s = U32(section, "frames_per_s", 1, 100000, limits.frames_per_s);
  limits.mailbox_max_items = static_cast<std::uint64_t>(section.Integer(
      "mailbox_max_items", 1, 100000000, static_cast<std::int64_t>(limits.mailbox_max_items)));
  limits.max_connections = U32(section, "max_connections", 1, 10000000, limits.max_connections);
  limits.violations_before_close =
      U32(section, "violations_before_close", 1, 100000, limits.violations_before_close);
  return limits;
}

DeliveryConfig ParseDelivery(const Section& root) {
  const Section section = root.Child("delivery", kDeliveryKeys);
  DeliveryConfig delivery;
  // Below 16 a session stalls on every round trip; above 65536 one slow client pins too much.
  delivery.window = U32(section, "window", 16, 65536, delivery.window);
  return delivery;
}

RetentionConfig ParseRetention(const Section& root) {
  const Section section = root.Child("retention", kRetentionKeys);
  RetentionConfig retention;
  retention.undelivered_days =
      U32(section, "undelivered_days", 1, 3650, retention.undelivered_days);
  retention.dedup_days = U32(section, "dedup_days", 1, 3650, retention.dedup_days);
  return retention;
}

Config ParseRoot(const Section& root) {
  Config config;
  config.listen = ParseListen(root);
  config.admin = ParseAdmin(root);
  config.auth = ParseAuth(root);
  config.storage = ParseStorage(root);
  config.limits = ParseLimits(root);
  config.delivery = ParseDelivery(root);
  config.retention = ParseRetention(root);

  const Section log = root.Child("log", kLogKeys);
  config.log.level = log.OneOf("level", kLogLevels, config.log.level);
  config.log.file = log.Path("file", config.log.file);
  config.log.max_size_mb = U32(log, "max_size_mb", 1, 100000, config.log.max_size_mb);
  config.log.max_files = U32(log, "max_files", 1, 1000, config.log.max_files);

  const Section server = root.Child("server", kServerKeys);
  config.server.threads = U32(server, "threads", 0, 1024, config.server.threads);
  return config;
}

Config ParseText(const std::string& yaml_text, const Origin& origin) {
  YAML::Node document;
  try {
    document = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    std::string where;
    if (!e.mark.is_null()) where = "line " + std::to_string(e.mark.line + 1) + ": ";
    throw ConfigError(origin.source + ": " + where + "YAML syntax error: " + e.msg);
  }

  const Section root(&origin, "", document, kSections);
  return ParseRoot(root);
}

}  // namespace

Config LoadConfig(const std::string& path) {
  const Result<std::string> text = ReadWholeFile(path);
  if (!text.ok()) throw ConfigError(path + ": cannot read: " + text.status().message());

  const Origin origin{path, fs::path(path).parent_path()};
  return ParseText(text.value(), origin);
}

Config ParseConfig(const std::string& yaml_text, const std::string& base_dir) {
  const Origin origin{"<config>", fs::path(base_dir)};
  return ParseText(yaml_text, origin);
}

}  // namespace parley::config
