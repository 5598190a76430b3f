// decide() rule by rule, each with a policy written for it: class lists and
// their precedence, DDL refinements, functions and the built-in deny-list,
// tables globs with and without a catalog, parse failures, the session
// settings that change how SQL reads, FunctionCall and startup settings.
#include <gtest/gtest.h>

#include <chrono>

#include "policy/decision.h"
#include "policy_fixture.h"
#include "sample_catalog.h"

namespace pgw::policy {
namespace {

using testing::fresh_state;
using testing::load_policy_config;
using testing::sample_catalog;

class DecisionTest : public ::testing::Test {
 protected:
  // Decides `sql` under the policy body `rules` (YAML, see policy_fixture.h).
  Decision decide_with(const std::string& rules, std::string_view sql, const Catalog* catalog = nullptr) {
    return decide_with_state(rules, sql, fresh_state(), catalog);
  }
  Decision decide_with_state(const std::string& rules, std::string_view sql, const SessionSqlState& state,
                             const Catalog* catalog = nullptr) {
    config_ = load_policy_config(rules);
    EXPECT_NE(config_, nullptr);
    if (!config_) return {};
    return decide_sql(config_->policies.at(0), sql, state, catalog);
  }
  const Policy& policy() const { return config_->policies.at(0); }

  std::shared_ptr<const Config> config_;
  std::shared_ptr<const Catalog> catalog_ = sample_catalog();
};

// ---- classes -------------------------------------------------------------------------------

TEST_F(DecisionTest, AllowedStatement) {
  auto d = decide_with("    allow: [select]\n", "SELECT * FROM t");
  EXPECT_EQ(d.action, Action::allow);
  EXPECT_EQ(d.rule, "allow: select");
  EXPECT_TRUE(d.sqlstate.empty());
  EXPECT_TRUE(d.message.empty());
  EXPECT_TRUE(d.cacheable);
  EXPECT_FALSE(d.changes_session);
}

TEST_F(DecisionTest, ClassInNoListIsDenied) {
  auto d = decide_with("    allow: [select]\n", "INSERT INTO t VALUES (1)");
  EXPECT_EQ(d.action, Action::deny);
  EXPECT_EQ(d.rule, "not allowed: insert");
  EXPECT_EQ(d.sqlstate, "42501");
  EXPECT_EQ(d.message, "pgwarden: insert on t denied by policy for agent");
  EXPECT_NE(d.detail.find("does not allow insert"), std::string::npos) << d.detail;
}

TEST_F(DecisionTest, DenyBeatsApproveBeatsAllow) {
  const std::string rules = "    allow: [select]\n    approve: [delete]\n    deny: [update]\n";
  auto held = decide_with(rules, "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d");
  EXPECT_EQ(held.action, Action::approve);
  EXPECT_EQ(held.sqlstate, "42501");
  EXPECT_EQ(held.message, "pgwarden: delete on t requires approval by policy for agent");
  EXPECT_NE(held.detail.find("Approvals are not available yet"), std::string::npos);
  auto denied = decide_with(rules, "WITH d AS (DELETE FROM t RETURNING *) UPDATE u SET x = 1");
  EXPECT_EQ(denied.action, Action::deny);
  EXPECT_EQ(denied.rule, "deny: update");
}

TEST_F(DecisionTest, MultiStatementTakesTheWorstPart) {
  const std::string rules = "    allow: [select]\n    approve: [delete]\n";
  auto held = decide_with(rules, "SELECT 1; DELETE FROM t; SELECT 2");
  EXPECT_EQ(held.action, Action::approve);
  EXPECT_EQ(held.deciding_statement, 1);
  ASSERT_EQ(held.statements.size(), 3u);
  EXPECT_EQ(held.statements[0].action, Action::allow);
  EXPECT_NE(held.detail.find("Statement 2 of 3; no part of the string was run"), std::string::npos) << held.detail;
  auto denied = decide_with(rules, "DELETE FROM t; INSERT INTO t VALUES (1)");
  EXPECT_EQ(denied.action, Action::deny);
  EXPECT_EQ(denied.deciding_statement, 1);
}

TEST_F(DecisionTest, FineDdlClassesTakeDdlsVerdict) {
  const std::string rules = "    allow: [select]\n    approve: [ddl]\n    deny: [drop]\n";
  auto create = decide_with(rules, "CREATE TABLE t (x int)");
  EXPECT_EQ(create.action, Action::approve);
  EXPECT_EQ(create.rule, "approve: ddl");
  EXPECT_EQ(decide_with(rules, "DROP TABLE t").rule, "deny: drop");
  // A finer class named on its own decides without ddl.
  auto only_create = decide_with("    allow: [select, create]\n", "CREATE TABLE t (x int)");
  EXPECT_EQ(only_create.action, Action::allow);
  EXPECT_EQ(decide_with("    allow: [select, create]\n", "ALTER TABLE t ADD x int").rule, "not allowed: alter");
  // ddl with no finer class (GRANT is grant, COMMENT is alter): ddl itself.
  EXPECT_EQ(decide_with("    allow: [ddl]\n", "COMMENT ON TABLE t IS 'x'").action, Action::allow);
}

TEST_F(DecisionTest, UnknownIsDeniedUnlessAllowedByName) {
  const char* sql = "DO LANGUAGE plpython3u $$ import os $$";
  auto d = decide_with("    allow: [select, procedural]\n", sql);
  EXPECT_EQ(d.action, Action::deny);
  EXPECT_EQ(d.rule, "unknown statement");
  EXPECT_EQ(d.message, "pgwarden: unknown on DO block denied by policy for agent");
  EXPECT_EQ(decide_with("    allow: [select, procedural, unknown]\n", sql).action, Action::allow);
}

// ---- functions -----------------------------------------------------------------------------

TEST_F(DecisionTest, BuiltinDenyListUnlessAllowedByName) {
  auto d = decide_with("    allow: [select]\n", "SELECT pg_read_file('/etc/passwd')");
  EXPECT_EQ(d.action, Action::deny);
  EXPECT_EQ(d.rule, "built-in deny-list: pg_read_file (file_access)");
  EXPECT_EQ(d.message, "pgwarden: execute on function pg_read_file denied by policy for agent");

  const std::string allowed = "    allow: [select, function:pg_read_file]\n";
  EXPECT_EQ(decide_with(allowed, "SELECT pg_read_file('x')").action, Action::allow);
  EXPECT_EQ(decide_with(allowed, "SELECT pg_catalog.pg_read_file('x')").action, Action::allow);
  // A quoted name in another case is another function to the server; the
  // allow entry does not cover it, the deny-list does (case-insensitively).
  EXPECT_EQ(decide_with(allowed, "SELECT \"PG_READ_FILE\"('x')").action, Action::deny);

  const std::string qualified = "    allow: [select, function:pg_catalog.pg_read_file]\n";
  EXPECT_EQ(decide_with(qualified, "SELECT pg_read_file('x')").action, Action::allow);
  EXPECT_EQ(decide_with(qualified, "SELECT evil.pg_read_file('x')").action, Action::deny);
}

TEST_F(DecisionTest, NamedFunctionsInDenyAndApprove) {
  const std::string rules = "    allow: [select]\n    deny: [function:lower]\n    approve: [function:pg_catalog.now]\n";
  auto lower = decide_with(rules, "SELECT LOWER('X')");
  EXPECT_EQ(lower.action, Action::deny);
  EXPECT_EQ(lower.rule, "deny: function:lower");
  EXPECT_EQ(decide_with(rules, "SELECT myschema.\"LOWER\"('X')").action, Action::deny);
  auto now = decide_with(rules, "SELECT now()");
  EXPECT_EQ(now.action, Action::approve);
  EXPECT_EQ(now.message, "pgwarden: execute on function now requires approval by policy for agent");
  EXPECT_EQ(decide_with(rules, "SELECT other.now()").action, Action::allow);
}

TEST_F(DecisionTest, CopyProgramAndFileArePseudoFunctions) {
  const std::string rules = "    allow: [copy_to, copy_from]\n";
  EXPECT_EQ(decide_with(rules, "COPY t TO STDOUT").action, Action::allow);
  auto program = decide_with(rules, "COPY t TO PROGRAM 'gzip > /tmp/x'");
  EXPECT_EQ(program.action, Action::deny);
  EXPECT_EQ(program.rule, "built-in deny-list: copy_program (file_access)");
  EXPECT_EQ(decide_with(rules, "COPY t FROM '/tmp/x'").rule, "built-in deny-list: copy_file (file_access)");
  EXPECT_EQ(decide_with("    allow: [copy_to, function:copy_program]\n", "COPY t TO PROGRAM 'x'").action,
            Action::allow);
}

// ---- tables ----------------------------------------------------------------------------------

TEST_F(DecisionTest, TablesDenyOnEveryRelation) {
  const std::string rules = "    allow: [select, insert]\n    tables: { deny: [\"hr.*\"] }\n";
  auto d = decide_with(rules, "INSERT INTO public.log SELECT * FROM (SELECT * FROM hr.salaries) s", catalog_.get());
  EXPECT_EQ(d.action, Action::deny);
  EXPECT_EQ(d.rule, "tables.deny: hr.*");
  // The INSERT is allowed; what hr.salaries is used for is a read.
  EXPECT_EQ(d.message, "pgwarden: select on hr.salaries denied by policy for agent");
}

TEST_F(DecisionTest, TablesDenyGlobCannotBeDodgedWithDots) {
  const std::string rules = "    allow: [select]\n    tables: { deny: [\"public.*\"] }\n";
  EXPECT_EQ(decide_with(rules, "SELECT * FROM public.\"a.b\"").action, Action::deny);
  EXPECT_EQ(decide_with("    allow: [select]\n    tables: { deny: [\"*.secret*\"] }\n",
                        "SELECT * FROM x.\"secret.y\"")
                .action,
            Action::deny);
}

// A spanning glob that names a dotted table by its escaped dot: the name is
// matched as (schema, table), so "**" takes the schema and the escaped part
// the whole table name. Matched as one dotted string, the table would read
// as two parts and slip past the deny.
TEST_F(DecisionTest, TablesDenySpanningGlobNamesADottedTable) {
  const std::string rules = "    allow: [select]\n    tables: { deny: [\"**.odd\\\\.name\"] }\n";
  EXPECT_EQ(decide_with(rules, "SELECT * FROM x.\"odd.name\"").action, Action::deny);
  EXPECT_EQ(decide_with(rules, "SELECT * FROM x.\"odd\"").action, Action::allow);
  // An unknown schema: some schema could hold it.
  EXPECT_EQ(decide_with(rules, "SELECT * FROM \"odd.name\"").action, Action::deny);
}

TEST_F(DecisionTest, TablesApprove) {
  auto d = decide_with("    allow: [select]\n    tables: { approve: [\"public.orders\"] }\n",
                       "SELECT * FROM orders", catalog_.get());
  EXPECT_EQ(d.action, Action::approve);
  EXPECT_EQ(d.message, "pgwarden: select on public.orders requires approval by policy for agent");
}

TEST_F(DecisionTest, ViewsStandForTheirBaseRelations) {
  const std::string rules = "    allow: [select]\n    tables: { deny: [\"hr.*\"] }\n";
  auto d = decide_with(rules, "SELECT * FROM payroll_summary", catalog_.get());
  EXPECT_EQ(d.action, Action::deny);
  EXPECT_EQ(d.message, "pgwarden: select on public.payroll_summary (reads hr.salaries) denied by policy for agent");
  // Without a catalog a view is just a name.
  EXPECT_EQ(decide_with(rules, "SELECT * FROM payroll_summary").action, Action::allow);
}

TEST_F(DecisionTest, TablesAllowChecksWhatANameMeansNow) {
  const std::string rules = "    allow: [select]\n    tables: { allow: [\"public.*\"] }\n";
  EXPECT_EQ(decide_with(rules, "SELECT * FROM customers", catalog_.get()).action, Action::allow);
  auto hr = decide_with(rules, "SELECT * FROM hr.salaries", catalog_.get());
  EXPECT_EQ(hr.action, Action::deny);
  EXPECT_EQ(hr.rule, "tables.allow: hr.salaries not listed");
  // A view named in the list is allowed whatever it reads.
  EXPECT_EQ(decide_with(rules, "SELECT * FROM payroll", catalog_.get()).action, Action::allow);
  // Without a catalog nothing is known to exist: every schema the name
  // could mean must be listed, and "$user" (app_owner) is not.
  EXPECT_EQ(decide_with(rules, "SELECT * FROM customers").action, Action::deny);
  EXPECT_EQ(decide_with(rules, "SELECT * FROM public.customers").action, Action::allow);
}

TEST_F(DecisionTest, SchemaWideOperations) {
  const std::string rules = "    allow: [ddl, grant]\n    tables: { deny: [\"hr.*\"] }\n";
  auto drop = decide_with(rules, "DROP SCHEMA hr CASCADE");
  EXPECT_EQ(drop.action, Action::deny);
  EXPECT_EQ(drop.message, "pgwarden: drop on schema hr denied by policy for agent");
  EXPECT_EQ(decide_with(rules, "GRANT SELECT ON ALL TABLES IN SCHEMA hr TO PUBLIC").action, Action::deny);
  EXPECT_EQ(decide_with(rules, "DROP SCHEMA scratch").action, Action::allow);
  const std::string allow_list = "    allow: [ddl]\n    tables: { allow: [\"scratch.*\"] }\n";
  EXPECT_EQ(decide_with(allow_list, "DROP SCHEMA scratch CASCADE").action, Action::allow);
  EXPECT_EQ(decide_with(allow_list, "DROP SCHEMA public CASCADE").action, Action::deny);
}

// ---- functions that write, lock or run SQL from a string ------------------------------------

TEST_F(DecisionTest, SequenceFunctionsAreUpdatesOfTheSequence) {
  const std::string read_only = "    allow: [select]\n    deny: [insert, update, delete]\n";
  auto setval = decide_with(read_only, "SELECT setval('orders_id_seq', 5000)", catalog_.get());
  EXPECT_EQ(setval.action, Action::deny);
  EXPECT_EQ(setval.rule, "deny: update");
  EXPECT_EQ(setval.message, "pgwarden: update on public.orders_id_seq denied by policy for agent");
  EXPECT_EQ(decide_with(read_only, "SELECT nextval('orders_id_seq')", catalog_.get()).action, Action::deny);
  auto computed = decide_with(read_only, "SELECT nextval(pg_get_serial_sequence('orders', 'id'))", catalog_.get());
  EXPECT_EQ(computed.action, Action::deny);
  EXPECT_EQ(computed.message, "pgwarden: update on sequence denied by policy for agent");
  EXPECT_EQ(decide_with(read_only, "SELECT currval('orders_id_seq'), lastval()", catalog_.get()).action,
            Action::allow);
  // The sequence is a relation the tables rules see, written.
  const std::string tables = "    allow: [select, update]\n    tables: { deny: [\"hr.*\"] }\n";
  auto hr = decide_with(tables, "SELECT nextval('hr.salaries_seq')", catalog_.get());
  EXPECT_EQ(hr.action, Action::deny);
  EXPECT_EQ(hr.rule, "tables.deny: hr.*");
  EXPECT_EQ(decide_with(tables, "SELECT currval('hr.salaries_seq')", catalog_.get()).action, Action::deny);
  EXPECT_EQ(decide_with(tables, "SELECT nextval('orders_id_seq')", catalog_.get()).action, Action::allow);
  const std::string listed = "    allow: [select, update]\n    tables: { allow: [\"public.orders\"] }\n";
  EXPECT_EQ(decide_with(listed, "SELECT nextval('public.orders_id_seq')", catalog_.get()).action, Action::deny);
}

TEST_F(DecisionTest, AdvisoryLocksAreLocks) {
  const std::string rules = "    allow: [select]\n    deny: [lock]\n";
  for (const char* sql : {"SELECT pg_advisory_lock(1)", "SELECT pg_advisory_xact_lock_shared(1, 2)",
                          "SELECT pg_try_advisory_lock(1)", "SELECT pg_advisory_unlock(1)",
                          "SELECT pg_catalog.pg_advisory_unlock_all()"}) {
    auto d = decide_with(rules, sql);
    EXPECT_EQ(d.action, Action::deny) << sql;
    EXPECT_EQ(d.rule, "deny: lock") << sql;
    EXPECT_EQ(d.message, "pgwarden: lock on advisory lock denied by policy for agent") << sql;
  }
  EXPECT_EQ(decide_with("    allow: [select, lock]\n", "SELECT pg_advisory_lock(1)").action, Action::allow);
}

TEST_F(DecisionTest, SqlInAStringTakesTheClassesOfThatSql) {
  const std::string rules = "    allow: [select, function:query_to_xml]\n    deny: [delete]\n"
                            "    tables: { deny: [\"hr.*\"] }\n";
  EXPECT_EQ(decide_with(rules, "SELECT query_to_xml('SELECT 1', true, false, '')").action, Action::allow);
  auto del = decide_with(rules, "SELECT query_to_xml('DELETE FROM orders RETURNING 1', true, false, '')",
                         catalog_.get());
  EXPECT_EQ(del.action, Action::deny);
  EXPECT_EQ(del.rule, "deny: delete");
  EXPECT_EQ(del.message, "pgwarden: delete on public.orders denied by policy for agent");
  auto hr = decide_with(rules, "SELECT query_to_xml('SELECT * FROM hr.salaries', true, false, '')",
                        catalog_.get());
  EXPECT_EQ(hr.action, Action::deny);
  EXPECT_EQ(hr.rule, "tables.deny: hr.*");
  auto computed = decide_with(rules, "SELECT query_to_xml(current_setting('x'), true, false, '')");
  EXPECT_EQ(computed.action, Action::deny);
  EXPECT_EQ(computed.rule, "unknown statement");
  EXPECT_NE(computed.detail.find("SQL held in a string"), std::string::npos) << computed.detail;
  // A relation or schema named in a string is read: the tables rules apply.
  const std::string xml = "    allow: [select, function:table_to_xml, function:schema_to_xml, "
                          "function:database_to_xml]\n    tables: { deny: [\"hr.*\"] }\n";
  EXPECT_EQ(decide_with(xml, "SELECT table_to_xml('hr.salaries', true, false, '')", catalog_.get()).action,
            Action::deny);
  EXPECT_EQ(decide_with(xml, "SELECT table_to_xml('orders', true, false, '')", catalog_.get()).action,
            Action::allow);
  EXPECT_EQ(decide_with(xml, "SELECT schema_to_xml('hr', true, false, '')", catalog_.get()).action, Action::deny);
  EXPECT_EQ(decide_with(xml, "SELECT schema_to_xml('public', true, false, '')", catalog_.get()).action,
            Action::allow);
  auto db = decide_with(xml, "SELECT database_to_xml(true, false, '')", catalog_.get());
  EXPECT_EQ(db.action, Action::deny);
  EXPECT_EQ(db.rule, "tables.deny: hr.*");
  const std::string allow_public = "    allow: [select, function:database_to_xml]\n"
                                   "    tables: { allow: [\"public.*\"] }\n";
  EXPECT_EQ(decide_with(allow_public, "SELECT database_to_xml(true, false, '')", catalog_.get()).action,
            Action::deny);
  EXPECT_EQ(decide_with("    allow: [select, function:database_to_xml]\n    tables: { allow: [\"*.*\"] }\n",
                        "SELECT database_to_xml(true, false, '')", catalog_.get())
                .action,
            Action::allow);
}

TEST_F(DecisionTest, SearchPathResolution) {
  const std::string rules = "    allow: [select, set, ddl]\n    tables: { deny: [\"hr.*\", \"x.*\"] }\n";
  EXPECT_EQ(decide_with(rules, "SELECT * FROM salaries", catalog_.get()).action, Action::allow);
  EXPECT_EQ(decide_with_state(rules, "SELECT * FROM salaries", fresh_state("hr"), catalog_.get()).action,
            Action::deny);
  // Created earlier in the same string: the catalog does not know x yet.
  auto d = decide_with(rules,
                       "CREATE SCHEMA x; CREATE TABLE x.t (a int); SET search_path = x, public; SELECT * FROM t",
                       catalog_.get());
  EXPECT_EQ(d.action, Action::deny);
  EXPECT_EQ(d.deciding_statement, 0);  // CREATE SCHEMA x already touches every table of x.*
  auto later = decide_with(rules, "SET search_path = x, public; SELECT * FROM t", catalog_.get());
  EXPECT_EQ(later.action, Action::deny);
  EXPECT_EQ(later.message, "pgwarden: select on t (could be x.t) denied by policy for agent");
}

TEST_F(DecisionTest, UnknownSearchPathMatchesAnySchema) {
  const std::string rules = "    allow: [select, set, function:set_config]\n    tables: { deny: [\"hr.*\"] }\n";
  auto state = fresh_state();
  auto set = sql::analyze("SELECT set_config('search_path', $1, false)");
  state.apply(set.statements.at(0));
  auto d = decide_with_state(rules, "SELECT * FROM salaries", state, catalog_.get());
  EXPECT_EQ(d.action, Action::deny);
  EXPECT_EQ(d.message, "pgwarden: select on salaries (search_path unknown) denied by policy for agent");
  EXPECT_EQ(decide_with_state(rules, "SELECT * FROM customers2", state, catalog_.get()).action, Action::deny);
  EXPECT_EQ(decide_with_state("    allow: [select]\n    tables: { deny: [\"hr.salaries\"] }\n",
                              "SELECT * FROM customers2", state, catalog_.get())
                .action,
            Action::allow);
}

// Within one string, what a COMMIT, ROLLBACK or ROLLBACK TO ends or undoes
// is not the path the statements after it run with: every path the string
// had may be. (An adversarial review read hr.salaries through each of these
// under a `tables.deny: [hr.*]` policy.)
TEST_F(DecisionTest, TransactionEndsInAStringKeepEveryPathItHad) {
  const std::string rules = "    allow: [select, set, transaction]\n    tables: { deny: [\"hr.*\"] }\n";
  const auto hr_first = fresh_state("hr, public");
  for (const char* sql : {
           "BEGIN; SET search_path = public; ROLLBACK; SELECT * FROM salaries",
           "BEGIN; SET LOCAL search_path = public; COMMIT; SELECT * FROM salaries",
           "BEGIN; SET LOCAL search_path = public; END; SELECT * FROM salaries",
           "BEGIN; SAVEPOINT a; SET search_path = public; ROLLBACK TO a; SELECT * FROM salaries; COMMIT",
           "BEGIN; SET search_path = public; ABORT; SELECT * FROM salaries",
       }) {
    auto d = decide_with_state(rules, sql, hr_first, catalog_.get());
    EXPECT_EQ(d.action, Action::deny) << sql;
    EXPECT_EQ(d.rule, "tables.deny: hr.*") << sql;
  }
  // Before the transaction ends, and with nothing that ends it, the SET is
  // certain for what follows it.
  EXPECT_EQ(decide_with_state(rules, "BEGIN; SET LOCAL search_path = public; SELECT * FROM salaries; COMMIT",
                              hr_first, catalog_.get())
                .action,
            Action::allow);
  EXPECT_EQ(decide_with_state(rules, "SET search_path = public; SELECT * FROM salaries", hr_first, catalog_.get())
                .action,
            Action::allow);
  // RELEASE keeps what the savepoint's subtransaction set.
  EXPECT_EQ(decide_with_state(rules, "BEGIN; SAVEPOINT a; SET search_path = public; RELEASE a; SELECT * FROM salaries",
                              hr_first, catalog_.get())
                .action,
            Action::allow);
}

// A WITH HOLD cursor's query runs at the COMMIT, later in the same string.
TEST_F(DecisionTest, AHoldableCursorsSetConfigCountsAfterTheCommit) {
  const std::string rules = "    allow: [select, set, transaction, function:set_config]\n    tables: { deny: [\"hr.*\"] }\n";
  auto d = decide_with_state(rules,
                             "BEGIN; DECLARE c CURSOR WITH HOLD FOR SELECT set_config('search_path', 'hr', false); "
                             "SET search_path = public; COMMIT; SELECT * FROM salaries",
                             fresh_state("public"), catalog_.get());
  EXPECT_EQ(d.action, Action::deny);
  EXPECT_EQ(d.rule, "tables.deny: hr.*");
}

// A set_config() in a query may not run at all (WHERE false, a CASE branch,
// LIMIT 0): its value is a possible path, never the only one.
TEST_F(DecisionTest, ASetConfigThatMayNotRunLeavesThePathBeforeIt) {
  const std::string rules =
      "    allow: [select, set, transaction, function:set_config]\n    tables: { deny: [\"hr.*\"] }\n";
  auto state = fresh_state("hr, public");
  state.apply(sql::analyze("SELECT set_config('search_path', 'public', false) WHERE false").statements.at(0));
  auto d = decide_with_state(rules, "SELECT * FROM salaries", state, catalog_.get());
  EXPECT_EQ(d.action, Action::deny);
  EXPECT_EQ(d.rule, "tables.deny: hr.*");
  // The same in one string.
  EXPECT_EQ(decide_with_state(rules, "SELECT set_config('search_path', 'public', false) WHERE false; SELECT * FROM salaries",
                              fresh_state("hr, public"), catalog_.get())
                .action,
            Action::deny);
  // And a possible path counts as one: toward hr it is refused too.
  EXPECT_EQ(decide_with_state(rules, "SELECT set_config('search_path', 'hr', false) WHERE false; SELECT * FROM salaries",
                              fresh_state(), catalog_.get())
                .action,
            Action::deny);
  // Last in its string, the engine asks the server what it did.
  const Catalog* c = catalog_.get();  // without one, set_config could be the client's own function
  EXPECT_TRUE(decide_with(rules, "SELECT set_config('search_path', 'public', false) WHERE false", c).confirm_settings);
  EXPECT_FALSE(
      decide_with(rules, "SELECT set_config('search_path', 'public', false) WHERE false; SELECT 1", c).confirm_settings);
  EXPECT_FALSE(decide_with(rules, "SELECT set_config('work_mem', '64MB', false) WHERE false", c).confirm_settings);
  // Called for sure (a SELECT of the call alone, like pg_dump's): as SET is.
  EXPECT_FALSE(decide_with(rules, "SELECT set_config('search_path', 'public', false)", c).confirm_settings);
  EXPECT_EQ(decide_with_state(rules, "SELECT set_config('search_path', 'public', false); SELECT * FROM salaries",
                              fresh_state("hr, public"), catalog_.get())
                .action,
            Action::allow);
}

TEST_F(DecisionTest, ManyRelationsStayCheap) {
  // 20000 tables in one FROM list: resolving them is linear.
  std::string sql = "SELECT 1 FROM t0";
  for (int i = 1; i < 20000; ++i) sql += ", t" + std::to_string(i);
  const std::string rules = "    allow: [select]\n    tables: { deny: [\"hr.*\"], allow: [\"s*.*\"] }\n";
  std::string path = "s0";
  for (int i = 1; i < 4; ++i) path += ", s" + std::to_string(i);
  const auto start = std::chrono::steady_clock::now();
  auto d = decide_with_state(rules, sql, fresh_state(path), catalog_.get());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));  // quadratic: minutes
  EXPECT_EQ(d.action, Action::allow);
  EXPECT_EQ(d.statements.at(0).relations.size(), 20000u * 4u);
  // Under a long path the same list could mean more relations than one
  // decision checks: refused, not ground through.
  for (int i = 4; i < 60; ++i) path += ", s" + std::to_string(i);
  auto big = decide_with_state(rules, sql, fresh_state(path), catalog_.get());
  EXPECT_EQ(big.action, Action::deny);
  EXPECT_EQ(big.rule, "too many relations");
  EXPECT_EQ(big.message, "pgwarden: select on more than 100000 relations denied by policy for agent");
}

