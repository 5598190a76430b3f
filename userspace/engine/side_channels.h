// Values leave a database through more than result rows: an error message
// quotes the input it could not convert (`SELECT ssn::int` reports
// `invalid input syntax for type integer: "123-45-6789"`), a notice can print
// anything, a NOTIFY payload and a ParameterStatus (application_name set by
// set_config) carry strings of the statement's choosing.
//
// Statements that would send a masked value into set_config or pg_notify are
// refused before they run (sql/lineage.h, writes_masked). What arrives
// anyway is scrubbed here:
//   - ErrorResponse / NoticeResponse of a statement that reads a masked
//     value: the message keeps its SQLSTATE, severity and shape, but every
//     "quoted" or (parenthesised) stretch of the message is replaced by ***,
//     and the detail, hint, context and internal query are replaced by one
//     line saying they were withheld;
//   - every ErrorResponse, NoticeResponse, NotificationResponse and
//     ParameterStatus: what the content detectors find is redacted.
#pragma once

#include <optional>
#include <string>
#include <string_view>


namespace pgw::engine {

// `type` is 'E' or 'N'; `body` the message body. Returns the whole
// replacement message (type, length, body), or nothing to forward as is.
std::optional<std::string> scrub_error_or_notice(char type, std::string_view body, bool reads_masked);

// 'A' NotificationResponse and 'S' ParameterStatus; same contract, and an
// empty replacement means: drop the message (it could not be read).
std::optional<std::string> scrub_notification(std::string_view body);
std::optional<std::string> scrub_parameter_status(std::string_view body);

}  // namespace pgw::engine
