// Fault injection for the storage's own tests and the daemon's end-to-end tests: a RocksDB
// environment whose write-ahead log fails to write while a trigger file exists, as a full or
// failing disk would. Never enabled unless asked for.

#ifndef PARLEY_STORAGE_FAULT_INJECTION_H_
#define PARLEY_STORAGE_FAULT_INJECTION_H_

#include <memory>
#include <string>

namespace rocksdb {
class Env;
}

namespace parley::storage {

// While `trigger_path` exists, every append to and sync of a WAL file fails with a retryable
// I/O error; once it is removed, writes succeed again. Pass the result as StoreOptions::env
// and keep it alive as long as the Store. (A shared_ptr, so that holders need not see the
// complete rocksdb::Env type.)
std::shared_ptr<rocksdb::Env> NewWalFaultEnv(std::string trigger_path);

}  // namespace parley::storage

#endif  // PARLEY_STORAGE_FAULT_INJECTION_H_