// ---- prepared statements -----------------------------------------------------------------------

TEST_F(DecisionTest, ExecuteTakesThePreparedClasses) {
  const std::string rules = "    allow: [select, execute, prepare]\n    tables: { deny: [\"hr.*\"] }\n";
  // Prepared while another policy was in force (a reload since).
  StandaloneProtocol protocol;
  protocol.statements["x"] = {
      std::make_shared<const sql::StatementFacts>(sql::analyze("PREPARE x AS DELETE FROM t").statements.at(0))};
  auto state = fresh_state("\"$user\", public", protocol);
  auto d = decide_with_state(rules, "EXECUTE x", state);
  EXPECT_EQ(d.action, Action::deny);
  EXPECT_EQ(d.message, "pgwarden: delete on t denied by policy for agent");
  EXPECT_FALSE(d.cacheable);
  EXPECT_EQ(decide_with(rules, "PREPARE y AS SELECT 1; EXECUTE y").action, Action::allow);
  EXPECT_FALSE(decide_with(rules, "PREPARE y AS SELECT 1; EXECUTE y").cacheable);
  // A name that may stand for two statements (a PREPARE in flight beside
  // the one the server holds) is decided on both.
  protocol.statements["z"] = {
      std::make_shared<const sql::StatementFacts>(sql::analyze("PREPARE z AS SELECT 1").statements.at(0)),
      std::make_shared<const sql::StatementFacts>(sql::analyze("PREPARE z AS SELECT * FROM hr.x").statements.at(0))};
  EXPECT_EQ(decide_with_state(rules, "EXECUTE z", state).rule, "tables.deny: hr.*");
  // Not prepared as far as pgwarden saw: refused.
  EXPECT_EQ(decide_with_state(rules, "EXECUTE nobody", state).action, Action::deny);
}

