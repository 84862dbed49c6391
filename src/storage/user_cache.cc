#include "user_cache.h"

#include <utility>

#include <rocksdb/options.h>

#include "keys.h"

namespace parley::storage {

Result<UserState*> UserCache::Get(const std::string& user) {
  auto found = states_.find(user);
  if (found != states_.end()) return &found->second;

  Result<UserState> loaded = Load(user);
  if (!loaded.ok()) return loaded.status();
  auto inserted = states_.emplace(user, std::move(loaded).value()).first;
  return &inserted->second;
}

Result<UserState> UserCache::Load(const std::string& user) const {
  std::string value;
  const rocksdb::Status read =
      database_->db()->Get(rocksdb::ReadOptions(), database_->users(), UserKey(user), &value);
  UserState state;
  if (read.IsNotFound()) return state;
  if (!read.ok()) return FromRocks(read, "read user record");

  std::int64_t expiry_ms = 0;
  if (!DecodeValue(value, &expiry_ms, &state.record)) {
    return Status::Corruption("unparsable user record for " + user);
  }
  // Users do not expire today (stamp 0); honour a stamp anyway so the rule is uniform.
  if (IsExpired(expiry_ms, clock_->NowMs())) return UserState();

  state.exists = true;
  state.committed_last_seq = state.record.last_seq();
  return state;
}

}  // namespace parley::storage
