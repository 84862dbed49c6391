#include "parley/common/thread_name.h"

#include <pthread.h>

namespace parley {

void NameThisThread(const std::string& name) {
  constexpr std::size_t kMaxLength = 15;  // The kernel's limit, without the terminating NUL.
  // Naming is a courtesy to whoever inspects the process: a failure changes nothing else.
  pthread_setname_np(pthread_self(), name.substr(0, kMaxLength).c_str());
}

}  // namespace parley