TEST_F(DecisionTest, FetchTakesTheCursorsFacts) {
  const std::string rules = "    allow: [select]\n    tables: { deny: [\"hr.*\"] }\n";
  // Declared before a reload that denied hr.*: FETCH runs it now.
  StandaloneProtocol protocol;
  protocol.cursors["c"] = {std::make_shared<const sql::StatementFacts>(
      sql::analyze("DECLARE c CURSOR FOR SELECT * FROM hr.salaries").statements.at(0))};
  auto state = fresh_state("\"$user\", public", protocol);
  auto d = decide_with_state(rules, "FETCH 10 FROM c", state);
  EXPECT_EQ(d.action, Action::deny);
  EXPECT_EQ(d.rule, "tables.deny: hr.*");
  EXPECT_FALSE(d.cacheable);
  // A cursor pgwarden did not see declared was opened by a function, whose
  // call was decided: FETCH alone is a read.
  EXPECT_EQ(decide_with_state(rules, "FETCH 10 FROM other", state).action, Action::allow);
  // Declared earlier in the same string: decided with it.
  EXPECT_EQ(decide_with("    allow: [select, transaction]\n    tables: { deny: [\"hr.*\"] }\n",
                        "BEGIN; DECLARE d CURSOR FOR SELECT * FROM hr.salaries; FETCH d").rule,
            "tables.deny: hr.*");
}

