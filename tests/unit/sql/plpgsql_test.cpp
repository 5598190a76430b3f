// DO bodies: the SQL a PL/pgSQL block runs, wherever it sits in the block.
#include <gtest/gtest.h>

#include "corpus_check.h"

namespace pgw::sql {
namespace {

const StatementFacts& only(const Analysis& a) {
  EXPECT_TRUE(a.ok()) << a.error_message;
  EXPECT_EQ(a.statements.size(), 1u);
  static const StatementFacts empty;
  return a.statements.empty() ? empty : a.statements[0];
}

StatementFacts facts(std::string_view sql, const AnalyzeOptions& options = {}) {
  return only(analyze(sql, options));
}

TEST(Plpgsql, EveryPlaceSqlCanHide) {
  struct Case {
    std::string_view body;
    StatementClass expected;
    std::string_view relation;
  };
  const Case cases[] = {
      {"DECLARE n int := (SELECT count(*) FROM d1); BEGIN END", StatementClass::select, "d1"},
      {"DECLARE c CURSOR FOR SELECT * FROM d2; BEGIN NULL; END", StatementClass::select, "d2"},
      {"DECLARE r record; BEGIN FOR r IN EXECUTE 'UPDATE d5 SET a = 1 RETURNING *' LOOP END LOOP; END",
       StatementClass::update, "d5"},
      {"BEGIN IF EXISTS (SELECT 1 FROM d6) THEN NULL; END IF; END", StatementClass::select, "d6"},
      {"BEGIN IF false THEN NULL; ELSIF true THEN INSERT INTO d7 VALUES (1); END IF; END",
       StatementClass::insert, "d7"},
      {"BEGIN CASE WHEN true THEN DELETE FROM d8; ELSE NULL; END CASE; END",
       StatementClass::delete_, "d8"},
      {"BEGIN CASE (SELECT a FROM d9) WHEN 1 THEN NULL; END CASE; END", StatementClass::select,
       "d9"},
      {"BEGIN WHILE (SELECT count(*) FROM d10) > 0 LOOP DELETE FROM d11; END LOOP; END",
       StatementClass::delete_, "d11"},
      {"BEGIN FOR i IN 1..(SELECT max(a) FROM d12) LOOP NULL; END LOOP; END",
       StatementClass::select, "d12"},
      {"DECLARE a int; BEGIN FOREACH a IN ARRAY (SELECT array_agg(x) FROM d13) LOOP NULL; END LOOP; END",
       StatementClass::select, "d13"},
      {"BEGIN LOOP EXIT WHEN (SELECT true FROM d14); END LOOP; END", StatementClass::select,
       "d14"},
      {"BEGIN ASSERT (SELECT count(*) FROM d15) = 0, (SELECT 'm' FROM d16); END",
       StatementClass::select, "d16"},
      {"BEGIN RAISE NOTICE '%', (SELECT 1 FROM d17); END", StatementClass::select, "d17"},
      {"BEGIN RAISE EXCEPTION USING MESSAGE = (SELECT 'x' FROM d18); END",
       StatementClass::select, "d18"},
      {"BEGIN NULL; EXCEPTION WHEN division_by_zero THEN TRUNCATE d19; END",
       StatementClass::truncate, "d19"},
      {"BEGIN DECLARE x int := 1; BEGIN UPDATE d20 SET a = x; END; END",
       StatementClass::update, "d20"},
      {"DECLARE x int; BEGIN SELECT a INTO x FROM d21; END", StatementClass::select, "d21"},
      {"BEGIN EXECUTE 'INSERT INTO d22 VALUES ($1)' USING (SELECT 1 FROM d23); END",
       StatementClass::insert, "d22"},
      {"BEGIN LOCK TABLE d24; END", StatementClass::lock, "d24"},
      {"BEGIN COPY d25 TO '/tmp/x'; END", StatementClass::copy_to, "d25"},
  };
  for (const auto& c : cases) {
    std::string sql = "DO $body$ " + std::string(c.body) + " $body$";
    auto f = facts(sql);
    EXPECT_TRUE(f.has(c.expected)) << sql << "\n" << to_string(f);
    EXPECT_TRUE(f.has(StatementClass::procedural)) << sql;
    EXPECT_FALSE(f.has(StatementClass::unknown)) << sql << "\n" << to_string(f);
    EXPECT_NE(f.find_relation("", c.relation), nullptr) << sql << "\n" << to_string(f);
  }
}

TEST(Plpgsql, LiteralExecuteIsAnalyzedAsSql) {
  auto f = facts("DO $$BEGIN EXECUTE 'SET ROLE admin'; EXECUTE 'GRANT x TO y'::text; END$$");
  EXPECT_TRUE(f.has(StatementClass::role));
  EXPECT_TRUE(f.has(StatementClass::grant));
  ASSERT_EQ(f.settings.size(), 1u);
  EXPECT_EQ(f.settings[0].name, "role");
  EXPECT_FALSE(f.has_flag(kDynamicSql));
}

TEST(Plpgsql, ComputedExecuteIsDynamicAndUnknown) {
  for (auto body : {"EXECUTE 'DELETE FROM ' || quote_ident(t)",
                    "EXECUTE format('DROP TABLE %s', 'x')",
                    "EXECUTE q",
                    "FOR r IN EXECUTE q LOOP END LOOP"}) {
    std::string sql = std::string("DO $$DECLARE t text; q text; c refcursor; r record; BEGIN ") +
                      body + "; END$$";
    auto f = facts(sql);
    EXPECT_TRUE(f.has(StatementClass::unknown)) << sql;
    EXPECT_TRUE(f.has_flag(kDynamicSql)) << sql;
    EXPECT_TRUE(f.has_flag(kRunsSqlString)) << sql;
  }
}

TEST(Plpgsql, BodySpellings) {
  for (auto sql : {"DO 'BEGIN DELETE FROM t; END'",
                   "DO 'BEGIN DELETE FROM t WHERE a = ''x''; END'",
                   "DO E'BEGIN DELETE FROM t; END'",
                   "DO LANGUAGE plpgsql $$BEGIN DELETE FROM t; END$$",
                   "DO LANGUAGE 'plpgsql' $$BEGIN DELETE FROM t; END$$",
                   "DO LANGUAGE PLPGSQL $$BEGIN DELETE FROM t; END$$",
                   "DO $$BEGIN DELETE FROM t; END$$ LANGUAGE plpgsql",
                   "DO $x$BEGIN PERFORM $$;$$; DELETE FROM t; END$x$",
                   "do $x$ begin /* $$ */ delete from t; end $x$"}) {
    auto a = analyze(sql);
    ASSERT_TRUE(a.ok()) << sql << ": " << a.error_message;
    ASSERT_EQ(a.statements.size(), 1u) << sql;
    EXPECT_TRUE(a.statements[0].has(StatementClass::delete_)) << sql << "\n" << to_string(a.statements[0]);
    EXPECT_FALSE(a.statements[0].has(StatementClass::unknown)) << sql;
  }
}

TEST(Plpgsql, WhatCannotBeAnalyzedIsUnknown) {
  for (auto sql : {"DO LANGUAGE \"PLPGSQL\" $$BEGIN DELETE FROM t; END$$",  // no such language
                   "DO LANGUAGE plperl $$ spi_exec_query('DROP TABLE t') $$",
                   "DO LANGUAGE sql $$ DELETE FROM t $$",
                   "DO $$BEGIN DELETE FROM ; END$$",
                   "DO $$BEGIN x := 1; END$$",  // undeclared variable
                   "DO $$ $$",
                   // libpg_query's PL/pgSQL compiler has no type catalog: a cursor
                   // variable lacks the refcursor type OID, so any use of one fails
                   // to compile ("must be of type cursor or refcursor").
                   "DO $$DECLARE c CURSOR FOR SELECT 1; BEGIN OPEN c; END$$",
                   "DO $$DECLARE c refcursor; BEGIN OPEN c FOR DELETE FROM t RETURNING *; END$$",
                   "DO $$DECLARE c refcursor; BEGIN OPEN c FOR EXECUTE 'DROP TABLE t'; END$$",
                   "DO $$DECLARE c CURSOR FOR SELECT 1; r record; BEGIN FOR r IN c LOOP END LOOP; END$$"}) {
    auto f = facts(sql);
    EXPECT_TRUE(f.has(StatementClass::procedural)) << sql;
    EXPECT_TRUE(f.has(StatementClass::unknown)) << sql;
    EXPECT_TRUE(f.has_flag(kDoBodyUnknown)) << sql;
  }
}

TEST(Plpgsql, AnalysisCanBeTurnedOff) {
  AnalyzeOptions options;
  options.analyze_do_bodies = false;
  auto f = facts("DO $$BEGIN DELETE FROM t; END$$", options);
  EXPECT_EQ(f.classes, (ClassSet{StatementClass::procedural, StatementClass::unknown}));
  EXPECT_TRUE(f.has_flag(kDoBodyUnknown));
}

TEST(Plpgsql, FunctionsInsideTheBodyAreReported) {
  auto f = facts(
      "DO $$DECLARE v text := pg_read_file('/etc/passwd'); BEGIN "
      "PERFORM dblink_exec('c', 'DROP TABLE t'); CALL refresh_all(); END$$");
  EXPECT_NE(f.find_function("pg_read_file"), nullptr);
  EXPECT_NE(f.find_function("dblink_exec"), nullptr);
  EXPECT_NE(f.find_function("refresh_all"), nullptr);
  EXPECT_TRUE(f.has_flag(kTouchesFiles));
  EXPECT_TRUE(f.has_flag(kRunsSqlString));
}

TEST(Plpgsql, TransactionControl) {
  EXPECT_TRUE(facts("DO $$BEGIN COMMIT; END$$").has(StatementClass::transaction));
  EXPECT_TRUE(facts("DO $$BEGIN ROLLBACK; END$$").has(StatementClass::transaction));
}

TEST(Plpgsql, CreateFunctionBodiesAreNotRunAtCreation) {
  // A PL/pgSQL function body runs when the function is called, by name,
  // later: CREATE FUNCTION itself is DDL.
  auto f = facts(
      "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$BEGIN DELETE FROM t; END$$");
  EXPECT_EQ(f.classes, (ClassSet{StatementClass::ddl, StatementClass::create}));
}

}  // namespace
}  // namespace pgw::sql
