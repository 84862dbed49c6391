// UTF-8 validation and counting for user-supplied text.

#ifndef PARLEY_COMMON_UTF8_H_
#define PARLEY_COMMON_UTF8_H_

#include <cstddef>
#include <optional>
#include <string_view>

namespace parley {

// Returns the number of Unicode scalar values in `text`, or nullopt if `text` is not
// well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
std::optional<std::size_t> CountUtf8Chars(std::string_view text);

inline bool IsValidUtf8(std::string_view text) { return CountUtf8Chars(text).has_value(); }

}  // namespace parley

#endif  // PARLEY_COMMON_UTF8_H_