TEST_F(DecisionTest, ProtocolStatementRedecidedAfterSearchPathChange) {
  const std::string rules = "    allow: [select, set]\n    tables: { deny: [\"hr.*\"] }\n";
  config_ = load_policy_config(rules);
  auto state = fresh_state();
  const auto facts = sql::analyze("SELECT * FROM salaries").statements.at(0);
  EXPECT_EQ(decide_facts(policy(), facts, state, catalog_.get()).action, Action::allow);
  state.apply(sql::analyze("SET search_path = hr").statements.at(0));
  // Bind of a statement prepared with these facts now: the server re-plans
  // it with the new path.
  auto d = decide_facts(policy(), facts, state, catalog_.get());
  EXPECT_EQ(d.action, Action::deny);
  EXPECT_EQ(d.rule, "tables.deny: hr.*");
}

TEST_F(DecisionTest, ChangesSessionMarksWhatApplyNeeds) {
  const std::string rules = "    allow: [select, set, prepare, deallocate]\n";
  EXPECT_TRUE(decide_with(rules, "SET search_path = a").changes_session);
  EXPECT_TRUE(decide_with(rules, "PREPARE p AS SELECT 1").changes_session);
  EXPECT_TRUE(decide_with(rules, "DEALLOCATE ALL").changes_session);
  EXPECT_FALSE(decide_with(rules, "SELECT 1").changes_session);
  EXPECT_FALSE(decide_with(rules, "SELECT 1").changes_catalog);
  EXPECT_TRUE(decide_with("    allow: [ddl]\n", "CREATE TABLE t (x int)").changes_catalog);
  EXPECT_TRUE(decide_with("    allow: [grant]\n", "GRANT SELECT ON t TO PUBLIC").changes_catalog);
}

