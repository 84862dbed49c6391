#include "parley/auth/token.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>

#include <jwt.h>

namespace parley::auth {

namespace {

// Real tokens are a few hundred bytes. libjwt 1.10 base64-decodes each part into a stack
// buffer as large as the part, and a 10 MB token crashed it in our tests; nothing that long
// may reach it, whatever the frame limit.
constexpr std::size_t kMaxTokenBytes = 8192;

constexpr std::size_t kMaxUserIdChars = 64;

struct JwtDeleter {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtDeleter>;

// Strings that libjwt allocates with malloc() and hands to the caller.
struct FreeDeleter {
  void operator()(char* text) const { std::free(text); }
};
using OwnedCString = std::unique_ptr<char, FreeDeleter>;

Status Refuse(const char* why) { return Status::InvalidArgument(why); }

const unsigned char* KeyBytes(std::string_view secret) {
  return reinterpret_cast<const unsigned char*>(secret.data());
}

// A compact JWS is three base64url parts joined by dots (RFC 7515 section 7.1). Anything else,
// including an embedded NUL that would cut the C string libjwt reads, is refused here.
Status CheckShape(std::string_view token) {
  if (token.empty()) return Refuse("empty token");
  if (token.size() > kMaxTokenBytes) return Refuse("token too long");

  const auto is_token_char = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  };
  if (!std::all_of(token.begin(), token.end(), is_token_char)) return Refuse("malformed token");
  if (std::count(token.begin(), token.end(), '.') != 2) return Refuse("malformed token");
  return Status::Ok();
}

// Decodes without a key, so without checking the signature, only to read the header's "alg".
// Deciding the algorithm before the key is used means a token can never choose how the secret
// is applied (no "none", no RS256 with the secret taken as a public key). It also gives a
// reason: with a key, libjwt answers EINVAL for every failure alike.
Status CheckAlgorithm(const std::string& token) {
  jwt_t* raw = nullptr;
  const int error = jwt_decode(&raw, token.c_str(), nullptr, 0);
  const JwtPtr jwt(raw);
  if (error != 0 || jwt == nullptr) return Refuse("malformed token");

  const char* alg = jwt_get_header(jwt.get(), "alg");
  if (alg == nullptr || std::strcmp(alg, "HS256") != 0) return Refuse("algorithm not allowed");
  return Status::Ok();
}

// Decodes and checks the signature. libjwt compares MACs in constant time only with the fix
// for CVE-2024-25189 (Debian 12 has it from 1.10.2-1+deb12u1); older builds leak timing.
Result<JwtPtr> DecodeVerified(const std::string& token, std::string_view secret) {
  jwt_t* raw = nullptr;
  const int error =
      jwt_decode(&raw, token.c_str(), KeyBytes(secret), static_cast<int>(secret.size()));
  JwtPtr jwt(raw);
  if (error != 0 || jwt == nullptr) return Refuse("bad signature");

  // CheckAlgorithm has looked already; this holds even if the two parses ever disagree.
  if (jwt_get_alg(jwt.get()) != JWT_ALG_HS256) return Refuse("algorithm not allowed");
  return jwt;
}

// An integer claim, or NotFound. jwt_get_grant_int() answers 0 for a string or a fraction,
// which would read as 1970, so the claim's JSON text is parsed here instead.
Result<std::int64_t> IntegerClaim(jwt_t* jwt, const char* name) {
  const OwnedCString json(jwt_get_grants_json(jwt, name));
  if (json == nullptr) return Status::NotFound(name);

  const char* first = json.get();
  const char* last = first + std::strlen(first);
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(first, last, value);
  if (error != std::errc() || end != last) return Status::InvalidArgument(name);
  return value;
}

// Claims are in seconds. Saturates, so that a far-future claim cannot overflow.
std::int64_t SecondsToMs(std::int64_t seconds) {
  constexpr std::int64_t kLimit = std::numeric_limits<std::int64_t>::max() / 1000;
  return std::clamp(seconds, -kLimit, kLimit) * 1000;
}

Status CheckTimes(jwt_t* jwt, std::int64_t now_ms) {
  const Result<std::int64_t> exp = IntegerClaim(jwt, "exp");
  if (!exp.ok()) {
    return Refuse(exp.status().IsNotFound() ? "token has no exp" : "exp is not an integer");
  }
  if (now_ms >= SecondsToMs(*exp)) return Refuse("token expired");

  const Result<std::int64_t> nbf = IntegerClaim(jwt, "nbf");
  if (!nbf.ok() && !nbf.status().IsNotFound()) return Refuse("nbf is not an integer");
  if (nbf.ok() && now_ms < SecondsToMs(*nbf)) return Refuse("token not yet valid");
  return Status::Ok();
}

}  // namespace

bool IsValidUserId(std::string_view user) {
  if (user.empty() || user.size() > kMaxUserIdChars) return false;

  // Explicit ranges rather than std::isalnum, whose answer depends on the locale.
  const auto allowed = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '+' || c == '-' || c == '@';
  };
  return std::all_of(user.begin(), user.end(), allowed);
}

Result<std::string> VerifyToken(std::string_view token, std::string_view secret,
                                std::int64_t now_ms) {
  // libjwt treats a zero-length key as "no key" and then skips the signature check entirely.
  if (secret.empty() || secret.size() > INT_MAX) return Refuse("unusable secret");

  Status status = CheckShape(token);
  if (!status.ok()) return status;

  const std::string text(token);  // libjwt wants a NUL-terminated string.
  status = CheckAlgorithm(text);
  if (!status.ok()) return status;

  Result<JwtPtr> jwt = DecodeVerified(text, secret);
  if (!jwt.ok()) return jwt.status();

  status = CheckTimes(jwt->get(), now_ms);
  if (!status.ok()) return status;

  // jwt_get_grant() answers only for string claims; jansson refuses \u0000 inside one.
  const char* sub = jwt_get_grant(jwt->get(), "sub");
  if (sub == nullptr) return Refuse("token has no sub");
  if (!IsValidUserId(sub)) return Refuse("sub is not a valid user id");
  return std::string(sub);
}

Result<std::string> MintToken(std::string_view user, std::string_view secret, std::int64_t now_ms,
                              std::int64_t ttl_s) {
  if (!IsValidUserId(user)) return Refuse("not a valid user id");
  if (secret.empty() || secret.size() > INT_MAX) return Refuse("unusable secret");

  const std::int64_t issued_s = now_ms / 1000;
  std::int64_t expires_s = 0;
  if (__builtin_add_overflow(issued_s, ttl_s, &expires_s)) return Refuse("ttl out of range");

  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return Status::Unavailable("out of memory");
  const JwtPtr jwt(raw);

  const std::string subject(user);
  if (jwt_set_alg(jwt.get(), JWT_ALG_HS256, KeyBytes(secret), static_cast<int>(secret.size())) ||
      jwt_add_grant(jwt.get(), "sub", subject.c_str()) ||
      jwt_add_grant_int(jwt.get(), "iat", static_cast<long>(issued_s)) ||
      jwt_add_grant_int(jwt.get(), "exp", static_cast<long>(expires_s))) {
    return Status::Unavailable("cannot build token");
  }

  const OwnedCString token(jwt_encode_str(jwt.get()));
  if (token == nullptr) return Status::Unavailable("cannot encode token");
  return std::string(token.get());
}

}  // namespace parley::auth
