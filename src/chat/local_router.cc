#include "parley/chat/local_router.h"

#include "parley/chat/session.h"
#include "parley/chat/session_registry.h"

namespace parley::chat {

void LocalRouter::DeliverItem(const std::string& user, std::shared_ptr<const v1::Item> item) {
  if (auto session = registry_->Find(user)) session->OfferItem(std::move(item));
}

void LocalRouter::RelayTyping(const std::string& from, const std::string& to) {
  if (auto session = registry_->Find(to)) session->OfferTyping(from);
}

}  // namespace parley::chat
