// GET /v1/recordings/{id}: one recorded session's transcript, for the
// console and scripts:
//   {"session": {header fields}, "verified": {"records", "ok", "closed",
//    "live", "authenticated", "problem"}, "entries": [...]}
// the entries being what `pgwarden sessions export` writes, in order
// (audit/session_transcript.h). The file is found in recording.dir by its
// session id, read up to what verifies (hash chain and signatures, with the
// public half of recording.signing_key_file).
#pragma once

#include "admin/admin_api.h"
#include "admin/http_server.h"

namespace pgw::admin {

HttpResponse recording_transcript(AdminContext& context, const HttpRequest& request);

}  // namespace pgw::admin
