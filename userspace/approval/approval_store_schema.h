// The control database's schema (schema pgwarden), as pgwarden creates it:
// the shared approval store (approval.store.dsn_file) and the session index
// (recording.index.dsn_file) may be one database or two; each sets up the
// whole schema through control_schema.h.
//
// Every node runs the setup when its store connection is made: in one
// transaction, under an advisory lock (so two nodes starting together do
// not both create it), it reads pgwarden.schema_version and creates what is
// missing. A database whose version is newer than kSchemaVersion belongs to
// a newer pgwarden: this one refuses it rather than guess at its rows.
// A later version adds its changes as steps from the version before.
#pragma once

#include <cstdint>
#include <iterator>
#include <string_view>

namespace pgw::approval {

inline constexpr int kSchemaVersion = 2;

// pg_advisory_xact_lock key of the setup ("pgwarden" in ASCII).
inline constexpr int64_t kSchemaLockKey = 0x7067776172646e;

// The channel a node is told on that a row changed; the payload is its id.
inline constexpr std::string_view kNotifyChannel = "pgwarden_approvals";

// Run only where pgwarden.schema_version does not exist yet (the setup
// checks first, so that a role without CREATE on the database can use a
// store someone else set up).
inline constexpr std::string_view kSchemaDdl = R"sql(
CREATE SCHEMA IF NOT EXISTS pgwarden;
CREATE TABLE IF NOT EXISTS pgwarden.schema_version (version int NOT NULL);
CREATE TABLE IF NOT EXISTS pgwarden.approvals (
  id            text PRIMARY KEY,          -- <node>-<instance>-<n>
  node          text NOT NULL,             -- the host whose pgwarden holds the client
  state         text NOT NULL,             -- pending, approved, denied, timed_out, withdrawn, aborted
  created       timestamptz NOT NULL,
  deadline      timestamptz NOT NULL,      -- the owning node times it out then
  min_approvals int NOT NULL,
  approved_by   text[] NOT NULL DEFAULT '{}',
  decided_by    text,
  reason        text,
  grant_for_ms  bigint,                    -- approve --for: the standing grant the owner adds
  request       jsonb NOT NULL             -- what the admin API shows, and what the rules need
);
CREATE INDEX IF NOT EXISTS approvals_pending ON pgwarden.approvals (created) WHERE state = 'pending';
INSERT INTO pgwarden.schema_version (version) VALUES (1);
)sql";

// Version 2: the session index, a row per recorded session of every node.
inline constexpr std::string_view kSchemaStep2 = R"sql(
CREATE TABLE IF NOT EXISTS pgwarden.sessions (
  id          text PRIMARY KEY,            -- <node>-<instance>-<n>, the recording's session_id
  node        text NOT NULL,
  identity    text NOT NULL,
  upstream    text NOT NULL,
  database    text NOT NULL,
  username    text NOT NULL,
  start_time  timestamptz NOT NULL,
  end_time    timestamptz,                 -- NULL while the session is live
  allowed     bigint NOT NULL DEFAULT 0,   -- statements allowed, denied, held for approval
  denied      bigint NOT NULL DEFAULT 0,
  held        bigint NOT NULL DEFAULT 0,
  file        text                         -- the recording's file name on its node
);
CREATE INDEX IF NOT EXISTS sessions_start ON pgwarden.sessions (start_time DESC);
UPDATE pgwarden.schema_version SET version = 2;
)sql";

// The steps from version 0: kSchemaSteps[v] takes version v to v + 1.
inline constexpr std::string_view kSchemaSteps[] = {kSchemaDdl, kSchemaStep2};
static_assert(std::size(kSchemaSteps) == kSchemaVersion);

}  // namespace pgw::approval
