// The ConsentStore role, on both backends: the write transaction's operations, its atomicity, and
// the consent reads.
#include <gtest/gtest.h>

#include "store/store_fixture.h"

namespace relay::store {
namespace {

class ConsentStoreTest : public relay::testing::StoreTest {
 protected:
  static ConsentUserRow User(const std::string& id, const std::string& org,
                             const std::string& organization_user_id, int64_t at) {
    return ConsentUserRow{id, org, organization_user_id, R"({"n":1})", at, at};
  }
  static ConsentEventRow Event(const std::string& id, const std::string& org,
                               const std::string& user, const std::string& regulation, int64_t at) {
    return ConsentEventRow{id, org, user, regulation, R"({"id":")" + id + R"("})", at, at};
  }
  Status Write(const std::function<Status(WriteTransaction&)>& body) { return store_->Write(body); }
};

TEST_P(ConsentStoreTest, AWriteSeesItsOwnRowsAndOtherOrganizationsSeeNone) {
  ASSERT_TRUE(
      Write([&](WriteTransaction& txn) -> Status {
        RELAY_RETURN_IF_ERROR(txn.PutUser(User("usr_1", "org_a", "ou-1", 10)));
        RELAY_RETURN_IF_ERROR(txn.InsertEvent(Event("evt_1", "org_a", "usr_1", "gdpr", 10)));
        RELAY_ASSIGN_OR_RETURN(auto user, txn.GetUser("org_a", "usr_1"));
        RELAY_ASSIGN_OR_RETURN(auto found, txn.FindUserByOrganizationUserId("org_a", "ou-1"));
        RELAY_ASSIGN_OR_RETURN(auto event, txn.GetEvent("org_a", "evt_1"));
        if (!user || !found || !event) return Internal("a row of this write is not visible");
        return Status::Ok();
      }).ok());
  auto user = store_->GetUser("org_a", "usr_1");
  ASSERT_TRUE(user.ok() && user->has_value());
  EXPECT_EQ((*user)->state_json, R"({"n":1})");
  EXPECT_EQ((*store_->FindUserByOrganizationUserId("org_a", "ou-1"))->id, "usr_1");
  EXPECT_EQ((*store_->GetEvent("org_a", "evt_1"))->user_id, "usr_1");
  EXPECT_FALSE(store_->GetUser("org_b", "usr_1")->has_value());
  EXPECT_FALSE(store_->FindUserByOrganizationUserId("org_b", "ou-1")->has_value());
  EXPECT_FALSE(store_->GetEvent("org_b", "evt_1")->has_value());
}

TEST_P(ConsentStoreTest, AFailedWriteLeavesNothingAndNamesTheConflict) {
  ASSERT_TRUE(Write([&](WriteTransaction& txn) {
                return txn.InsertEvent(Event("evt_1", "org_a", "usr_0", "gdpr", 1));
              }).ok());
  Status s = Write([&](WriteTransaction& txn) -> Status {
    RELAY_RETURN_IF_ERROR(txn.PutUser(User("usr_1", "org_a", "ou-1", 10)));
    return txn.InsertEvent(Event("evt_1", "org_a", "usr_1", "gdpr", 10));
  });
  EXPECT_EQ(s.code(), StatusCode::kConflict) << s.message();
  EXPECT_FALSE(store_->GetUser("org_a", "usr_1")->has_value()) << "rolled back with the event";
  // Another organization may reuse the event id.
  EXPECT_TRUE(Write([&](WriteTransaction& txn) {
                return txn.InsertEvent(Event("evt_1", "org_b", "usr_9", "gdpr", 1));
              }).ok());
}

TEST_P(ConsentStoreTest, AnOrganizationUserIdBelongsToOneUser) {
  ASSERT_TRUE(Write([&](WriteTransaction& txn) {
                return txn.PutUser(User("usr_1", "org_a", "ou-1", 10));
              }).ok());
  EXPECT_EQ(Write([&](WriteTransaction& txn) {
              return txn.PutUser(User("usr_2", "org_a", "ou-1", 11));
            }).code(),
            StatusCode::kConflict);
  // Replacing the same user is an update, and another organization has its own namespace.
  ConsentUserRow changed = User("usr_1", "org_a", "ou-1", 10);
  changed.state_json = R"({"n":2})";
  changed.updated_at = 12;
  EXPECT_TRUE(Write([&](WriteTransaction& txn) { return txn.PutUser(changed); }).ok());
  EXPECT_EQ((*store_->GetUser("org_a", "usr_1"))->state_json, R"({"n":2})");
  EXPECT_TRUE(Write([&](WriteTransaction& txn) {
                return txn.PutUser(User("usr_3", "org_b", "ou-1", 13));
              }).ok());
}

TEST_P(ConsentStoreTest, EventsListNewestFirstAndUsersOldestFirstWithFiltersAndPages) {
  ASSERT_TRUE(
      Write([&](WriteTransaction& txn) -> Status {
        RELAY_RETURN_IF_ERROR(txn.PutUser(User("usr_1", "org_a", "ou-1", 10)));
        RELAY_RETURN_IF_ERROR(txn.PutUser(User("usr_2", "org_a", "ou-2", 20)));
        RELAY_RETURN_IF_ERROR(txn.InsertEvent(Event("evt_1", "org_a", "usr_1", "gdpr", 10)));
        RELAY_RETURN_IF_ERROR(txn.InsertEvent(Event("evt_2", "org_a", "usr_2", "ccpa", 20)));
        return txn.InsertEvent(Event("evt_3", "org_a", "usr_1", "gdpr", 30));
      }).ok());
  auto all = store_->ListEvents("org_a", "", "", PageRequest{10, 0});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->total, 3);
  EXPECT_EQ(all->items[0].id, "evt_3");
  EXPECT_EQ(all->items[2].id, "evt_1");
  auto mine = store_->ListEvents("org_a", "usr_1", "", PageRequest{1, 1});
  ASSERT_TRUE(mine.ok());
  EXPECT_EQ(mine->total, 2);
  ASSERT_EQ(mine->items.size(), 1u);
  EXPECT_EQ(mine->items[0].id, "evt_1");
  EXPECT_EQ(store_->ListEvents("org_a", "", "ccpa", PageRequest{})->total, 1);
  EXPECT_EQ(store_->ListEvents("org_b", "", "", PageRequest{})->total, 0);
  auto users = store_->ListUsers("org_a", "", PageRequest{10, 0});
  ASSERT_TRUE(users.ok());
  ASSERT_EQ(users->items.size(), 2u);
  EXPECT_EQ(users->items[0].id, "usr_1");
  EXPECT_EQ(store_->ListUsers("org_a", "ou-2", PageRequest{})->items.at(0).id, "usr_2");
}

TEST_P(ConsentStoreTest, EventsChangeAndGo) {
  ASSERT_TRUE(Write([&](WriteTransaction& txn) {
                return txn.InsertEvent(Event("evt_1", "org_a", "usr_1", "gdpr", 10));
              }).ok());
  ConsentEventRow changed = Event("evt_1", "org_a", "usr_1", "gdpr", 10);
  changed.entity_json = R"({"status":"pending_approval"})";
  changed.updated_at = 20;
  ASSERT_TRUE(Write([&](WriteTransaction& txn) { return txn.UpdateEvent(changed); }).ok());
  EXPECT_EQ((*store_->GetEvent("org_a", "evt_1"))->entity_json, changed.entity_json);
  ASSERT_TRUE(Write([&](WriteTransaction& txn) { return txn.DeleteEvent("org_a", "evt_1"); }).ok());
  EXPECT_FALSE(store_->GetEvent("org_a", "evt_1")->has_value());
}

TEST_P(ConsentStoreTest, IdempotentAnswersExpireAndGoWithTheirUser) {
  IdempotencyRow answer{"org_a", "key-1", "hash", "usr_1", 201, R"({"id":"evt_1"})", 100};
  IdempotencyRow other{"org_a", "key-2", "hash", "usr_2", 201, "{}", 100};
  ASSERT_TRUE(Write([&](WriteTransaction& txn) -> Status {
                RELAY_RETURN_IF_ERROR(txn.PutUser(User("usr_1", "org_a", "ou-1", 10)));
                RELAY_RETURN_IF_ERROR(
                    txn.InsertEvent(Event("evt_1", "org_a", "usr_1", "gdpr", 10)));
                RELAY_RETURN_IF_ERROR(txn.PutIdempotencyKey(answer));
                return txn.PutIdempotencyKey(other);
              }).ok());
  auto read = [&](const std::string& key, int64_t not_before) {
    std::optional<IdempotencyRow> out;
    EXPECT_TRUE(Write([&](WriteTransaction& txn) -> Status {
                  RELAY_ASSIGN_OR_RETURN(out, txn.GetIdempotencyKey("org_a", key, not_before));
                  return Status::Ok();
                }).ok());
    return out;
  };
  ASSERT_TRUE(read("key-1", 100).has_value());
  EXPECT_EQ(read("key-1", 100)->response_body, answer.response_body);
  EXPECT_FALSE(read("key-1", 101).has_value()) << "older than the window counts as absent";
  // Erasure takes the user, its events and its stored answers.
  ASSERT_TRUE(Write([&](WriteTransaction& txn) { return txn.DeleteUser("org_a", "usr_1"); }).ok());
  EXPECT_FALSE(store_->GetUser("org_a", "usr_1")->has_value());
  EXPECT_FALSE(store_->GetEvent("org_a", "evt_1")->has_value());
  EXPECT_FALSE(read("key-1", 0).has_value());
  EXPECT_EQ(Write([&](WriteTransaction& txn) { return txn.DeleteUser("org_a", "usr_1"); }).code(),
            StatusCode::kNotFound);
  // Old answers are purged.
  ASSERT_TRUE(read("key-2", 0).has_value());
  ASSERT_TRUE(store_->PurgeExpiredRecords(101).ok());
  EXPECT_FALSE(read("key-2", 0).has_value());
}

TEST_P(ConsentStoreTest, AWriteReadsFeaturesAndEnabledIntegrationsForTheFanOut) {
  PutIntegration("org_a", "int_on");
  PutIntegration("org_a", "int_off");
  PutIntegration("org_b", "int_b");
  IntegrationRow off = *store_->GetIntegration("org_a", "int_off");
  off.enabled = false;
  off.version = 2;
  ASSERT_TRUE(store_->UpdateIntegration(off, 1).ok());
  ASSERT_TRUE(store_->SetOrganizationFeature("org_a", "webhooks", true, 1).ok());
  std::vector<IntegrationRow> enabled;
  std::set<std::string> features;
  ASSERT_TRUE(Write([&](WriteTransaction& txn) -> Status {
                RELAY_ASSIGN_OR_RETURN(enabled, txn.ListFanOutIntegrations("org_a"));
                RELAY_ASSIGN_OR_RETURN(features, txn.GetOrganizationFeatures("org_a"));
                return Status::Ok();
              }).ok());
  ASSERT_EQ(enabled.size(), 1u);
  EXPECT_EQ(enabled[0].id, "int_on");
  EXPECT_EQ(features, std::set<std::string>{"webhooks"});
}

TEST_P(ConsentStoreTest, MessagesOfOneUserGetIncreasingSequencesInCommitOrder) {
  PutIntegration("org_a", "int_a");
  PutMessage("org_a", "msg_1", {"int_a"}, 100, "usr_1");
  PutMessage("org_a", "msg_2", {"int_a"}, 100, "usr_1");
  auto first = store_->GetDelivery("org_a", "int_a", "dlv_msg_1_int_a");
  auto second = store_->GetDelivery("org_a", "int_a", "dlv_msg_2_int_a");
  ASSERT_TRUE(first.ok() && first->has_value() && second.ok() && second->has_value());
  EXPECT_LT((*first)->sequence, (*second)->sequence);
  EXPECT_EQ((*first)->ordering_key, "usr_1");
  EXPECT_EQ((*first)->message_id, "msg_1");
}

RELAY_STORE_SUITE(ConsentStoreTest);

}  // namespace
}  // namespace relay::store
