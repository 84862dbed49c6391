#include "keys.h"

#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "parley/common/clock.h"
#include "parley/storage/records.pb.h"
#include "parley/v1/parley.pb.h"

#include "expiry_filter.h"

namespace parley::storage {
namespace {

TEST(KeysTest, MailboxKeysSortBySeqWithinOneUser) {
  EXPECT_LT(MailboxKey("bob", 1), MailboxKey("bob", 2));
  EXPECT_LT(MailboxKey("bob", 255), MailboxKey("bob", 256));
  EXPECT_LT(MailboxKey("bob", 0xffffffff), MailboxKey("bob", 0x100000000));
  EXPECT_LT(MailboxKey("bob", std::numeric_limits<std::uint64_t>::max()), MailboxEnd("bob"));
}

TEST(KeysTest, UsersWithSharedPrefixesDoNotInterleave) {
  // "bob" < "bob.x" bytewise, yet all of bob's keys sort before all of bob.x's.
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  EXPECT_LT(MailboxEnd("bob"), MailboxKey("bob.x", 0));
  EXPECT_LT(MailboxKey("bob", max), MailboxKey("bob.x", 0));
  EXPECT_LT(MailboxKey("bo", max), MailboxKey("bob", 0));
  EXPECT_LE(MailboxEnd("bo"), MailboxKey("bob", 0));
}

TEST(KeysTest, MailboxKeyRoundTripsItsSeq) {
  EXPECT_EQ(MailboxKeySeq(MailboxKey("alice", 42)), 42u);
  EXPECT_EQ(MailboxKeySeq(MailboxKey("a", 0x0102030405060708)), 0x0102030405060708u);
  EXPECT_FALSE(MailboxKeySeq("short"));
  EXPECT_EQ(MailboxKeyAfter("a", 7), MailboxKey("a", 8));
  EXPECT_EQ(MailboxKeyAfter("a", std::numeric_limits<std::uint64_t>::max()), MailboxEnd("a"));
}

TEST(KeysTest, DedupKeySeparatesSenderFromId) {
  EXPECT_EQ(DedupKey("alice", "m1"), std::string("alice\0m1", 8));
  EXPECT_NE(DedupKey("ab", "c"), DedupKey("a", "bc"));
}

TEST(KeysTest, StorableUserIds) {
  EXPECT_TRUE(IsStorableUserId("alice"));
  EXPECT_TRUE(IsStorableUserId("a.b+c@d-e_f"));
  EXPECT_FALSE(IsStorableUserId(""));
  EXPECT_FALSE(IsStorableUserId(std::string("a\0b", 3)));
}

TEST(KeysTest, ValueRoundTripsStampAndRecord) {
  DedupRecord record;
  record.set_to("bob");
  record.set_seq(9);
  record.set_sent_at_ms(1234);
  const std::string value = EncodeValue(-5, record);

  std::int64_t expiry_ms = 0;
  DedupRecord decoded;
  ASSERT_TRUE(DecodeValue(value, &expiry_ms, &decoded));
  EXPECT_EQ(expiry_ms, -5);
  EXPECT_EQ(decoded.to(), "bob");
  EXPECT_EQ(decoded.seq(), 9u);
  EXPECT_EQ(ValueExpiry(value), -5);
}

TEST(KeysTest, StampIsLittleEndian) {
  const std::string value = EncodeValue(0x0102, UserRecord());
  ASSERT_GE(value.size(), kStampBytes);
  EXPECT_EQ(value[0], '\x02');
  EXPECT_EQ(value[1], '\x01');
}

TEST(KeysTest, ShortOrGarbledValuesDoNotDecode) {
  std::int64_t expiry_ms = 0;
  v1::Item item;
  EXPECT_FALSE(DecodeValue("1234567", &expiry_ms, &item));
  EXPECT_FALSE(ValueExpiry("1234567"));
  EXPECT_FALSE(DecodeValue(std::string(8, '\0') + "\xff\xff\xff", &expiry_ms, &item));
}

TEST(KeysTest, ExpiryRules) {
  EXPECT_FALSE(IsExpired(0, 1'000'000));  // 0: never.
  EXPECT_FALSE(IsExpired(101, 100));
  EXPECT_TRUE(IsExpired(100, 100));
  EXPECT_EQ(ExpiryAfter(100, 50), 150);
  EXPECT_EQ(ExpiryAfter(100, 0), 0);
  EXPECT_EQ(ExpiryAfter(std::numeric_limits<std::int64_t>::max() - 1, 10),
            std::numeric_limits<std::int64_t>::max());
}

TEST(ExpiryFilterTest, DropsOnlyStampedValuesThatHavePassed) {
  OffsetClock clock;
  const ExpiryFilter filter(&clock);
  const std::int64_t now = clock.NowMs();
  std::string new_value;
  bool changed = false;
  const auto drops = [&](const std::string& value) {
    return filter.Filter(0, "key", value, &new_value, &changed);
  };

  EXPECT_TRUE(drops(EncodeValue(now - 1, UserRecord())));
  EXPECT_FALSE(drops(EncodeValue(now + 60'000, UserRecord())));
  EXPECT_FALSE(drops(EncodeValue(0, UserRecord())));
  EXPECT_FALSE(drops("short"));  // Not ours to judge.

  clock.Advance(120'000);
  EXPECT_TRUE(drops(EncodeValue(now + 60'000, UserRecord())));
  EXPECT_FALSE(changed);
}

}  // namespace
}  // namespace parley::storage
