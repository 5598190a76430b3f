// How a refused message keeps PostgreSQL's own error semantics.
//
// When pgwarden refuses a message, the client must see exactly what it would
// see had PostgreSQL itself failed it there: earlier pipelined messages still
// answered in order, the failed transaction block aborted, later
// extended-protocol messages skipped until Sync. Rather than imitate all of
// that, pgwarden sends the upstream, in place of the refused message, one
// that fails at once and does nothing else, naming a word unique to this
// denial (the token). PostgreSQL answers it with an error in the right place
// of the response stream, with the right effects; the relay replaces that
// error with its own. The refused text never reaches the database.
//
//   Query, FunctionCall → Query "<token>"             (a syntax error)
//   Parse               → Parse of the same name, query "<token>" (fails at
//                         raw parsing: a named statement stays as it was,
//                         the unnamed one is dropped, as by any Parse)
//   Bind                → Bind of statement "<token>"  (no such statement:
//                         fails before a portal is made)
//   Execute             → Execute of portal "<token>"  (no such portal)
//   a Query pgwarden's parser refuses → Parse "" of its text and Sync
//                         (parse_probe: the server parses it, runs nothing)
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/relay/protocol_tracker.h"

namespace pgw::relay {

// A word no client can guess (so no client can make the server echo the
// token of a pending denial in an error of its own).
std::string new_denial_token();

std::string marker_query(std::string_view token);
std::string marker_parse(std::string_view statement_name, std::string_view token);
std::string marker_bind(std::string_view token);
std::string marker_execute(std::string_view token);

// A Query refused because pgwarden's parser cannot read it goes to the
// server as Parse of the unnamed statement and Sync: the server parses it
// and runs nothing (a Query would drop the unnamed statement too).
std::string parse_probe(std::string_view sql);
// Whether the server's answer to a parse probe is its own refusal of the
// text (to pass on), rather than a sign that it read every statement of it.
bool server_refused_text(std::string_view error_body);
// The denial of a probed text the server read: pgwarden's parser is behind.
Denial server_read_it(const Denial& syntax_error);

// The ErrorResponse a client reads for a denial.
std::string denial_reply(const Denial& denial);

// If `error_body` (an ErrorResponse from the upstream) answers the marker of
// `denial`, the whole ErrorResponse to send the client instead; nothing when
// the server failed it for a reason of its own (an aborted transaction), so
// that the client sees that reason, as it would have.
std::optional<std::string> denial_error(const Denial& denial, std::string_view error_body);

}  // namespace pgw::relay
