// ConfigDiff: which keys of parleyd's config differ between two loaded configs.
//
// The reload on SIGHUP uses it to say what changed, what was applied at once and what waits
// for a restart. It compares the values the daemon runs with (paths resolved, secret loaded),
// so a changed secret file is noticed even when its path stays the same.

#ifndef PARLEY_SERVER_CONFIG_DIFF_H_
#define PARLEY_SERVER_CONFIG_DIFF_H_

#include <string>
#include <vector>

#include "parley/config/config.h"

namespace parley::server {

// The dotted keys (`limits.send_rate_per_s`) whose values differ, in the order of the file.
// A changed HMAC secret is reported as `auth.hmac_secret` or `auth.hmac_secret_file`,
// whichever `after` sets; no value is ever part of the answer.
// Keep in step with config.h: a key missing here is never reported as changed.
std::vector<std::string> ChangedKeys(const config::Config& before, const config::Config& after);

}  // namespace parley::server

#endif  // PARLEY_SERVER_CONFIG_DIFF_H_
