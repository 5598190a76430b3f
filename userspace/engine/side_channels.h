// Values leave a database through more than result rows: an error message
// prints the input it could not convert (`SELECT ssn::int` reports
// `invalid input syntax for type integer: "123-45-6789"`) or a number
// derived from it (`chr(...)`: `requested character too large for encoding:
// 123456789`), a notice can print anything, a NOTIFY payload and a
// ParameterStatus (application_name set by set_config) carry strings of the
// statement's choosing.
//
// Statements that would send a masked value into set_config or pg_notify are
// refused before they run (sql/lineage.h, writes_masked). What arrives
// anyway is scrubbed here, with the rules of the policy in force and nothing
// else: a policy without mask rules changes no byte of any of these
// messages.
//   - ErrorResponse / NoticeResponse of a statement that reads a masked
//     value (its lineage says so, or it could not be traced): the message
//     keeps its SQLSTATE, severity, position and the fixed wording of
//     PostgreSQL's format (server_message_formats.h), every value the
//     server filled in shown as ***; a message of no known format becomes
//     one fixed sentence. Detail, hint and context are kept the same way
//     (their fixed wording only) or dropped, the internal query is dropped,
//     and a detail says what was withheld.
//   - ErrorResponse, NoticeResponse, NotificationResponse and
//     ParameterStatus: what the policy's own content detectors (its
//     `detect:` rules) find is masked with the detect rule's function.
//   - ErrorResponse / NoticeResponse raised on a masked table (its table
//     field names one) while column rules are in force: as above, whatever
//     statement caused it.
//   - ErrorResponse / NoticeResponse whose text was built inside a function
//     (a trigger's RAISE of a value it looked up; the context says so) or
//     in no format PostgreSQL uses, while column rules are in force: every
//     detector runs on it, as on a NOTIFY payload.
//   - NotificationResponse while column rules are in force: every detector
//     runs on the payload. A trigger can notify a masked table's rows
//     (`pg_notify('changed', row_to_json(OLD)::text)`), and another
//     session's payload is text pgwarden never saw being built: like a
//     PL/pgSQL function's result, it cannot be traced.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "mask/detector.h"
#include "mask/mask_function.h"

namespace pgw::policy {
class MaskModel;
}

namespace pgw::engine {

class MaskHandle;

// What the policy in force asks of the side channels of one message. It
// points into the handle's model: the handle must outlive it.
struct SideChannelRules {
  const mask::DetectorSet* detectors = nullptr;  // the policy's detect rules (null or empty: none)
  const mask::MaskFunction* function = nullptr;  // what a detector hit becomes
  bool reads_masked = false;  // the statement answered reads (or may read) a masked value
  // The policy's mask model (null: none). While it masks columns, an error
  // or notice raised on a masked table (its table field) is treated as one
  // of a statement that reads masked values, whatever caused it: a write
  // through a view of clean columns, a trigger or a cascade makes
  // PostgreSQL print the table's whole row ("Failing row contains"). And
  // one whose text a function built meets every detector.
  const policy::MaskModel* model = nullptr;

  // Whether anything could change: otherwise every byte is forwarded as is.
  // (An error or notice is also read while `model` masks columns.)
  bool active() const { return reads_masked || (detectors != nullptr && !detectors->empty()); }
};

// The rules for a message answering a statement sent under `handle` (null:
// the policy masked nothing then). `reads_masked` comes from the statement's
// lineage. A handle that could not be built (an error) fails closed: every
// detector, and errors withheld as if the statement read masked values.
SideChannelRules side_channel_rules(const Result<std::shared_ptr<MaskHandle>>& handle, bool reads_masked);
SideChannelRules side_channel_rules(const policy::MaskModel& model, bool reads_masked);
// The rules for a NotificationResponse (any session's, any time).
SideChannelRules notification_rules(const Result<std::shared_ptr<MaskHandle>>& handle);

// `type` is 'E' or 'N'; `body` the message body. Returns the whole
// replacement message (type, length, body), or nothing to forward as is.
std::optional<std::string> scrub_error_or_notice(char type, std::string_view body, const SideChannelRules& rules);

// 'A' NotificationResponse and 'S' ParameterStatus; same contract, and an
// empty replacement means: drop the message (it could not be read).
std::optional<std::string> scrub_notification(std::string_view body, const SideChannelRules& rules);
std::optional<std::string> scrub_parameter_status(std::string_view body, const SideChannelRules& rules);

}  // namespace pgw::engine