// ---- parse failures --------------------------------------------------------------------------

TEST_F(DecisionTest, SyntaxErrorAnswersLikeTheServer) {
  auto d = decide_with("    allow: [select]\n", "SELECT * FRM t");
  EXPECT_EQ(d.action, Action::deny);
  EXPECT_EQ(d.sqlstate, "42601");
  EXPECT_EQ(d.message, "syntax error at or near \"FRM\"");
  EXPECT_EQ(d.position, 10);
}

TEST_F(DecisionTest, UnparseableForward) {
  auto d = decide_with("    allow: [select]\n    unparseable: forward\n", "SELECT * FRM t");
  EXPECT_EQ(d.action, Action::allow);
  EXPECT_TRUE(d.forwarded_unparsed);
  EXPECT_TRUE(d.statements.empty());
}

TEST_F(DecisionTest, OtherAnalyzeErrorsAre42501) {
  auto d = decide_with("    allow: [select]\n", std::string_view("SELECT 1\0", 9));
  EXPECT_EQ(d.action, Action::deny);
  EXPECT_EQ(d.sqlstate, "42501");
  EXPECT_EQ(d.message, "pgwarden: unparseable statement denied by policy for agent");
  EXPECT_NE(d.detail.find("NUL"), std::string::npos) << d.detail;
}

