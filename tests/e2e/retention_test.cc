// Retention through the real daemon: opt-in history, purges, and expiry of undelivered items,
// dedup records and history entries, with the daemon's clock moved forward between restarts
// and the database then inspected (and compacted) with the same storage code.

#include <set>

#include <gtest/gtest.h>

#include "parley/common/clock.h"
#include "parley/storage/store.h"

#include "server_process.h"
#include "test_client.h"

namespace parley::testing {
namespace {

constexpr std::int64_t kDay = kMsPerDay;

bool IsCaughtUp(const v1::ServerFrame& frame) { return frame.has_caught_up(); }

// The stopped server's database, opened in this process with its clock moved to `offset_ms`.
class StoppedDatabase {
 public:
  StoppedDatabase(const ServerProcess& server, std::int64_t offset_ms) {
    clock_.SetOffset(offset_ms);
    storage::StoreOptions options;
    options.path = (server.dir() / "data").string();
    options.clock = &clock_;
    auto store = storage::Store::Open(options, nullptr);
    if (!store.ok()) throw std::runtime_error(store.status().ToString());
    store_ = std::move(store).value();
  }

  std::uint64_t Keys(std::string_view family) {
    auto count = store_->CountKeys(family);
    if (!count.ok()) throw std::runtime_error(count.status().ToString());
    return count.value();
  }

  void Compact() {
    Status compacted = store_->CompactAll();
    if (!compacted.ok()) throw std::runtime_error(compacted.ToString());
  }

 private:
  OffsetClock clock_;
  std::unique_ptr<storage::Store> store_;
};

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override { server_.Start(); }

  // Restarts the daemon with its clock `offset_ms` ahead of the real one.
  void RestartAt(std::int64_t offset_ms) {
    ASSERT_EQ(server_.Stop(), 0) << server_.Log();
    server_.set_clock_offset_ms(offset_ms);
    server_.Start();
  }

  std::unique_ptr<TestClient> Connected(const std::string& user) {
    auto client = std::make_unique<TestClient>(server_, WireFormat::kJson);
    if (!client->Connect(user)) ADD_FAILURE() << client->last_error();
    return client;
  }

  // Every message of `user`'s history (optionally with `peer`), paging `limit` at a time.
  std::vector<v1::Message> WholeHistory(TestClient& client, const std::string& peer,
                                        std::uint32_t limit, int* pages) {
    std::vector<v1::Message> all;
    std::string cursor;
    *pages = 0;
    do {
      auto reply = client.GetHistory(peer, cursor, limit);
      if (!reply || !reply->has_history()) {
        ADD_FAILURE() << Describe(reply);
        break;
      }
      ++*pages;
      for (const auto& message : reply->history().messages()) all.push_back(message);
      cursor = reply->history().next_cursor();
    } while (!cursor.empty() && *pages < 1000);
    return all;
  }

  ServerProcess server_;
};

TEST_F(RetentionTest, HistoryIsOffByDefault) {
  auto alice = Connected("alice");
  auto bob = Connected("bob");
  ASSERT_TRUE(alice->SendText("bob", "h1", "not kept"));
  ASSERT_TRUE(bob->CollectItems(1, /*ack=*/true));

  for (TestClient* client : {alice.get(), bob.get()}) {
    auto reply = client->GetHistory("", "", 0);
    ASSERT_TRUE(reply && reply->has_history()) << Describe(reply);
    EXPECT_EQ(reply->history().messages_size(), 0);
    EXPECT_TRUE(reply->history().next_cursor().empty());
  }
}

TEST_F(RetentionTest, SetRetentionIsReportedAndRangeChecked) {
  auto alice = Connected("alice");
  auto set = alice->SetRetention(30);
  ASSERT_TRUE(set && set->has_retention_set()) << Describe(set);
  EXPECT_EQ(set->retention_set().history_days(), 30u);

  auto too_long = alice->SetRetention(91);
  ASSERT_TRUE(too_long && too_long->has_error()) << Describe(too_long);
  EXPECT_EQ(too_long->error().code(), v1::Error::BAD_REQUEST);

  // Durable: reported on the next connect, also after a restart.
  RestartAt(0);
  TestClient again(server_, WireFormat::kBinary);
  auto connected = again.Connect("alice");
  ASSERT_TRUE(connected);
  EXPECT_EQ(connected->history_days(), 30u);
}

TEST_F(RetentionTest, HistoryBothWaysPagesWithoutGapsOrRepeatsAndFiltersByPeer) {
  auto alice = Connected("alice");
  auto bob = Connected("bob");
  auto carol = Connected("carol");
  ASSERT_TRUE(alice->SetRetention(30));

  // Sent back to back, so that many share a millisecond.
  std::set<std::string> with_bob;
  for (int i = 0; i < 40; ++i) {
    const std::string a = "a" + std::to_string(i);
    const std::string b = "b" + std::to_string(i);
    ASSERT_TRUE(alice->Send([&] {
      v1::ClientFrame f;
      f.mutable_send()->set_to("bob");
      f.mutable_send()->set_client_msg_id(a);
      f.mutable_send()->set_text("from alice");
      return f;
    }()));
    ASSERT_TRUE(bob->Send([&] {
      v1::ClientFrame f;
      f.mutable_send()->set_to("alice");
      f.mutable_send()->set_client_msg_id(b);
      f.mutable_send()->set_text("from bob");
      return f;
    }()));
    with_bob.insert("alice/" + a);
    with_bob.insert("bob/" + b);
  }
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(alice->SendText("carol", "c" + std::to_string(i), "to carol"));
  }
  ASSERT_TRUE(bob->CollectItems(40, /*ack=*/true));
  ASSERT_TRUE(alice->CollectItems(40, /*ack=*/true));

