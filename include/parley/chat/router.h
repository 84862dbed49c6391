// Router: how an item or an ephemeral event reaches a user's live session.
//
// Every path from one user to another goes through this interface, so that a route to a user
// homed on another host can be added without touching the gateway or the storage.

#ifndef PARLEY_CHAT_ROUTER_H_
#define PARLEY_CHAT_ROUTER_H_

#include <memory>
#include <string>

#include "parley/v1/parley.pb.h"

namespace parley::chat {

class Router {
 public:
  virtual ~Router() = default;

  // Offers a committed mailbox item to the owner's live session, if she has one. Losing the
  // offer is harmless: the item is in the mailbox and will be paged from there. Thread-safe.
  virtual void DeliverItem(const std::string& user, std::shared_ptr<const v1::Item> item) = 0;

  // Relays a typing notice to `to` if she is online; never stored. Thread-safe.
  virtual void RelayTyping(const std::string& from, const std::string& to) = 0;
};

}  // namespace parley::chat

#endif  // PARLEY_CHAT_ROUTER_H_
