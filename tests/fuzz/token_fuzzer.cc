// libFuzzer target: token verification. Any input must be refused or accepted without a
// crash, a leak or undefined behaviour; an accepted one must name a valid user.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "parley/auth/token.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::string_view kSecret = "fuzzing-secret-0123456789abcdef0123456789";
  constexpr std::int64_t kNowMs = 1'800'000'000'000;

  const std::string_view token(reinterpret_cast<const char*>(data), size);
  auto user = parley::auth::VerifyToken(token, kSecret, kNowMs);
  if (user.ok() && !parley::auth::IsValidUserId(user.value())) std::abort();
  return 0;
}
