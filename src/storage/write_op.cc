#include "write_op.h"

#include <utility>

namespace parley::storage {

namespace {

// Callbacks are moved out before they run, so that whatever they captured is released on
// this thread right after, not whenever the op happens to be destroyed.
template <typename Callback, typename Value>
void Run(Callback& callback, Value value) {
  if (!callback) return;
  Callback run = std::move(callback);
  run(std::move(value));
}

}  // namespace

void Complete(WriteOp& op) {
  std::visit([](auto& typed) { Run(typed.done, std::move(typed.result)); }, op);
}

void Fail(WriteOp& op, const Status& why) {
  struct Failer {
    const Status& why;
    void operator()(OpenSessionOp& typed) const { Run(typed.done, Result<SessionInfo>(why)); }
    void operator()(SendOp& typed) const { Run(typed.done, SendResult{}); }
    void operator()(AckOp& typed) const { Run(typed.done, why); }
    void operator()(MarkReadOp& typed) const { Run(typed.done, MarkReadOutcome::kUnavailable); }
    void operator()(SetRetentionOp& typed) const { Run(typed.done, why); }
  };
  std::visit(Failer{why}, op);
}

}  // namespace parley::storage
