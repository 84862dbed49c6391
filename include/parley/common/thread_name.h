// Names the calling thread, so that `top -H`, `perf` and /proc/PID/task/TID/comm tell the
// daemon's threads apart. Linux keeps at most 15 characters; longer names are cut there.

#ifndef PARLEY_COMMON_THREAD_NAME_H_
#define PARLEY_COMMON_THREAD_NAME_H_

#include <string>

namespace parley {

void NameThisThread(const std::string& name);

}  // namespace parley

#endif  // PARLEY_COMMON_THREAD_NAME_H_
