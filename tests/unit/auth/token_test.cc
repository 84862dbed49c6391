#include "parley/auth/token.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace parley::auth {
namespace {

constexpr std::string_view kSecret = "0123456789abcdef0123456789abcdef-test";
constexpr std::int64_t kNowMs = 1'700'000'000'000;  // November 2023.
constexpr std::int64_t kNowS = kNowMs / 1000;

// Base64url without padding (RFC 7515 section 2), written out so that tests can forge tokens
// libjwt refuses to produce.
std::string Base64Url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto group = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i]) << 16 |
                                                  static_cast<unsigned char>(bytes[i + 1]) << 8 |
                                                  static_cast<unsigned char>(bytes[i + 2]));
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(group >> shift) & 63];
  }

  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t group = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i]) << 16);
    if (rest == 2)
      group |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += kAlphabet[(group >> 18) & 63];
    out += kAlphabet[(group >> 12) & 63];
    if (rest == 2) out += kAlphabet[(group >> 6) & 63];
  }
  return out;
}

std::string Hmac(const EVP_MD* digest, std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(digest, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &length);
  return std::string(reinterpret_cast<const char*>(mac), length);
}

// A token with the given header and payload JSON, signed with HMAC over `digest`.
std::string Forge(std::string_view header, std::string_view payload,
                  const EVP_MD* digest = EVP_sha256(), std::string_view key = kSecret) {
  const std::string signing_input = Base64Url(header) + "." + Base64Url(payload);
  return signing_input + "." + Base64Url(Hmac(digest, key, signing_input));
}

constexpr std::string_view kHs256Header = R"({"alg":"HS256","typ":"JWT"})";

std::string Payload(std::string_view sub, std::int64_t exp_s) {
  return R"({"sub":")" + std::string(sub) + R"(","exp":)" + std::to_string(exp_s) + "}";
}

// The reason `token` is refused at kNowMs, or "accepted".
std::string Refusal(std::string_view token, std::string_view secret = kSecret) {
  const Result<std::string> user = VerifyToken(token, secret, kNowMs);
  if (user.ok()) return "accepted";
  return user.status().message();
}

TEST(TokenTest, MintedTokenVerifiesAsItsUser) {
  const Result<std::string> token = MintToken("alice@example.org", kSecret, kNowMs, 3600);
  ASSERT_TRUE(token.ok()) << token.status().ToString();

  const Result<std::string> user = VerifyToken(*token, kSecret, kNowMs);
  ASSERT_TRUE(user.ok()) << user.status().ToString();
  EXPECT_EQ(*user, "alice@example.org");
}

TEST(TokenTest, ForgedHs256TokenVerifies) {
  EXPECT_EQ(Refusal(Forge(kHs256Header, Payload("bob", kNowS + 60))), "accepted");
}

