// Sets the control database's schema up (approval_store_schema.h): in one
// transaction, under an advisory lock (two nodes starting together do not
// both create it), reads pgwarden.schema_version and runs the steps from
// there to this pgwarden's version. A schema newer than this pgwarden is
// refused rather than guessed at. Used by every connection that writes the
// control database: the approval store and the session index.
#pragma once

#include <string>
#include <string_view>

#include "approval/store_connection.h"

namespace pgw::approval {

struct SchemaSetup {
  enum class Outcome : uint8_t { ok, unreachable, refused };
  Outcome outcome = Outcome::ok;
  std::string why;
  bool created = false;  // this call created or upgraded it
};

// `c` is connected and idle. `config_key` names the setting in messages
// ("approval.store.dsn_file"). On refusal the connection is closed (the
// server rolls the setup back).
SchemaSetup set_up_control_schema(StoreConnection& c, StoreConnection::Clock::time_point until,
                                  std::string_view config_key);

}  // namespace pgw::approval
