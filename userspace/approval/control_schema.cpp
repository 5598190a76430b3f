#include "approval/control_schema.h"

#include <charconv>

#include "approval/approval_store_schema.h"

namespace pgw::approval {

SchemaSetup set_up_control_schema(StoreConnection& c, StoreConnection::Clock::time_point until,
                                  std::string_view config_key) {
  auto fail = [&](const std::string& why) -> SchemaSetup {
    if (!c.connected()) return {SchemaSetup::Outcome::unreachable, why, false};
    c.close();  // the server rolls the setup back
    return {SchemaSetup::Outcome::refused, why, false};
  };
  // Under the lock, only one node at a time looks and creates; the others
  // then find the schema made.
  auto began = c.exec("BEGIN; SELECT pg_advisory_xact_lock(" + std::to_string(kSchemaLockKey) + ")", until);
  if (!began) return fail("setting up the schema: " + began.error());
  auto exists = c.exec("SELECT to_regclass('pgwarden.schema_version') IS NOT NULL", until);
  if (!exists || exists->size() != 1) {
    return fail("reading the schema version: " + (exists ? "no row" : exists.error()));
  }
  int version = 0;
  if ((*exists)[0][0] == "t") {
    auto v = c.exec("SELECT coalesce(max(version), 0) FROM pgwarden.schema_version", until);
    const auto& text = v && v->size() == 1 ? (*v)[0][0] : std::nullopt;
    if (!text || std::from_chars(text->data(), text->data() + text->size(), version).ec != std::errc()) {
      return fail("reading pgwarden.schema_version: " + (v ? "unreadable" : v.error()));
    }
  }
  if (version > kSchemaVersion) {
    return fail("the database's pgwarden schema is version " + std::to_string(version) +
                ", newer than this pgwarden knows (" + std::to_string(kSchemaVersion) +
                "): upgrade pgwarden on this node, or point " + std::string(config_key) + " at another database");
  }
  for (int step = version; step < kSchemaVersion; ++step) {
    if (auto made = c.exec(std::string(kSchemaSteps[step]), until); !made) {
      return fail("creating the schema pgwarden (version " + std::to_string(step + 1) + "): " + made.error());
    }
  }
  if (auto done = c.exec("COMMIT", until); !done) return fail("setting up the schema: " + done.error());
  return {SchemaSetup::Outcome::ok, {}, version < kSchemaVersion};
}

}  // namespace pgw::approval
