#include "parley/storage/fault_injection.h"

#include <filesystem>

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

namespace parley::storage {

namespace {

// Shared by the file system and every WAL file it opened.
class Trigger {
 public:
  explicit Trigger(std::string path) : path_(std::move(path)) {}

  // One stat per WAL write: a cost only paid when fault injection was asked for.
  bool Armed() const {
    std::error_code ignored;
    return std::filesystem::exists(path_, ignored);
  }

 private:
  const std::string path_;
};

rocksdb::IOStatus InjectedFault() {
  rocksdb::IOStatus status = rocksdb::IOStatus::IOError("injected WAL write failure");
  status.SetRetryable(true);
  return status;
}

class FailingWal final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FailingWal(std::unique_ptr<rocksdb::FSWritableFile> file, std::shared_ptr<Trigger> trigger)
      : FSWritableFileOwnerWrapper(std::move(file)), trigger_(std::move(trigger)) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* debug) override {
    if (trigger_->Armed()) return InjectedFault();
    return FSWritableFileOwnerWrapper::Append(data, options, debug);
  }

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* debug) override {
    if (trigger_->Armed()) return InjectedFault();
    return FSWritableFileOwnerWrapper::Append(data, options, info, debug);
  }

  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                         rocksdb::IODebugContext* debug) override {
    if (trigger_->Armed()) return InjectedFault();
    return FSWritableFileOwnerWrapper::Sync(options, debug);
  }

  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* debug) override {
    if (trigger_->Armed()) return InjectedFault();
    return FSWritableFileOwnerWrapper::Fsync(options, debug);
  }

 private:
  std::shared_ptr<Trigger> trigger_;
};

class WalFaultFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  explicit WalFaultFileSystem(std::string trigger_path)
      : FileSystemWrapper(rocksdb::FileSystem::Default()),
        trigger_(std::make_shared<Trigger>(std::move(trigger_path))) {}

  const char* Name() const override { return "WalFaultFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* debug) override {
    rocksdb::IOStatus status = target()->NewWritableFile(name, options, file, debug);
    if (status.ok() && name.ends_with(".log")) {
      *file = std::make_unique<FailingWal>(std::move(*file), trigger_);
    }
    return status;
  }

 private:
  std::shared_ptr<Trigger> trigger_;
};

}  // namespace

std::shared_ptr<rocksdb::Env> NewWalFaultEnv(std::string trigger_path) {
  return rocksdb::NewCompositeEnv(std::make_shared<WalFaultFileSystem>(std::move(trigger_path)));
}

}  // namespace parley::storage
