// WriteOp: one queued mutation of the Store, carrying its input, its answer and its callback.

#ifndef PARLEY_STORAGE_WRITE_OP_H_
#define PARLEY_STORAGE_WRITE_OP_H_

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "parley/common/status.h"
#include "parley/storage/store.h"

namespace parley::storage {

// Each op's `result` is filled in by the writer while it builds the batch, and handed to
// `done` only once the batch is on disk (or replaced by a failure if the write failed).

struct OpenSessionOp {
  std::string user;
  std::uint64_t ack_seq = 0;
  std::function<void(Result<SessionInfo>)> done;
  Result<SessionInfo> result = Status::Unavailable("not applied");
};

struct SendOp {
  SendRequest request;
  std::function<void(SendResult)> done;
  SendResult result;
};

struct AckOp {
  std::string user;
  std::uint64_t seq = 0;
  std::vector<PushedItem> pushed;    // What the session knows of the items; may be empty.
  std::function<void(Status)> done;  // May be empty.
  Status result;
};

struct MarkReadOp {
  std::string reader;
  std::string peer;
  std::vector<std::string> ids;
  std::function<void(MarkReadOutcome)> done;
  MarkReadOutcome result = MarkReadOutcome::kUnavailable;
};

struct SetRetentionOp {
  std::string user;
  std::uint32_t history_days = 0;
  std::function<void(Status)> done;
  Status result;
};

using WriteOp = std::variant<OpenSessionOp, SendOp, AckOp, MarkReadOp, SetRetentionOp>;

// Runs the op's callback with the result the writer gave it.
void Complete(WriteOp& op);

// Runs the op's callback with a failure instead: kUnavailable, or `why` for ops that answer
// with a Status. REQUIRES: !why.ok().
void Fail(WriteOp& op, const Status& why);

}  // namespace parley::storage

#endif  // PARLEY_STORAGE_WRITE_OP_H_
