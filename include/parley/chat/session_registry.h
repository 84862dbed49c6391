// SessionRegistry: the live session of each user on this host (at most one).

#ifndef PARLEY_CHAT_SESSION_REGISTRY_H_
#define PARLEY_CHAT_SESSION_REGISTRY_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace parley::chat {

class Session;

// Thread-safe. Sharded by user so that the network threads rarely meet on one lock; no lock is
// held while a session is called.
class SessionRegistry {
 public:
  // Makes `session` the user's live session and returns the one it replaces, if any.
  std::shared_ptr<Session> Register(const std::string& user, std::shared_ptr<Session> session);

  // Forgets the user's session if it is still `session` (a newer one may have replaced it).
  void Unregister(const std::string& user, const Session* session);

  // The user's live session, or null.
  std::shared_ptr<Session> Find(const std::string& user) const;

  std::size_t size() const { return size_.load(std::memory_order_relaxed); }

 private:
  static constexpr std::size_t kShards = 64;

  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, std::weak_ptr<Session>> sessions;  // GUARDED_BY(mutex)
  };

  Shard& ShardFor(const std::string& user) const;

  mutable std::array<Shard, kShards> shards_;
  std::atomic<std::size_t> size_{0};
};

}  // namespace parley::chat

#endif  // PARLEY_CHAT_SESSION_REGISTRY_H_
