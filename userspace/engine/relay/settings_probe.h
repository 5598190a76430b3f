// pgwarden's question to the server after a statement that may have changed
// the session's settings where its text does not show (a set_config() with
// a computed name, a user function running SET ROLE): what are the role,
// the session authorization and the search_path now?
//
// The question goes right behind the statement, before anything else of
// the client's, and the relay holds the client's later messages until the
// answer is in (relay.h): nothing of the session runs under a role the
// policy does not allow. Its answers never reach the client.
//
//   after a Query   → Query "SELECT current_setting(...) ..."; the answer
//                     comes with its own ReadyForQuery
//   after an Execute (inside an extended-protocol batch) → Parse, Bind,
//                     Execute, Close, Close of a statement and portal named
//                     with an unguessable word (the client's unnamed ones
//                     stay as they are), then Flush, so that the server
//                     sends the answer without waiting for the client's
//                     Sync. If the statement failed, the server skips the
//                     question with the rest of the batch: the transaction
//                     is aborted and took the statement's changes with it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "engine/relay/protocol_tracker.h"
#include "policy/session_sql_state.h"

namespace pgw::relay {

// The question's messages, in order: the request each makes (a Flush makes
// none), the statement or portal it names, its bytes.
struct ProbeMessage {
  std::optional<Request::Kind> kind;
  std::string name;
  std::string bytes;
};
std::vector<ProbeMessage> settings_probe_messages(bool extended);

// The one row of the answer (a DataRow's body).
Result<policy::ServerSettings> read_settings_row(std::string_view data_row_body);

}  // namespace pgw::relay
