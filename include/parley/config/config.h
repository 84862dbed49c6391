// Config: everything an operator can set in parleyd's YAML file.
//
// Each struct mirrors one section of the file; every member carries its default. The file's
// keys are the member names (`limits.send_rate_per_s`). Relative paths in the file are taken
// relative to the folder of the file itself, so a config works whatever the working folder.
// Ranges are inclusive and checked by LoadConfig; docs/configuration.md is the operator's view.

#ifndef PARLEY_CONFIG_CONFIG_H_
#define PARLEY_CONFIG_CONFIG_H_

#include <cstdint>
#include <stdexcept>
#include <string>

namespace parley::config {

struct TlsConfig {
  bool enabled = false;   // Serve wss:// instead of ws:// on the client listener.
  std::string cert_file;  // PEM certificate chain. Required when enabled.
  std::string key_file;   // PEM private key. Required when enabled.
};

struct ListenConfig {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;  // 0..65535; 0 picks a free port (tests).
  TlsConfig tls;
};

struct AdminConfig {
  std::string address = "127.0.0.1";  // Loopback: metrics are not for the internet.
  std::uint16_t port = 9090;          // 0..65535; 0 picks a free port (tests).
};

struct AuthConfig {
  std::string hmac_secret;       // HS256 secret for client tokens; or:
  std::string hmac_secret_file;  // a file whose content (trailing newline trimmed) is it.
  // Exactly one of the two must be set; the loaded secret, at least 32 bytes, ends up here.
  std::string secret;
};

struct StorageConfig {
  std::string path = "data";  // RocksDB folder.
  bool sync = true;           // Sync the WAL before acknowledging; false only for benchmarks.
};

struct LimitsConfig {
  // Ranges: connect_timeout_s 1..300, idle_timeout_s 5..3600, write_timeout_s 1..3600,
  // max_frame_bytes 1024..16777216, send_rate_per_s 1..10000, typing_rate_per_s 1..1000,
  // frames_per_s 1..100000, mailbox_max_items 1..100000000, max_connections 1..10000000,
  // violations_before_close 1..100000.
  std::uint32_t connect_timeout_s = 10;   // Upgrade plus `connect` must finish within this.
  std::uint32_t idle_timeout_s = 60;      // Silent connections (no frame, no pong) close then.
  std::uint32_t write_timeout_s = 30;     // A client that takes no data this long is dropped.
  std::uint32_t max_frame_bytes = 65536;  // Larger frames close the connection with 1009.
  std::uint32_t send_rate_per_s = 20;     // Sustained sends per user; bursts up to twice it.
  std::uint32_t typing_rate_per_s = 5;    // Typing events per user; excess dropped silently.
  // Frames of any kind but `ack` per connection; bursts up to twice it. Beyond: RATE_LIMITED.
  std::uint32_t frames_per_s = 100;
  std::uint64_t mailbox_max_items = 100000;  // A send beyond this answers MAILBOX_FULL.
  std::uint32_t max_connections = 1000000;   // Upgrades beyond this get HTTP 503.
  // Rejections (rate limit, undecodable frames) tolerated in a row before closing with 4003.
  std::uint32_t violations_before_close = 50;
};

struct DeliveryConfig {
  std::uint32_t window = 256;  // Unacknowledged items in flight per session; 16..65536.
};

struct RetentionConfig {
  // Both 1..3650 days.
  std::uint32_t undelivered_days = 365;  // Mailbox items expire this long after sent_at_ms.
  std::uint32_t dedup_days = 30;         // A resend within this window is stored once.
};

struct LogConfig {
  std::string level = "info";       // trace, debug, info, warn, error, critical, off.
  std::string file;                 // Empty: stderr (journald). Otherwise a rotating log file.
  std::uint32_t max_size_mb = 100;  // 1..100000: size at which the log file rotates.
  std::uint32_t max_files = 5;      // 1..1000: rotated files kept.
};

struct ServerConfig {
  std::uint32_t threads = 0;  // Network threads, 0..1024; 0 means one per core.
};

struct Config {
  ListenConfig listen;
  AdminConfig admin;
  AuthConfig auth;
  StorageConfig storage;
  LimitsConfig limits;
  DeliveryConfig delivery;
  RetentionConfig retention;
  LogConfig log;
  ServerConfig server;
};

// Thrown by LoadConfig and ParseConfig. what() reads `<file>: <dotted.key>: <problem>` (the
// file is `<config>` for ParseConfig); it never contains the HMAC secret.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads, validates and resolves a config file: unknown keys, wrong types and values out of
// range are errors naming the key (with a did-you-mean for a misspelt key); relative paths
// are resolved against the file's folder; the HMAC secret is loaded. Throws ConfigError.
Config LoadConfig(const std::string& path);

// The same for YAML text; `base_dir` resolves relative paths. Throws ConfigError.
Config ParseConfig(const std::string& yaml_text, const std::string& base_dir);

}  // namespace parley::config

#endif  // PARLEY_CONFIG_CONFIG_H_
