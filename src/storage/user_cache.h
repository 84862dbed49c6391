// UserCache: the writer's in-memory view of the users column family.

#ifndef PARLEY_STORAGE_USER_CACHE_H_
#define PARLEY_STORAGE_USER_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "parley/common/clock.h"
#include "parley/common/status.h"
#include "parley/storage/records.pb.h"

#include "database.h"

namespace parley::storage {

// What the writer knows about one user.
struct UserState {
  bool exists = false;  // False: no record in the database (cached too, for unknown recipients).
  UserRecord record;    // Meaningful only when `exists`.

  // record.last_seq() as of the last committed batch. Ack clamps to it: items added by the
  // batch being built cannot have reached the client yet.
  std::uint64_t committed_last_seq = 0;
};

// Loads user records on first use and keeps them, so that a hot recipient costs no read per
// send. The database stays the truth: the writer writes every change of a state into the
// same batch, and clears the cache when a batch fails (its changes never reached the disk) or
// when it grows past its bound.
//
// Not thread-safe: owned and used by the writer thread only. Pointers returned by Get stay
// valid until Clear (node-based map).
class UserCache {
 public:
  UserCache(const Database* database, const Clock* clock) : database_(database), clock_(clock) {}

  // The state of `user`, loaded from the users family on a miss. A missing or expired record
  // gives a state with exists == false. Fails on a read error or an unparsable record.
  Result<UserState*> Get(const std::string& user);

  void Clear() { states_.clear(); }
  std::size_t size() const { return states_.size(); }

 private:
  Result<UserState> Load(const std::string& user) const;

  const Database* const database_;
  const Clock* const clock_;
  std::unordered_map<std::string, UserState> states_;
};

}  // namespace parley::storage

#endif  // PARLEY_STORAGE_USER_CACHE_H_
