#include "sql/function_denylist.h"

#include <array>

namespace pgw::sql {
namespace {

using R = FunctionRisk;

// The one place the list lives. Sources: PostgreSQL 15 "System
// Administration Functions" and "XML Functions", contrib dblink and
// adminpack, large object server-side functions.
constexpr std::array kDenylist = {
    // Server files.
    DenylistEntry{"pg_read_file", false, R::file_access},
    DenylistEntry{"pg_read_binary_file", false, R::file_access},
    DenylistEntry{"pg_ls_dir", false, R::file_access},
    DenylistEntry{"pg_stat_file", false, R::file_access},
    DenylistEntry{"pg_ls_logdir", false, R::file_access},
    DenylistEntry{"pg_ls_waldir", false, R::file_access},
    DenylistEntry{"pg_ls_archive_statusdir", false, R::file_access},
    DenylistEntry{"pg_ls_tmpdir", false, R::file_access},
    DenylistEntry{"pg_ls_logicalsnapdir", false, R::file_access},
    DenylistEntry{"pg_ls_logicalmapdir", false, R::file_access},
    DenylistEntry{"pg_ls_replslotdir", false, R::file_access},
    DenylistEntry{"pg_file_", true, R::file_access},  // adminpack: pg_file_write, _rename, _unlink, _sync
    DenylistEntry{"pg_logdir_ls", false, R::file_access},
    // Large objects: lo_import/lo_export touch server files (listed first:
    // the first match wins); the rest read and write data outside any table.
    DenylistEntry{"lo_import", false, R::file_access},
    DenylistEntry{"lo_export", false, R::file_access},
    DenylistEntry{"lo_", true, R::large_object},
    DenylistEntry{"loread", false, R::large_object},
    DenylistEntry{"lowrite", false, R::large_object},
    // SQL (or a table read) named in a string.
    DenylistEntry{"query_to_xml", false, R::sql_in_string},
    DenylistEntry{"query_to_xmlschema", false, R::sql_in_string},
    DenylistEntry{"query_to_xml_and_xmlschema", false, R::sql_in_string},
    DenylistEntry{"cursor_to_xml", false, R::sql_in_string},
    DenylistEntry{"cursor_to_xmlschema", false, R::sql_in_string},
    DenylistEntry{"table_to_xml", false, R::sql_in_string},
    DenylistEntry{"table_to_xmlschema", false, R::sql_in_string},
    DenylistEntry{"table_to_xml_and_xmlschema", false, R::sql_in_string},
    DenylistEntry{"schema_to_xml", false, R::sql_in_string},
    DenylistEntry{"schema_to_xmlschema", false, R::sql_in_string},
    DenylistEntry{"schema_to_xml_and_xmlschema", false, R::sql_in_string},
    DenylistEntry{"database_to_xml", false, R::sql_in_string},
    DenylistEntry{"database_to_xmlschema", false, R::sql_in_string},
    DenylistEntry{"database_to_xml_and_xmlschema", false, R::sql_in_string},
    DenylistEntry{"ts_stat", false, R::sql_in_string},     // ts_stat('SELECT ...')
    DenylistEntry{"ts_rewrite", false, R::sql_in_string},  // ts_rewrite(q, 'SELECT ...')
    // Other servers.
    DenylistEntry{"dblink", true, R::remote_sql},  // dblink, dblink_exec, dblink_connect, ...
    // Other sessions.
    DenylistEntry{"pg_terminate_backend", false, R::backend_signal},
    DenylistEntry{"pg_cancel_backend", false, R::backend_signal},
    // The server itself.
    DenylistEntry{"pg_reload_conf", false, R::server_control},
    DenylistEntry{"pg_rotate_logfile", false, R::server_control},
    DenylistEntry{"pg_promote", false, R::server_control},
    DenylistEntry{"pg_switch_wal", false, R::server_control},
    DenylistEntry{"pg_create_restore_point", false, R::server_control},
    DenylistEntry{"pg_backup_start", false, R::server_control},
    DenylistEntry{"pg_backup_stop", false, R::server_control},
    DenylistEntry{"pg_start_backup", false, R::server_control},  // before PostgreSQL 15
    DenylistEntry{"pg_stop_backup", false, R::server_control},
    DenylistEntry{"pg_wal_replay_pause", false, R::server_control},
    DenylistEntry{"pg_wal_replay_resume", false, R::server_control},
    DenylistEntry{"pg_log_backend_memory_contexts", false, R::server_control},
    // Replication slots and logical decoding.
    DenylistEntry{"pg_create_logical_replication_slot", false, R::replication},
    DenylistEntry{"pg_create_physical_replication_slot", false, R::replication},
    DenylistEntry{"pg_drop_replication_slot", false, R::replication},
    DenylistEntry{"pg_copy_logical_replication_slot", false, R::replication},
    DenylistEntry{"pg_copy_physical_replication_slot", false, R::replication},
    DenylistEntry{"pg_replication_slot_advance", false, R::replication},
    DenylistEntry{"pg_logical_slot_", true, R::replication},  // get/peek (binary) changes
    DenylistEntry{"pg_logical_emit_message", false, R::replication},
    DenylistEntry{"pg_replication_origin_", true, R::replication},
};

bool iequals_prefix(std::string_view name, std::string_view pattern, bool prefix) {
  if (name.size() < pattern.size() || (!prefix && name.size() != pattern.size())) return false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    char c = name[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != pattern[i]) return false;
  }
  return true;
}

}  // namespace

std::span<const DenylistEntry> builtin_function_denylist() { return kDenylist; }

FunctionRisk builtin_function_risk(std::string_view name) {
  for (const auto& entry : kDenylist)
    if (iequals_prefix(name, entry.name, entry.prefix)) return entry.risk;
  return FunctionRisk::none;
}

}  // namespace pgw::sql
