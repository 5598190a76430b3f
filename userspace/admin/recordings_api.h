// GET /v1/recordings: the sessions `sessions list` shows, newest first.
// Live sessions come from this engine; with ?all (any value but "0") ended
// ones are added from the session index when one is configured (every
// node's: source "index"), else from the recording directory (source
// "directory"). Filters: identity, upstream, since, until (RFC 3339 or an
// age such as 30m, 2h, 7d), limit (default 1000).
#pragma once

#include "admin/admin_api.h"
#include "admin/http_server.h"

namespace pgw::admin {

HttpResponse list_recordings(AdminContext& c, const HttpRequest& req);

}  // namespace pgw::admin