// ---- settings that change how SQL reads -----------------------------------------------------

TEST_F(DecisionTest, NonUtf8EncodingRefusesNonAscii) {
  const std::string rules = "    allow: [select, set]\n";
  auto state = fresh_state();
  state.apply(sql::analyze("SET client_encoding = 'SJIS'").statements.at(0));
  auto d = decide_with_state(rules, "SELECT '\xe8\xa1\xa8'", state);
  EXPECT_EQ(d.action, Action::deny);
  EXPECT_EQ(d.rule, "client_encoding");
  EXPECT_EQ(decide_with_state(rules, "SELECT 'plain ascii'", state).action, Action::allow);
}

// decide_sql on a parse the caller shares with the lineage tracer: the same
// decisions as on the text, in every string mode the session may be in.
TEST_F(DecisionTest, DecidingOnASharedParseDecidesAsOnTheText) {
  config_ = load_policy_config("    allow: [select, set]\n    tables: { deny: [\"hr.*\"] }\n");
  ASSERT_NE(config_, nullptr);
  const char* hidden = "SELECT 'a\\'; DELETE FROM t; --'";
  auto off = fresh_state();
  off.on_parameter_status("standard_conforming_strings", "off");
  StandaloneProtocol in_flight;
  auto either = fresh_state("\"$user\", public", in_flight);
  either.apply(sql::analyze("SET standard_conforming_strings = off").statements.at(0));
  ++in_flight.sent;
  for (const SessionSqlState* state : {&off, &either}) {
    for (const char* sql : {hidden, "SELECT 'plain'", "SELECT * FROM hr.salaries", "SELEC 1", "DELETE FROM t"}) {
      const auto parsed = sql::ParsedSql::parse(sql, parse_options_for(*state));
      const Decision on_parse = decide_sql(policy(), parsed, *state, catalog_.get());
      const Decision on_text = decide_sql(policy(), sql, *state, catalog_.get());
      EXPECT_EQ(on_parse.action, on_text.action) << sql;
      EXPECT_EQ(on_parse.rule, on_text.rule) << sql;
      EXPECT_EQ(on_parse.message, on_text.message) << sql;
    }
  }
  EXPECT_FALSE(parse_options_for(off).standard_conforming_strings);
  EXPECT_TRUE(parse_options_for(either).standard_conforming_strings);
  EXPECT_TRUE(parse_options_for(fresh_state()).standard_conforming_strings);
  // A parse in a mode the session cannot be in is not trusted: it is parsed
  // again as the server will read it (off: one string literal, allowed).
  const auto wrong_mode = sql::ParsedSql::parse(hidden);
  EXPECT_EQ(decide_sql(policy(), wrong_mode, off, catalog_.get()).action, Action::allow);
  EXPECT_EQ(decide_sql(policy(), wrong_mode, fresh_state(), catalog_.get()).action, Action::deny);
  // Nothing parsed is never an empty statement.
  EXPECT_EQ(decide_sql(policy(), sql::ParsedSql(), fresh_state(), catalog_.get()).action, Action::deny);
}