  int pages = 0;
  const auto all = WholeHistory(*alice, "", 7, &pages);
  ASSERT_EQ(all.size(), 85u);
  EXPECT_EQ(pages, 13);  // ceil(85 / 7)
  std::set<std::string> seen;
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_TRUE(seen.insert(all[i].from() + "/" + all[i].client_msg_id()).second)
        << "repeated " << all[i].client_msg_id();
    if (i > 0) {
      EXPECT_LE(all[i].sent_at_ms(), all[i - 1].sent_at_ms()) << "not newest first";
    }
  }

  const auto only_bob = WholeHistory(*alice, "bob", 9, &pages);
  std::set<std::string> bob_ids;
  for (const auto& message : only_bob)
    bob_ids.insert(message.from() + "/" + message.client_msg_id());
  EXPECT_EQ(only_bob.size(), 80u);
  EXPECT_EQ(bob_ids, with_bob);

  const auto only_carol = WholeHistory(*alice, "carol", 50, &pages);
  EXPECT_EQ(only_carol.size(), 5u);
  EXPECT_EQ(pages, 1);

  // Bob keeps no history of his own.
  EXPECT_TRUE(WholeHistory(*bob, "", 50, &pages).empty());

  auto bad_cursor = alice->GetHistory("", "not-a-cursor!", 5);
  ASSERT_TRUE(bad_cursor && bad_cursor->has_error()) << Describe(bad_cursor);
  EXPECT_EQ(bad_cursor->error().code(), v1::Error::BAD_REQUEST);
}

TEST_F(RetentionTest, LoweringPurgesOutsideTheNewWindowAndZeroPurgesAll) {
  auto bob = Connected("bob");
  {
    auto alice = Connected("alice");
    ASSERT_TRUE(alice->SetRetention(30));
    ASSERT_TRUE(alice->SendText("bob", "old", "ten days ago"));
  }
  RestartAt(10 * kDay);
  {
    auto alice = Connected("alice");
    ASSERT_TRUE(alice->SendText("bob", "new", "today"));
    int pages = 0;
    EXPECT_EQ(WholeHistory(*alice, "", 50, &pages).size(), 2u);

    ASSERT_TRUE(alice->SetRetention(5));
    auto recent = WholeHistory(*alice, "", 50, &pages);
    ASSERT_EQ(recent.size(), 1u);
    EXPECT_EQ(recent[0].client_msg_id(), "new");
    EXPECT_TRUE(WholeHistory(*alice, "bob", 50, &pages).size() == 1u);
  }
  ASSERT_EQ(server_.Stop(), 0);
  {
    StoppedDatabase database(server_, 10 * kDay);
    // The purge was a range delete: the old entry is gone without any compaction. What is
    // left is the new message and the by-peer index entries of both.
    EXPECT_EQ(database.Keys("history"), 3u);
  }
  server_.Start();
  {
    auto alice = Connected("alice");
    ASSERT_TRUE(alice->SetRetention(0));
    int pages = 0;
    EXPECT_TRUE(WholeHistory(*alice, "", 50, &pages).empty());
  }
  ASSERT_EQ(server_.Stop(), 0);
  StoppedDatabase database(server_, 10 * kDay);
  EXPECT_EQ(database.Keys("history"), 0u);
}

