#include "parley/common/utf8.h"

#include <cstdint>

namespace parley {

namespace {

// Length of the sequence introduced by `lead`, or 0 when `lead` cannot start one.
int SequenceLength(std::uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;  // C0 and C1 would only encode ASCII (overlong).
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;  // Above F4 lies beyond U+10FFFF.
  return 0;
}

// The range the second byte must fall in; it also rules out overlong forms, surrogates and
// code points above U+10FFFF, which the lead byte alone cannot.
bool SecondByteFits(std::uint8_t lead, std::uint8_t second) {
  switch (lead) {
    case 0xE0:
      return second >= 0xA0 && second <= 0xBF;
    case 0xED:
      return second >= 0x80 && second <= 0x9F;
    case 0xF0:
      return second >= 0x90 && second <= 0xBF;
    case 0xF4:
      return second >= 0x80 && second <= 0x8F;
    default:
      return second >= 0x80 && second <= 0xBF;
  }
}

bool IsContinuation(std::uint8_t byte) { return (byte & 0xC0) == 0x80; }

}  // namespace

std::optional<std::size_t> CountUtf8Chars(std::string_view text) {
  std::size_t count = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<std::uint8_t>(text[i]);
    const int length = SequenceLength(lead);
    if (length == 0 || text.size() - i < static_cast<std::size_t>(length)) return std::nullopt;

    if (length > 1) {
      if (!SecondByteFits(lead, static_cast<std::uint8_t>(text[i + 1]))) return std::nullopt;
      for (int k = 2; k < length; ++k) {
        if (!IsContinuation(static_cast<std::uint8_t>(text[i + k]))) return std::nullopt;
      }
    }

    i += static_cast<std::size_t>(length);
    ++count;
  }
  return count;
}

}  // namespace parley