TEST_F(DecisionTest, StandardConformingStringsOffIsParsedAsTheServerDoes) {
  const std::string rules = "    allow: [select, set]\n";
  const char* hidden = "SELECT 'a\\'; DELETE FROM t; --'";
  EXPECT_EQ(decide_with(rules, hidden).action, Action::deny);  // on: a DELETE
  auto off = fresh_state();
  off.on_parameter_status("standard_conforming_strings", "off");
  EXPECT_EQ(decide_with_state(rules, hidden, off).action, Action::allow);  // off: one string literal
  // Either mode possible (a SET not yet answered): a text that reads
  // differently in the two modes is refused; one that does not is decided.
  StandaloneProtocol in_flight;
  auto either = fresh_state("\"$user\", public", in_flight);
  either.apply(sql::analyze("SET standard_conforming_strings = off").statements.at(0));
  ++in_flight.sent;
  auto d = decide_with_state(rules, hidden, either);
  EXPECT_EQ(d.action, Action::deny);
  EXPECT_EQ(d.rule, "standard_conforming_strings");
  EXPECT_EQ(decide_with_state(rules, "SELECT 'plain'", either).action, Action::allow);
}

// The planner statistics hold sample values of every table: under table
// rules, reading them (or schema_to_xml of pg_catalog, which includes
// pg_stats) reads every schema.
TEST_F(DecisionTest, PlannerStatisticsReadEverySchema) {
  const std::string rules = "    allow: [select, function:schema_to_xml]\n    tables: { deny: [\"hr.*\"] }\n";
  for (const char* sql : {"SELECT * FROM pg_stats", "SELECT * FROM pg_catalog.pg_statistic",
                          "SELECT * FROM pg_stats_ext_exprs", "SELECT schema_to_xml('pg_catalog', true, false, '')",
                          "SELECT table_to_xml('pg_catalog.pg_stats', true, false, '')"}) {
    const Decision d = decide_with(rules, sql, catalog_.get());
    EXPECT_EQ(d.action, Action::deny) << sql;
    EXPECT_EQ(d.message, "pgwarden: select on every schema denied by policy for agent") << sql;
  }
  EXPECT_EQ(decide_with(rules, "SELECT * FROM pg_stat_activity", catalog_.get()).action, Action::allow);
  EXPECT_EQ(decide_with(rules, "SELECT schema_to_xml('public', true, false, '')", catalog_.get()).action,
            Action::allow);
}