TEST_F(RetentionTest, HistoryPastItsWindowIsHiddenAndCompactedAway) {
  auto bob = Connected("bob");
  {
    auto alice = Connected("alice");
    ASSERT_TRUE(alice->SetRetention(1));
    ASSERT_TRUE(alice->SendText("bob", "m", "short-lived"));
  }
  RestartAt(2 * kDay);
  {
    auto alice = Connected("alice");
    int pages = 0;
    EXPECT_TRUE(WholeHistory(*alice, "", 50, &pages).empty());
  }
  ASSERT_EQ(server_.Stop(), 0);
  StoppedDatabase database(server_, 2 * kDay);
  EXPECT_EQ(database.Keys("history"), 2u);  // Hidden, but still on disk...
  database.Compact();
  EXPECT_EQ(database.Keys("history"), 0u);  // ...until compaction.
}

TEST_F(RetentionTest, UndeliveredItemsExpireAfterAYearAndLeaveTheDisk) {
  {
    auto bob = Connected("bob");
    bob->connection().Close();
    auto alice = Connected("alice");
    ASSERT_TRUE(alice->SendText("bob", "stale", "a year ago"));
  }
  RestartAt(366 * kDay);
  {
    auto bob = Connected("bob");
    auto caught_up = bob->NextMatching(IsCaughtUp);
    ASSERT_TRUE(caught_up) << bob->last_error();
    EXPECT_TRUE(bob->items().empty()) << "an expired item was delivered";
  }
  ASSERT_EQ(server_.Stop(), 0);
  EXPECT_EQ(StoppedDatabase(server_, 366 * kDay).Keys("mailbox"), 1u);

  // The operators' tool does the compaction here, with the daemon's own clock.
  const auto compacted =
      RunCommand("PARLEYD_TEST_CLOCK_OFFSET_MS=" + std::to_string(366 * kDay) + " " +
                 ParleydPath() + " --compact '" + server_.config_file().string() + "'");
  ASSERT_EQ(compacted.status, 0) << compacted.output;
  EXPECT_EQ(StoppedDatabase(server_, 366 * kDay).Keys("mailbox"), 0u);
}

TEST_F(RetentionTest, AnItemWithinItsYearSurvivesRestartsAndIsDelivered) {
  {
    auto bob = Connected("bob");
    bob->connection().Close();
    auto alice = Connected("alice");
    ASSERT_TRUE(alice->SendText("bob", "fresh", "still wanted"));
  }
  RestartAt(364 * kDay);
  auto bob = Connected("bob");
  ASSERT_TRUE(bob->NextMatching(IsCaughtUp));
  ASSERT_EQ(bob->items().size(), 1u);
  EXPECT_EQ(bob->items()[0].message().client_msg_id(), "fresh");
}

TEST_F(RetentionTest, DedupHoldsWithinItsWindowAndNotAfter) {
  auto bob = Connected("bob");
  std::int64_t first_sent_at = 0;
  {
    auto alice = Connected("alice");
    auto sent = alice->SendText("bob", "resend-me", "hello");
    ASSERT_TRUE(sent && sent->has_send_ack()) << Describe(sent);
    first_sent_at = sent->send_ack().sent_at_ms();
  }
  RestartAt(29 * kDay);
  {
    auto alice = Connected("alice");
    auto again = alice->SendText("bob", "resend-me", "hello");
    ASSERT_TRUE(again && again->has_send_ack()) << Describe(again);
    EXPECT_TRUE(again->send_ack().duplicate());
    EXPECT_EQ(again->send_ack().sent_at_ms(), first_sent_at);
  }
  ASSERT_EQ(server_.Stop(), 0);
  {
    StoppedDatabase database(server_, 31 * kDay);
    EXPECT_EQ(database.Keys("dedup"), 1u);
    database.Compact();
    EXPECT_EQ(database.Keys("dedup"), 0u);
  }
  server_.set_clock_offset_ms(31 * kDay);
  server_.Start();
  auto alice = Connected("alice");
  auto later = alice->SendText("bob", "resend-me", "hello");
  ASSERT_TRUE(later && later->has_send_ack()) << Describe(later);
  EXPECT_FALSE(later->send_ack().duplicate());
  EXPECT_GT(later->send_ack().sent_at_ms(), first_sent_at);
}

}  // namespace
}  // namespace parley::testing
