#include "engine/relay/settings_probe.h"

#include "engine/relay/denial_markers.h"
#include "pgwire/data_row.h"
#include "pgwire/frontend_messages.h"

namespace pgw::relay {
namespace {

constexpr std::string_view kQuestion =
    "SELECT pg_catalog.current_setting('role'), pg_catalog.current_setting('session_authorization'), "
    "pg_catalog.current_setting('search_path')";

template <typename M>
ProbeMessage message(Request::Kind kind, std::string_view name, const M& m) {
  ProbeMessage out{kind, std::string(name), {}};
  pgwire::encode(m, out.bytes);
  return out;
}

}  // namespace

std::vector<ProbeMessage> settings_probe_messages(bool extended) {
  std::vector<ProbeMessage> out;
  if (!extended) {
    out.push_back(message(Request::Kind::query, "", pgwire::Query{kQuestion}));
    return out;
  }
  const std::string name = "pgwarden_settings_" + new_denial_token();
  using Kind = Request::Kind;
  out.push_back(message(Kind::parse, name, pgwire::Parse{name, kQuestion, {}}));
  pgwire::Bind bind;
  bind.portal = name;
  bind.statement = name;
  out.push_back(message(Kind::bind, name, bind));
  out.push_back(message(Kind::execute, name, pgwire::Execute{name, 0}));
  out.push_back(message(Kind::close_portal, name, pgwire::Close{pgwire::kTargetPortal, name}));
  out.push_back(message(Kind::close_statement, name, pgwire::Close{pgwire::kTargetStatement, name}));
  out.push_back({std::nullopt, "", std::string("H\0\0\0\4", 5)});  // Flush: no answer
  return out;
}

Result<policy::ServerSettings> read_settings_row(std::string_view body) {
  auto row = pgwire::DataRow::decode(body);
  if (!row) return make_error("malformed DataRow: " + row.error());
  if (row->columns.size() != 3) return make_error("expected 3 columns, got " + std::to_string(row->columns.size()));
  std::vector<std::string> values;
  for (const pgwire::Value v : row->columns) {
    if (!v) return make_error("a setting was NULL");
    values.emplace_back(*v);
  }
  policy::ServerSettings s;
  s.role = std::move(values[0]);
  s.session_authorization = std::move(values[1]);
  s.search_path = std::move(values[2]);
  return s;
}

}  // namespace pgw::relay
