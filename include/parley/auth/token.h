// Client tokens: HS256 JSON Web Tokens signed with the operator's secret.

#ifndef PARLEY_AUTH_TOKEN_H_
#define PARLEY_AUTH_TOKEN_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "parley/common/status.h"

namespace parley::auth {

// User ids are 1-64 characters of ASCII letters, digits and `_ . + - @`.
bool IsValidUserId(std::string_view user);

// Checks `token` against `secret` at time `now_ms` and returns its subject (the user id).
// Refused, with a Status saying why (never echoing the token): anything malformed, an
// algorithm other than HS256 (including "none"), a bad signature, a missing or past `exp`,
// a missing `sub` or one that is not a valid user id. `nbf`, when present, is honoured.
Result<std::string> VerifyToken(std::string_view token, std::string_view secret,
                                std::int64_t now_ms);

// Mints a token for `user` that expires `ttl_s` seconds after `now_ms`, for development and
// tests. Fails only if `user` is not a valid user id or `secret` is empty.
Result<std::string> MintToken(std::string_view user, std::string_view secret, std::int64_t now_ms,
                              std::int64_t ttl_s);

}  // namespace parley::auth

#endif  // PARLEY_AUTH_TOKEN_H_