TEST(TokenTest, RefusesTokenFromItsExpirySecondOn) {
  const Result<std::string> token = MintToken("alice", kSecret, kNowMs, 60);
  ASSERT_TRUE(token.ok());

  EXPECT_TRUE(VerifyToken(*token, kSecret, kNowMs + 59'999).ok());
  const Result<std::string> at_expiry = VerifyToken(*token, kSecret, kNowMs + 60'000);
  ASSERT_FALSE(at_expiry.ok());
  EXPECT_EQ(at_expiry.status().message(), "token expired");
  EXPECT_FALSE(VerifyToken(*token, kSecret, kNowMs + 86'400'000).ok());
}

TEST(TokenTest, HonoursNotBefore) {
  const std::string later = R"({"sub":"alice","exp":)" + std::to_string(kNowS + 600) +
                            R"(,"nbf":)" + std::to_string(kNowS + 60) + "}";
  EXPECT_EQ(Refusal(Forge(kHs256Header, later)), "token not yet valid");

  const std::string earlier = R"({"sub":"alice","exp":)" + std::to_string(kNowS + 600) +
                              R"(,"nbf":)" + std::to_string(kNowS - 60) + "}";
  EXPECT_EQ(Refusal(Forge(kHs256Header, earlier)), "accepted");

  const std::string text_nbf =
      R"({"sub":"alice","exp":)" + std::to_string(kNowS + 600) + R"(,"nbf":"soon"})";
  EXPECT_EQ(Refusal(Forge(kHs256Header, text_nbf)), "nbf is not an integer");
}

TEST(TokenTest, RefusesWrongSecret) {
  const Result<std::string> token = MintToken("alice", kSecret, kNowMs, 3600);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(Refusal(*token, "another-secret-of-at-least-32-bytes!!"), "bad signature");
}

TEST(TokenTest, RefusesEmptySecretEvenForAnUnsignedCheck) {
  // libjwt skips the signature check when handed a zero-length key.
  const Result<std::string> token = MintToken("alice", kSecret, kNowMs, 3600);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(Refusal(*token, ""), "unusable secret");
}

TEST(TokenTest, RefusesTamperedPayload) {
  const std::string genuine = Forge(kHs256Header, Payload("alice", kNowS + 600));
  const std::size_t first_dot = genuine.find('.');
  const std::size_t second_dot = genuine.find('.', first_dot + 1);

  std::string tampered = genuine;
  tampered.replace(first_dot + 1, second_dot - first_dot - 1,
                   Base64Url(Payload("mallory", kNowS + 600)));
  EXPECT_EQ(Refusal(tampered), "bad signature");
}

TEST(TokenTest, RefusesAlgNone) {
  const std::string payload = Base64Url(Payload("alice", kNowS + 600));
  EXPECT_EQ(Refusal(Base64Url(R"({"alg":"none","typ":"JWT"})") + "." + payload + "."),
            "algorithm not allowed");
  EXPECT_EQ(Refusal(Forge(R"({"alg":"none"})", Payload("alice", kNowS + 600))),
            "algorithm not allowed");
}

TEST(TokenTest, RefusesOtherAlgorithmsSignedWithTheSameSecret) {
  const std::string payload = Payload("alice", kNowS + 600);
  EXPECT_EQ(Refusal(Forge(R"({"alg":"HS512","typ":"JWT"})", payload, EVP_sha512())),
            "algorithm not allowed");
  EXPECT_EQ(Refusal(Forge(R"({"alg":"HS384","typ":"JWT"})", payload, EVP_sha384())),
            "algorithm not allowed");
  EXPECT_EQ(Refusal(Forge(R"({"alg":"RS256","typ":"JWT"})", payload)), "algorithm not allowed");
  EXPECT_EQ(Refusal(Forge(R"({"alg":"hs256","typ":"JWT"})", payload)), "algorithm not allowed");
  EXPECT_EQ(Refusal(Forge(R"({"typ":"JWT"})", payload)), "malformed token");
}

TEST(TokenTest, RefusesMissingOrNonIntegerExp) {
  EXPECT_EQ(Refusal(Forge(kHs256Header, R"({"sub":"alice"})")), "token has no exp");
  // jwt_get_grant_int() would read both of these as 0.
  EXPECT_EQ(Refusal(Forge(kHs256Header, R"({"sub":"alice","exp":"4000000000"})")),
            "exp is not an integer");
  EXPECT_EQ(Refusal(Forge(kHs256Header, R"({"sub":"alice","exp":4000000000.5})")),
            "exp is not an integer");
}

TEST(TokenTest, AcceptsFarFutureExpWithoutOverflow) {
  const std::string payload = R"({"sub":"alice","exp":9223372036854775807})";
  EXPECT_EQ(Refusal(Forge(kHs256Header, payload)), "accepted");
}

TEST(TokenTest, RefusesMissingSub) {
  const std::string exp = std::to_string(kNowS + 600);
  EXPECT_EQ(Refusal(Forge(kHs256Header, R"({"exp":)" + exp + "}")), "token has no sub");
  EXPECT_EQ(Refusal(Forge(kHs256Header, R"({"sub":42,"exp":)" + exp + "}")), "token has no sub");
}

TEST(TokenTest, RefusesSubThatIsNotAUserId) {
  for (const std::string& sub : {std::string(""), std::string("al ice"), std::string("a/b"),
                                 std::string("caf\xC3\xA9"), std::string("x\\u0000y")}) {
    EXPECT_NE(Refusal(Forge(kHs256Header, Payload(sub, kNowS + 600))), "accepted") << sub;
  }
  EXPECT_EQ(Refusal(Forge(kHs256Header, Payload("al ice", kNowS + 600))),
            "sub is not a valid user id");
}

TEST(TokenTest, SubLengthLimitIs64) {
  EXPECT_EQ(Refusal(Forge(kHs256Header, Payload(std::string(64, 'a'), kNowS + 600))), "accepted");
  EXPECT_EQ(Refusal(Forge(kHs256Header, Payload(std::string(65, 'a'), kNowS + 600))),
            "sub is not a valid user id");
}

TEST(TokenTest, RefusesMalformedInput) {
  const std::string good = Forge(kHs256Header, Payload("alice", kNowS + 600));
  const std::vector<std::string> inputs = {
      "",
      "no-dots-at-all",
      "one.dot",
      "..",
      good + ".extra",
      "!!!.@@@.###",
      "eyJhbGciOiJIUzI1NiJ9.e30=.abc",  // padded base64
      "%%%%.%%%%.%%%%",
      good + std::string("\0junk", 5),  // NUL would end libjwt's C string early.
      Base64Url("not json") + "." + Base64Url("{}") + ".sig",
      Forge(R"(["HS256"])", Payload("alice", kNowS + 600)),
      Forge(kHs256Header, R"(["alice"])"),
      Forge(kHs256Header, R"("alice")"),
      Forge(kHs256Header, "{truncated"),
      std::string(100'000, 'a') + "." + std::string(100'000, 'b') + ".c",
      std::string(10'000'000, 'a') + ".b.c",  // libjwt 1.10 overflows its stack on this.
  };
  for (const std::string& input : inputs) {
    const Result<std::string> user = VerifyToken(input, kSecret, kNowMs);
    EXPECT_FALSE(user.ok()) << input.substr(0, 80);
  }
}

TEST(TokenTest, RefusalsNeverEchoTokenOrSecret) {
  const std::string payload = Payload("alice", kNowS + 600);
  const std::vector<std::string> tokens = {
      Forge(kHs256Header, payload, EVP_sha256(), "wrong-secret-wrong-secret-wrong-secret"),
      Forge(R"({"alg":"HS512"})", payload, EVP_sha512()),
      Forge(kHs256Header, Payload("alice", kNowS - 600)),
      "garbage.garbage.garbage",
  };
  for (const std::string& token : tokens) {
    const Result<std::string> user = VerifyToken(token, kSecret, kNowMs);
    ASSERT_FALSE(user.ok());
    const std::string& message = user.status().message();
    EXPECT_EQ(message.find(kSecret), std::string::npos);
    EXPECT_EQ(message.find("garbage"), std::string::npos);
    EXPECT_EQ(message.find(token.substr(0, 10)), std::string::npos);
    EXPECT_LT(message.size(), 40u);
  }
}

TEST(TokenTest, MintRefusesInvalidUser) {
  EXPECT_FALSE(MintToken("", kSecret, kNowMs, 60).ok());
  EXPECT_FALSE(MintToken("bad user", kSecret, kNowMs, 60).ok());
  EXPECT_FALSE(MintToken(std::string(65, 'x'), kSecret, kNowMs, 60).ok());
}

TEST(TokenTest, MintedTokenCarriesIatAndExpInSeconds) {
  const Result<std::string> token = MintToken("alice", kSecret, kNowMs + 999, 120);
  ASSERT_TRUE(token.ok());

  jwt_t* raw = nullptr;
  ASSERT_EQ(jwt_decode(&raw, token->c_str(), reinterpret_cast<const unsigned char*>(kSecret.data()),
                       static_cast<int>(kSecret.size())),
            0);
  const std::unique_ptr<jwt_t, void (*)(jwt_t*)> jwt(raw, &jwt_free);
  EXPECT_EQ(jwt_get_alg(jwt.get()), JWT_ALG_HS256);
  EXPECT_STREQ(jwt_get_grant(jwt.get(), "sub"), "alice");
  EXPECT_EQ(jwt_get_grant_int(jwt.get(), "iat"), kNowS);
  EXPECT_EQ(jwt_get_grant_int(jwt.get(), "exp"), kNowS + 120);
}

TEST(TokenTest, UserIdAcceptsLettersDigitsAndFivePunctuationMarks) {
  EXPECT_TRUE(IsValidUserId("a"));
  EXPECT_TRUE(IsValidUserId("Alice_B.C+tag-1@example.org"));
  EXPECT_TRUE(IsValidUserId(std::string(64, 'z')));
}

TEST(TokenTest, UserIdRefusesEmptyLongAndOtherCharacters) {
  EXPECT_FALSE(IsValidUserId(""));
  EXPECT_FALSE(IsValidUserId(std::string(65, 'z')));
  for (std::string_view bad : {"a b", "a/b", "a:b", "a#b", "caf\xC3\xA9", "tab\t"}) {
    EXPECT_FALSE(IsValidUserId(bad)) << bad;
  }
  EXPECT_FALSE(IsValidUserId(std::string("a\0b", 3)));
}

}  // namespace
}  // namespace parley::auth
