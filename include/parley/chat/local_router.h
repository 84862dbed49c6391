// LocalRouter: routes to sessions on this host, through the SessionRegistry.

#ifndef PARLEY_CHAT_LOCAL_ROUTER_H_
#define PARLEY_CHAT_LOCAL_ROUTER_H_

#include "parley/chat/router.h"

namespace parley::chat {

class SessionRegistry;

class LocalRouter final : public Router {
 public:
  // `registry` is not owned and must outlive the router.
  explicit LocalRouter(SessionRegistry* registry) : registry_(registry) {}

  void DeliverItem(const std::string& user, std::shared_ptr<const v1::Item> item) override;
  void RelayTyping(const std::string& from, const std::string& to) override;

 private:
  SessionRegistry* registry_;
};

}  // namespace parley::chat

#endif  // PARLEY_CHAT_LOCAL_ROUTER_H_
