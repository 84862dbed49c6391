#include "server/config_diff.h"

#include <algorithm>
#include <functional>
#include <string_view>

#include <fmt/format.h>

namespace parley::server {

namespace {

using config::Config;

constexpr std::string_view kSecret = "auth.secret";

// Every value of the config, as text, under its dotted key. Text is enough to tell a
// difference and keeps the table to one line per key.
struct Field {
  std::string_view key;
  std::function<std::string(const Config&)> read;
};

template <typename T>
std::string Text(const T& value) {
  return fmt::to_string(value);
}

const std::vector<Field>& Fields() {
  static const std::vector<Field> fields = {
      {"listen.address", [](const Config& c) { return Text(c.listen.address); }},
      {"listen.port", [](const Config& c) { return Text(c.listen.port); }},
      {"listen.tls.enabled", [](const Config& c) { return Text(c.listen.tls.enabled); }},
      {"listen.tls.cert_file", [](const Config& c) { return Text(c.listen.tls.cert_file); }},
      {"listen.tls.key_file", [](const Config& c) { return Text(c.listen.tls.key_file); }},
      {"admin.address", [](const Config& c) { return Text(c.admin.address); }},
      {"admin.port", [](const Config& c) { return Text(c.admin.port); }},
      {"auth.hmac_secret_file", [](const Config& c) { return Text(c.auth.hmac_secret_file); }},
      // The loaded secret, whichever key gave it; renamed by SecretKey below.
      {kSecret, [](const Config& c) { return Text(c.auth.secret); }},
      {"storage.path", [](const Config& c) { return Text(c.storage.path); }},
      {"storage.sync", [](const Config& c) { return Text(c.storage.sync); }},
      {"limits.connect_timeout_s",
       [](const Config& c) { return Text(c.limits.connect_timeout_s); }},
      {"limits.idle_timeout_s", [](const Config& c) { return Text(c.limits.idle_timeout_s); }},
      {"limits.write_timeout_s", [](const Config& c) { return Text(c.limits.write_timeout_s); }},
      {"limits.max_frame_bytes", [](const Config& c) { return Text(c.limits.max_frame_bytes); }},
      {"limits.send_rate_per_s", [](const Config& c) { return Text(c.limits.send_rate_per_s); }},
      {"limits.typing_rate_per_s",
       [](const Config& c) { return Text(c.limits.typing_rate_per_s); }},
      {"limits.frames_per_s", [](const Config& c) { return Text(c.limits.frames_per_s); }},
      {"limits.mailbox_max_items",
       [](const Config& c) { return Text(c.limits.mailbox_max_items); }},
      {"limits.max_connections", [](const Config& c) { return Text(c.limits.max_connections); }},
      {"limits.violations_before_close",
       [](const Config& c) { return Text(c.limits.violations_before_close); }},
      {"delivery.window", [](const Config& c) { return Text(c.delivery.window); }},
      {"retention.undelivered_days",
       [](const Config& c) { return Text(c.retention.undelivered_days); }},
      {"retention.dedup_days", [](const Config& c) { return Text(c.retention.dedup_days); }},
      {"log.level", [](const Config& c) { return Text(c.log.level); }},
      {"log.file", [](const Config& c) { return Text(c.log.file); }},
      {"log.max_size_mb", [](const Config& c) { return Text(c.log.max_size_mb); }},
      {"log.max_files", [](const Config& c) { return Text(c.log.max_files); }},
      {"server.threads", [](const Config& c) { return Text(c.server.threads); }},
  };
  return fields;
}

// The secret is compared by its loaded value, which covers both ways of giving it, but is
// named after the key the new file uses: that is where the operator will look.
std::string SecretKey(const Config& after) {
  return after.auth.hmac_secret.empty() ? "auth.hmac_secret_file" : "auth.hmac_secret";
}

}  // namespace

std::vector<std::string> ChangedKeys(const Config& before, const Config& after) {
  std::vector<std::string> changed;
  for (const Field& field : Fields()) {
    if (field.read(before) == field.read(after)) continue;

    std::string key(field.key == kSecret ? SecretKey(after) : field.key);
    // A new secret file path is already listed; its new content needs no second line.
    if (std::find(changed.begin(), changed.end(), key) == changed.end()) {
      changed.push_back(std::move(key));
    }
  }
  return changed;
}

}  // namespace parley::server
