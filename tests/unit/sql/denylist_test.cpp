// The built-in function deny-list: every entry, in every spelling and place.
#include <gtest/gtest.h>

#include <cctype>
#include <string>

#include "sql/analyze.h"
#include "sql/function_denylist.h"

namespace pgw::sql {
namespace {

// A concrete function name for an entry (prefix entries stand for a family).
std::string example_name(const DenylistEntry& e) {
  if (!e.prefix) return std::string(e.name);
  if (e.name == "lo_") return "lo_open";
  if (e.name == "dblink") return "dblink_exec";
  if (e.name == "pg_file_") return "pg_file_write";
  if (e.name == "pg_logical_slot_") return "pg_logical_slot_get_changes";
  if (e.name == "pg_replication_origin_") return "pg_replication_origin_create";
  return std::string(e.name) + "x";
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string mixed(std::string s) {
  for (std::size_t i = 0; i < s.size(); i += 2)
    s[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[i])));
  return s;
}

// The risk of the one deny-listed function found in sql, or none.
FunctionRisk risk_in(const std::string& sql) {
  auto a = analyze(sql);
  EXPECT_TRUE(a.ok()) << sql << ": " << a.error_message;
  FunctionRisk found = FunctionRisk::none;
  for (const auto& s : a.statements)
    for (const auto& f : s.functions)
      if (f.risk != FunctionRisk::none) found = f.risk;
  return found;
}

TEST(Denylist, TheIssueListIsCovered) {
  const std::pair<const char*, FunctionRisk> required[] = {
      {"pg_read_file", FunctionRisk::file_access},
      {"pg_read_binary_file", FunctionRisk::file_access},
      {"pg_ls_dir", FunctionRisk::file_access},
      {"pg_stat_file", FunctionRisk::file_access},
      {"lo_import", FunctionRisk::file_access},
      {"lo_export", FunctionRisk::file_access},
      {"lo_open", FunctionRisk::large_object},
      {"lo_unlink", FunctionRisk::large_object},
      {"lo_from_bytea", FunctionRisk::large_object},
      {"query_to_xml", FunctionRisk::sql_in_string},
      {"query_to_xml_and_xmlschema", FunctionRisk::sql_in_string},
      {"query_to_xmlschema", FunctionRisk::sql_in_string},
      {"cursor_to_xml", FunctionRisk::sql_in_string},
      {"table_to_xml", FunctionRisk::sql_in_string},
      {"dblink", FunctionRisk::remote_sql},
      {"dblink_exec", FunctionRisk::remote_sql},
      {"dblink_connect_u", FunctionRisk::remote_sql},
      {"dblink_send_query", FunctionRisk::remote_sql},
      {"pg_terminate_backend", FunctionRisk::backend_signal},
      {"pg_cancel_backend", FunctionRisk::backend_signal},
      {"pg_reload_conf", FunctionRisk::server_control},
      {"pg_rotate_logfile", FunctionRisk::server_control},
      {"pg_promote", FunctionRisk::server_control},
      {"pg_create_logical_replication_slot", FunctionRisk::replication},
      {"pg_logical_slot_get_changes", FunctionRisk::replication},
      {"pg_logical_slot_peek_binary_changes", FunctionRisk::replication},
      {"pg_drop_replication_slot", FunctionRisk::replication},
  };
  for (const auto& [name, risk] : required) EXPECT_EQ(builtin_function_risk(name), risk) << name;
}

TEST(Denylist, EveryEntryInEverySpellingAndPlace) {
  for (const auto& entry : builtin_function_denylist()) {
    const std::string name = example_name(entry);
    const std::string spellings[] = {
        name,
        "pg_catalog." + name,
        "\"" + name + "\"",
        "\"pg_catalog\".\"" + name + "\"",
        upper(name),
        mixed(name),
        "PG_CATALOG." + upper(name),
        "\"" + upper(name) + "\"",
        "public." + name,
        "mydb.pg_catalog." + name,
    };
    for (const auto& spelled : spellings) {
      const std::string places[] = {
          "SELECT " + spelled + "(1)",
          "SELECT * FROM " + spelled + "(1) AS f(a int)",
          "SELECT * FROM t WHERE a = (SELECT " + spelled + "(1))",
          "WITH x AS (SELECT " + spelled + "(1)) SELECT * FROM x",
          "INSERT INTO t SELECT " + spelled + "(1)",
          "CALL " + spelled + "(1)",
          "SELECT 1; SELECT /* x */ " + spelled + " ( 1 )",
          "DO $$BEGIN PERFORM " + spelled + "(1); END$$",
          "EXPLAIN SELECT " + spelled + "(1)",
      };
      for (const auto& sql : places) EXPECT_EQ(risk_in(sql), entry.risk) << sql;
    }
  }
}

TEST(Denylist, FlagsFollowTheRisk) {
  auto flags = [](const std::string& sql) {
    auto a = analyze(sql);
    return a.ok() && !a.statements.empty() ? a.statements[0].flags : 0u;
  };
  EXPECT_EQ(flags("SELECT pg_read_file('x')"), kTouchesFiles | kDenylistedFunction);
  EXPECT_EQ(flags("SELECT lo_export(1, '/tmp/x')"), kTouchesFiles | kDenylistedFunction);
  EXPECT_EQ(flags("SELECT query_to_xml('DELETE FROM t RETURNING *', true, false, '')"),
            kRunsSqlString | kDenylistedFunction);
  EXPECT_EQ(flags("SELECT * FROM dblink('c', 'SELECT 1') AS x(a int)"),
            kRunsSqlString | kDenylistedFunction);
  EXPECT_EQ(flags("SELECT pg_cancel_backend(1)"), kDenylistedFunction);
  EXPECT_EQ(flags("SELECT now()"), 0u);
}

TEST(Denylist, LookalikesAreNotDenied) {
  for (auto name : {"pg_read_files", "read_file", "my_pg_read_file", "lo", "blo_open", "looper",
                    "set_configuration", "xset_config", "query_to_xml2", "pg_reload",
                    "dblin", "lower", "pg_logical", "pg_ls_dirs"})
    EXPECT_EQ(builtin_function_risk(name), FunctionRisk::none) << name;
}

TEST(Denylist, SchemaAndCaseAreReportedAsWritten) {
  auto a = analyze("SELECT \"PG_CATALOG\".\"PG_READ_FILE\"('x')");
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a.statements[0].functions.size(), 1u);
  const auto& f = a.statements[0].functions[0];
  EXPECT_EQ(f.schema, "PG_CATALOG");
  EXPECT_EQ(f.name, "PG_READ_FILE");
  EXPECT_EQ(f.risk, FunctionRisk::file_access);
}

}  // namespace
}  // namespace pgw::sql
