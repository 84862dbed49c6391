#include "parley/chat/session_registry.h"

#include <functional>

namespace parley::chat {

SessionRegistry::Shard& SessionRegistry::ShardFor(const std::string& user) const {
  return shards_[std::hash<std::string>{}(user) % kShards];
}

std::shared_ptr<Session> SessionRegistry::Register(const std::string& user,
                                                   std::shared_ptr<Session> session) {
  Shard& shard = ShardFor(user);
  std::lock_guard lock(shard.mutex);
  auto [it, inserted] = shard.sessions.try_emplace(user, session);
  if (inserted) {
    size_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  std::shared_ptr<Session> previous = it->second.lock();
  it->second = session;
  return previous == session ? nullptr : previous;
}

void SessionRegistry::Unregister(const std::string& user, const Session* session) {
  Shard& shard = ShardFor(user);
  std::lock_guard lock(shard.mutex);
  auto it = shard.sessions.find(user);
  if (it == shard.sessions.end()) return;

  // A weak_ptr that has expired no longer says whose it was; either way the entry is stale.
  std::shared_ptr<Session> current = it->second.lock();
  if (current && current.get() != session) return;
  shard.sessions.erase(it);
  size_.fetch_sub(1, std::memory_order_relaxed);
}

std::shared_ptr<Session> SessionRegistry::Find(const std::string& user) const {
  Shard& shard = ShardFor(user);
  std::lock_guard lock(shard.mutex);
  auto it = shard.sessions.find(user);
  return it == shard.sessions.end() ? nullptr : it->second.lock();
}

}  // namespace parley::chat