// Under strict masking, the planner's enable_* methods would steer a scan
// onto an index on a masked column, which returns rows in its order.
TEST_F(DecisionTest, StrictRefusesPlannerMethodSettings) {
  const std::string strict =
      "    allow: [select, set, function:set_config]\n"
      "    mask: [{ column: \"public.customers.ssn\", with: redact }]\n"
      "    strict: true\n";
  const std::string lax = "    allow: [select, set, function:set_config]\n"
                          "    mask: [{ column: \"public.customers.ssn\", with: redact }]\n";
  for (const char* sql : {"SET enable_seqscan = off", "SET LOCAL ENABLE_BITMAPSCAN TO off", "RESET enable_indexscan",
                          "SELECT set_config('enable_seqscan', 'off', false)",
                          "SELECT set_config('ENABLE_SEQSCAN', 'off', false)",
                          "SELECT set_config(n, 'off', false) FROM (VALUES ('enable_seqscan')) v(n)"}) {
    const Decision d = decide_with(strict, sql, catalog_.get());
    EXPECT_EQ(d.action, Action::deny) << sql;
    EXPECT_EQ(d.message, "pgwarden: filtering on masked values denied by policy for agent") << sql;
    EXPECT_EQ(d.rule, "strict: planner method setting") << sql;
    EXPECT_EQ(decide_with(lax, sql, catalog_.get()).action, Action::allow) << sql;
  }
  for (const char* sql : {"SET search_path = public", "SELECT set_config('search_path', '', false)", "RESET ALL"}) {
    EXPECT_EQ(decide_with(strict, sql, catalog_.get()).action, Action::allow) << sql;
  }
}

// ---- FunctionCall and startup ---------------------------------------------------------------

TEST_F(DecisionTest, FunctionCallByOid) {
  config_ = load_policy_config("    allow: [select, function:now]\n    approve: [function:lower]\n");
  EXPECT_EQ(decide_function_call(policy(), 1299, catalog_.get()).action, Action::allow);
  auto held = decide_function_call(policy(), 870, catalog_.get());
  EXPECT_EQ(held.action, Action::approve);
  auto denied = decide_function_call(policy(), 2624, catalog_.get());
  EXPECT_EQ(denied.action, Action::deny);
  EXPECT_EQ(denied.message, "pgwarden: execute on function pg_catalog.pg_read_file denied by policy for agent");
  EXPECT_EQ(decide_function_call(policy(), 1397, catalog_.get()).action, Action::deny);  // abs: not named
  auto unknown = decide_function_call(policy(), 424242, catalog_.get());
  EXPECT_EQ(unknown.action, Action::deny);
  EXPECT_EQ(unknown.message, "pgwarden: execute on function with OID 424242 denied by policy for agent");
  EXPECT_EQ(decide_function_call(policy(), 1299, nullptr).action, Action::deny);
}

}  // namespace
}  // namespace pgw::policy
