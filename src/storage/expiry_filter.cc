#include "expiry_filter.h"

#include <optional>
#include <string_view>

#include "keys.h"

namespace parley::storage {

bool ExpiryFilter::Filter(int /*level*/, const rocksdb::Slice& /*key*/,
                          const rocksdb::Slice& existing_value, std::string* /*new_value*/,
                          bool* /*value_changed*/) const {
  const std::optional<std::int64_t> expiry =
      ValueExpiry(std::string_view(existing_value.data(), existing_value.size()));
  return expiry && IsExpired(*expiry, clock_->NowMs());
}

}  // namespace parley::storage
