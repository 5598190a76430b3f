// Lineage: every query shape that can carry a masked value out is tainted,
// shapes that cannot stay clean, and filters and writes are found wherever
// they hide. The oracle is the harness schema: public.customers has masked
// columns ssn, card_number, email and phone; get_ssn() is a SQL function
// over ssn; plpgsql_fn() cannot be traced.
#include "sql/lineage.h"

#include <gtest/gtest.h>

#include <pthread.h>

#include <atomic>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace pgw::sql {
namespace {

struct Oracle : TaintOracle {
  bool relation_is_masked(std::string_view, std::string_view name) const override {
    return name == "customers" || name == "customer_contacts";
  }
  bool column_is_masked(std::string_view c) const override {
    return c == "ssn" || c == "card_number" || c == "email" || c == "phone" || c == "tax_id";
  }
  Taint function_taint(std::string_view, std::string_view name) const override {
    if (name == "get_ssn") return Taint::tainted;
    if (name == "plpgsql_fn") return Taint::untraceable;
    return Taint::clean;
  }
  Taint field_call_taint(std::string_view name) const override { return function_taint("", name); }
  bool takes_a_row(std::string_view name) const override {
    return name == "row_to_json" || name == "to_jsonb" || name == "concat";
  }
};

std::vector<StatementLineage> trace(std::string_view sql) {
  Oracle oracle;
  auto r = trace_lineage(sql, oracle);
  EXPECT_TRUE(r.ok()) << sql << ": " << (r.ok() ? "" : r.error());
  return r.ok() ? *r : std::vector<StatementLineage>{};
}

// The taint of each output, as a string: "T" tainted, "c" clean, "u"
// untraceable, "*" before a star entry.
std::string shape(const StatementLineage& st) {
  std::string s;
  for (const auto& o : st.outputs) {
    if (o.star) s += '*';
    s += o.taint == Taint::tainted ? 'T' : o.taint == Taint::untraceable ? 'u' : 'c';
  }
  return s;
}

std::string shape_of(std::string_view sql) {
  auto v = trace(sql);
  return v.empty() ? "<none>" : shape(v.back());
}

struct Case {
  const char* sql;
  const char* shape;
};

class OutputShapes : public ::testing::TestWithParam<Case> {};

TEST_P(OutputShapes, Match) { EXPECT_EQ(shape_of(GetParam().sql), GetParam().shape) << GetParam().sql; }

INSTANTIATE_TEST_SUITE_P(
    Lineage, OutputShapes,
    ::testing::Values(
        Case{"SELECT id, name FROM customers", "cc"},
        Case{"SELECT ssn FROM customers", "T"},
        Case{"SELECT id, upper(ssn) FROM customers", "cT"},
        Case{"SELECT ssn::int FROM customers", "T"},
        Case{"SELECT \"ssn\" || '' FROM public.customers", "T"},
        Case{"SELECT c.ssn FROM customers c", "T"},
        Case{"SELECT c FROM customers c", "T"},
        Case{"SELECT customers FROM customers", "T"},
        Case{"SELECT row_to_json(c) FROM customers c", "T"},
        Case{"SELECT to_jsonb(c.*) FROM customers c", "T"},
        Case{"SELECT json_agg(t) FROM customers t", "T"},
        Case{"SELECT (c).name FROM customers c", "T"},
        Case{"SELECT * FROM customers", "*T"},
        Case{"TABLE customers", "*T"},
        Case{"SELECT c.* FROM customers c", "*T"},
        Case{"SELECT * FROM orders", "*c"},
        Case{"SELECT o.*, c.name FROM orders o JOIN customers c ON c.id = o.customer_id", "*cc"},
        Case{"SELECT x FROM (SELECT ssn AS x FROM customers) s", "T"},
        Case{"SELECT a || '' FROM (SELECT ssn FROM customers) s(a)", "T"},
        Case{"SELECT s FROM (SELECT id, ssn FROM customers) s", "T"},
        Case{"SELECT s.* FROM (SELECT * FROM customers) s", "*T"},
        Case{"WITH c(a) AS (SELECT ssn FROM customers) SELECT a || '' FROM c", "T"},
        Case{"WITH c AS (SELECT ssn AS x FROM customers) SELECT upper(x) FROM c", "T"},
        Case{"WITH c AS (SELECT id FROM customers) SELECT id FROM c", "c"},
        Case{"WITH d AS (DELETE FROM customers RETURNING *) SELECT * FROM d", "*T"},
        Case{"WITH RECURSIVE r(n, s) AS (SELECT 1, ssn FROM customers UNION ALL SELECT n + 1, s FROM r WHERE n < 3) "
             "SELECT n, s FROM r",
             "cT"},
        Case{"SELECT (SELECT ssn FROM customers LIMIT 1)", "T"},
        Case{"SELECT ARRAY(SELECT email FROM customers)", "T"},
        Case{"SELECT string_agg(ssn, ',') FROM customers", "T"},
        Case{"SELECT array_agg(card_number ORDER BY id) FROM customers", "T"},
        Case{"SELECT CASE WHEN ssn LIKE '1%' THEN 'a' ELSE 'b' END FROM customers", "T"},
        Case{"SELECT first_value(phone) OVER (ORDER BY id) FROM customers", "T"},
        Case{"SELECT encode(convert_to(ssn, 'UTF8'), 'base64') FROM customers", "T"},
        Case{"SELECT substr(ssn, 1, 3), overlay(ssn placing 'x' from 1), reverse(ssn) FROM customers", "TTT"},
        Case{"SELECT format('%s', ssn), concat_ws('-', id, ssn) FROM customers", "TT"},
        Case{"SELECT name FROM orders UNION SELECT ssn FROM customers", "T"},
        Case{"SELECT id, 'x' FROM orders UNION ALL SELECT id, email FROM customers", "cT"},
        Case{"VALUES (1, 'a')", "cc"},
        Case{"SELECT get_ssn(1)", "T"},
        Case{"SELECT plpgsql_fn()", "u"},
        Case{"SELECT * FROM plpgsql_fn() AS f(x text)", "*u"},
        Case{"SELECT x FROM get_ssn(1) AS g(x)", "T"},
        Case{"SELECT count(*) FROM customers", "c"},
        Case{"SELECT id FROM customers WHERE ssn LIKE '123%'", "c"},
        Case{"SELECT tax_id FROM customer_contacts", "T"},
        Case{"SELECT o.id, lower(o.status) FROM orders o", "cc"},
        Case{"UPDATE customers SET name = name WHERE id = 1 RETURNING ssn, id", "Tc"},
        Case{"INSERT INTO orders (customer_id, amount) VALUES (1, 2) RETURNING *", "*c"},
        Case{"DELETE FROM customers WHERE id = 0 RETURNING *", "*T"},
        Case{"DECLARE cur CURSOR FOR SELECT id, ssn FROM customers", "cT"},
        Case{"PREPARE p AS SELECT email FROM customers", "T"},
        Case{"COPY (SELECT reverse(ssn), id FROM customers) TO STDOUT", "Tc"},
        Case{"COPY customers (id, ssn) TO STDOUT WITH (FORMAT csv)", "cT"},
        // Names as the parser folds them: "SSN" is another column, Ssn is ssn.
        Case{"SELECT \"SSN\" FROM customers", "c"},
        Case{"SELECT Ssn FROM customers", "T"},
        Case{"SELECT public.customers.ssn FROM public.customers", "T"},
        // Only unmasked tables: a column named like a masked one elsewhere is clean.
        Case{"SELECT email, upper(phone) FROM orders", "cc"},
        Case{"TABLE orders", "*c"},
        // Column alias lists rename a masked table's or a CTE's columns.
        Case{"SELECT x FROM customers c(x)", "T"},
        Case{"SELECT c.y FROM customers AS c(x, y)", "T"},
        Case{"WITH c AS (SELECT ssn FROM customers) SELECT c2 FROM c AS c2", "T"},
        Case{"WITH c AS (SELECT ssn FROM customers) SELECT y FROM c AS c2(y)", "T"},
        Case{"SELECT j FROM (customers c JOIN orders o ON true) AS j", "T"},
        Case{"SELECT j.a FROM (customers c JOIN orders o ON true) AS j(a)", "T"},
        Case{"SELECT * FROM customers c JOIN orders o USING (id)", "*T"},
        Case{"SELECT * FROM customers TABLESAMPLE system (50)", "*T"},
        Case{"SELECT * FROM customers FOR UPDATE", "*T"},
        // Functions in FROM over masked values: their columns have names nothing here knows.
        Case{"SELECT x FROM customers c, unnest(ARRAY[c.ssn]) AS x", "T"},
        Case{"SELECT u.x FROM customers c CROSS JOIN LATERAL unnest(ARRAY[c.ssn]) AS u(x)", "T"},
        Case{"SELECT value FROM customers c, jsonb_each_text(to_jsonb(c))", "T"},
        Case{"SELECT key FROM customers c, LATERAL json_each(row_to_json(c))", "T"},
        Case{"SELECT x FROM customers, regexp_split_to_table(ssn, '-') AS x", "T"},
        Case{"SELECT x FROM customers, XMLTABLE('/a' PASSING xmlelement(name a, ssn) COLUMNS x text PATH '.')", "T"},
        Case{"SELECT * FROM ROWS FROM (get_ssn(1), generate_series(1, 2)) AS r(a, b)", "*T"},
        Case{"SELECT upper(x) FROM get_ssn(1) AS g(x)", "T"},
        Case{"SELECT n FROM generate_series(1, 3) AS n", "c"},
        // Lateral sub-selects.
        Case{"SELECT s.x FROM customers c, LATERAL (SELECT c.ssn AS x) s", "T"},
        Case{"SELECT s.x FROM customers c, LATERAL (SELECT c.id AS x) s", "c"},
        // Untraceable results keep their kind through sub-selects and CTEs.
        Case{"SELECT x FROM (SELECT plpgsql_fn() AS x) s", "u"},
        Case{"SELECT s FROM (SELECT plpgsql_fn() AS x) s", "u"},
        Case{"WITH w AS (SELECT plpgsql_fn() AS v) SELECT upper(v) FROM w", "u"},
        Case{"SELECT plpgsql_fn(ssn) FROM customers", "T"},
        Case{"SELECT get_ssn(id) IS NOT NULL FROM orders", "T"},
        // Whole rows and stars in every form.
        Case{"SELECT (c).* FROM customers c", "*T"},
        Case{"SELECT (c).id FROM customers c", "T"},
        Case{"SELECT ssn(c) FROM customers c", "T"},
        Case{"SELECT c = c FROM customers c", "T"},
        Case{"SELECT ROW(id, ssn), ARRAY[ssn], ssn COLLATE \"C\" FROM customers", "TTT"},
        Case{"SELECT x FROM (SELECT * FROM customers) s(x)", "T"},
        Case{"SELECT s.ssn, s.id FROM (SELECT * FROM customers) s", "Tc"},
        // Output names follow the server's (FigureColname): an outer query reads them.
        Case{"SELECT s.id_text FROM (SELECT CASE WHEN ssn LIKE '1%' THEN 'y' ELSE id_text END FROM customers) s", "T"},
        Case{"SELECT s.text FROM (SELECT (CASE WHEN ssn > '5' THEN 'y' END)::text FROM customers) s", "T"},
        Case{"SELECT s.coalesce, s.nullif, s.greatest FROM (SELECT coalesce(ssn, ''), nullif(ssn, ''), "
             "greatest(ssn, '0') FROM customers) s",
             "TTT"},
        Case{"SELECT s.ssn2 FROM (SELECT (SELECT ssn AS ssn2 FROM customers LIMIT 1)) s", "T"},
        Case{"SELECT s.phone FROM (SELECT (c).phone FROM customers c) s", "T"},
        Case{"SELECT z FROM (SELECT y AS z FROM (SELECT ssn AS y FROM customers) a) b", "T"},
        Case{"WITH a AS (SELECT ssn AS p FROM customers), b AS (SELECT p AS q FROM a) SELECT q FROM b", "T"},
        Case{"WITH RECURSIVE r AS (SELECT ssn AS s FROM customers UNION SELECT s || 'x' FROM r) SELECT * FROM r", "*T"},
        Case{"WITH u AS (UPDATE customers SET name = 'x' RETURNING ssn AS s) SELECT s FROM u", "T"},
        // Aggregates, windows, grouping, sub-links, constructors.
        Case{"SELECT count(*) FILTER (WHERE ssn LIKE '1%') FROM customers", "T"},
        Case{"SELECT string_agg(name, ',' ORDER BY ssn) FROM customers", "T"},
        Case{"SELECT sum(id) OVER (PARTITION BY ssn), rank() OVER (ORDER BY id) FROM customers", "Tc"},
        Case{"SELECT sum(id) OVER w FROM customers WINDOW w AS (ORDER BY ssn)", "T"},
        Case{"SELECT GROUPING(ssn) FROM customers GROUP BY ROLLUP (ssn)", "T"},
        Case{"SELECT xmlelement(name x, ssn), json_build_object('s', ssn) FROM customers", "TT"},
        Case{"SELECT EXISTS (SELECT 1 FROM customers WHERE ssn LIKE '1%')", "T"},
        Case{"SELECT id IN (SELECT id FROM customers WHERE ssn > '5') FROM orders", "T"},
        Case{"SELECT (SELECT count(*) FROM customers)", "c"},
        Case{"SELECT ssn IS NULL FROM customers", "T"},
        // Set operations and VALUES by position.
        Case{"SELECT name FROM orders UNION ALL SELECT name FROM customers", "c"},
        Case{"SELECT * FROM orders UNION SELECT * FROM customers", "*T"},
        Case{"SELECT id, name FROM orders UNION SELECT * FROM customers", "TT"},
        Case{"SELECT ssn FROM customers INTERSECT SELECT name FROM orders", "T"},
        Case{"VALUES (1, (SELECT ssn FROM customers LIMIT 1))", "cT"},
        Case{"SELECT column2 FROM (VALUES (1, (SELECT ssn FROM customers LIMIT 1))) v", "T"},
        Case{"SELECT a, b FROM (VALUES (1, (SELECT ssn FROM customers LIMIT 1))) v(a, b)", "cT"},
        // RETURNING.
        Case{"INSERT INTO customers (name) VALUES ('x') RETURNING ssn", "T"},
        Case{"INSERT INTO customers (name) VALUES ('x') RETURNING id", "c"},
        Case{"UPDATE customers SET name = 'x' RETURNING *", "*T"},
        Case{"UPDATE orders o SET note = 'x' FROM customers c WHERE c.id = o.customer_id RETURNING c.*", "*T"},
        Case{"DELETE FROM orders USING customers c WHERE false RETURNING c.email", "T"},
        Case{"SELECT lower(o.status) FROM orders o WHERE o.id IN (SELECT id FROM customers)", "c"}));


TEST(Lineage, StatementsOfAStringAreTracedInOrder) {
  auto v = trace("SELECT 1; SELECT ssn FROM customers; SELECT id FROM customers");
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(shape(v[0]), "c");
  EXPECT_EQ(shape(v[1]), "T");
  EXPECT_EQ(shape(v[2]), "c");
  EXPECT_FALSE(v[0].touches_masked);
  EXPECT_TRUE(v[1].touches_masked);
}

TEST(Lineage, SourcesAndNames) {
  auto v = trace("DECLARE c1 BINARY CURSOR FOR SELECT ssn FROM customers; FETCH 5 FROM c1; PREPARE p AS SELECT 1; "
                 "EXECUTE p; SHOW search_path; EXPLAIN SELECT ssn FROM customers; SET search_path = public");
  ASSERT_EQ(v.size(), 7u);
  EXPECT_EQ(v[0].source, RowSource::declare);
  EXPECT_EQ(v[0].name, "c1");
  EXPECT_EQ(v[1].source, RowSource::fetch);
  EXPECT_EQ(v[1].name, "c1");
  EXPECT_EQ(v[2].source, RowSource::prepare);
  EXPECT_EQ(v[3].source, RowSource::execute);
  EXPECT_EQ(v[3].name, "p");
  EXPECT_EQ(v[4].source, RowSource::other);
  EXPECT_EQ(v[5].source, RowSource::other);
  EXPECT_EQ(v[5].taint_other, Taint::clean);
  EXPECT_EQ(v[6].source, RowSource::none);
}

TEST(Lineage, CopyOptions) {
  auto v = trace("COPY customers TO STDOUT WITH (FORMAT csv, HEADER, DELIMITER ';', QUOTE '''', NULL 'n/a')");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].source, RowSource::copy_table);
  EXPECT_EQ(v[0].copy_table, "customers");
  EXPECT_TRUE(v[0].copy_csv);
  EXPECT_TRUE(v[0].copy_header);
  EXPECT_EQ(v[0].copy_delimiter, ';');
  EXPECT_EQ(v[0].copy_quote, '\'');
  EXPECT_TRUE(v[0].copy_null_set);
  EXPECT_EQ(v[0].copy_null, "n/a");
  EXPECT_TRUE(v[0].touches_masked);
  v = trace("COPY customers TO STDOUT WITH CSV HEADER");
  EXPECT_TRUE(v[0].copy_csv);
  EXPECT_TRUE(v[0].copy_header);
  v = trace("COPY public.customers TO STDOUT (FORMAT binary)");
  EXPECT_TRUE(v[0].copy_binary);
  EXPECT_EQ(v[0].copy_schema, "public");
  v = trace("COPY customers TO STDOUT BINARY");
  EXPECT_TRUE(v[0].copy_binary);
  v = trace("COPY orders FROM STDIN");
  EXPECT_EQ(v[0].source, RowSource::none);
}

// COPY options as PostgreSQL 15 reads them (ProcessCopyOptions): every
// spelling the server accepts means the same here. A header the tracer
// expects but the server does not send would let the first row through
// unmasked.
TEST(Lineage, CopyOptionsAreReadAsTheServerReadsThem) {
  struct Expect {
    const char* options;
    bool csv, header;
    char delimiter, quote, escape;
    const char* null_print;
  };
  for (const Expect& e : std::vector<Expect>{
           {"", false, false, '\t', 0, 0, "\\N"},
           {"WITH (FORMAT csv)", true, false, ',', '"', '"', ""},
           {"(FORMAT CSV)", true, false, ',', '"', '"', ""},  // an identifier: folded
           {"(FORMAT (csv))", true, false, ',', '"', '"', ""},
           {"(FORMAT 'text', HEADER)", false, true, '\t', 0, 0, "\\N"},  // text headers: PostgreSQL 15
           {"(FORMAT csv, HEADER 'OFF')", true, false, ',', '"', '"', ""},
           {"(FORMAT csv, HEADER 'False')", true, false, ',', '"', '"', ""},
           {"(FORMAT csv, HEADER off)", true, false, ',', '"', '"', ""},
           {"(FORMAT csv, HEADER 0)", true, false, ',', '"', '"', ""},
           {"(FORMAT csv, HEADER (false))", true, false, ',', '"', '"', ""},
           {"(FORMAT csv, HEADER 'oN')", true, true, ',', '"', '"', ""},
           {"(FORMAT csv, HEADER TRUE)", true, true, ',', '"', '"', ""},
           {"(FORMAT csv, HEADER 1)", true, true, ',', '"', '"', ""},
           {"(FORMAT csv, HEADER)", true, true, ',', '"', '"', ""},
           {"CSV HEADER", true, true, ',', '"', '"', ""},
           {"WITH CSV HEADER DELIMITER AS ';' NULL AS 'n/a' QUOTE AS '''' ESCAPE AS '\\'", true, true, ';', '\'',
            '\\', "n/a"},
           {"(FORMAT csv, DELIMITER 1)", true, false, '1', '"', '"', ""},  // a number is its text
           {"(FORMAT csv, DELIMITER *)", true, false, '*', '"', '"', ""},
           {"(FORMAT csv, QUOTE (x), NULL 0)", true, false, ',', 'x', 'x', "0"},
           {"(FORMAT csv, FORCE_QUOTE *)", true, false, ',', '"', '"', ""},
           {"(FORMAT csv, FORCE_QUOTE (id))", true, false, ',', '"', '"', ""},
           {"(DELIMITER '|', NULL '')", false, false, '|', 0, 0, ""},
           {"(FORMAT csv, ENCODING 'UTF8')", true, false, ',', '"', '"', ""},
       }) {
    const std::string sql = std::string("COPY (SELECT id, ssn FROM customers) TO STDOUT ") + e.options;
    auto v = trace(sql);
    ASSERT_EQ(v.size(), 1u) << sql;
    EXPECT_EQ(v[0].copy_options_error, "") << sql;
    EXPECT_FALSE(v[0].copy_binary) << sql;
    EXPECT_EQ(v[0].copy_csv, e.csv) << sql;
    EXPECT_EQ(v[0].copy_header, e.header) << sql;
    EXPECT_EQ(v[0].copy_delimiter, e.delimiter) << sql;
    EXPECT_EQ(v[0].copy_quote, e.quote) << sql;
    EXPECT_EQ(v[0].copy_escape, e.escape) << sql;
    EXPECT_TRUE(v[0].copy_null_set) << sql;
    EXPECT_EQ(v[0].copy_null, e.null_print) << sql;
  }
  EXPECT_EQ(trace("COPY customers TO STDOUT USING DELIMITERS ';'")[0].copy_delimiter, ';');
  EXPECT_TRUE(trace("COPY customers TO STDOUT (FORMAT binary)")[0].copy_binary);
  EXPECT_TRUE(trace("COPY BINARY customers TO STDOUT")[0].copy_binary);
  auto enc = trace("COPY customers TO STDOUT (FORMAT csv, ENCODING 'SJIS')");
  EXPECT_TRUE(enc[0].copy_encoding_set);
  EXPECT_EQ(enc[0].copy_encoding, "SJIS");
  EXPECT_FALSE(trace("COPY customers TO STDOUT")[0].copy_encoding_set);
}

TEST(Lineage, CopyOptionsTheServerRefusesAreReportedNotGuessed) {
  for (const char* options : {
           "(FORMAT 'CSV')",  // compared as written
           "(FORMAT)",
           "(FORMAT csv, FORMAT text)",
           "(FORMAT csv, HEADER 'match')",  // COPY FROM only
           "(FORMAT csv, HEADER 2)",
           "(FORMAT csv, HEADER 'yes')",
           "(FORMAT csv, HEADER, HEADER false)",
           "(FORMAT binary, HEADER)",
           "(FORMAT binary, DELIMITER ',')",
           "(DELIMITER 'ab')",
           "(DELIMITER 'a')",  // not in text format
           "(DELIMITER 1)",
           "(FORMAT csv, DELIMITER E'\\n')",
           "(QUOTE '\"')",  // CSV only
           "(FORMAT csv, QUOTE ',')",
           "(FORMAT csv, ESCAPE 'ab')",
           "(FORCE_QUOTE *)",
           "(FORMAT csv, FORCE_NOT_NULL (id))",
           "(FORMAT csv, FORCE_QUOTE id)",
           "(FORMAT csv, NULL 'a,b')",
           "(FORMAT csv, NULL 'a\"b')",
           "(FORMAT csv, ENCODING 'UTF8', ENCODING 'UTF8')",
           "(FORMAT csv, OIDS)",
           "(\"FORMAT\" csv)",
       }) {
    const std::string sql = std::string("COPY (SELECT ssn FROM customers) TO STDOUT ") + options;
    auto v = trace(sql);
    ASSERT_EQ(v.size(), 1u) << sql;
    EXPECT_NE(v[0].copy_options_error, "") << sql;
  }
}

bool filters(std::string_view sql) {
  auto v = trace(sql);
  return !v.empty() && v.back().filters_on_masked;
}

TEST(Lineage, FiltersOnMaskedValuesAreFoundAtAnyLevel) {
  EXPECT_TRUE(filters("SELECT id FROM customers WHERE ssn LIKE '123%'"));
  EXPECT_TRUE(filters("SELECT id FROM customers ORDER BY ssn"));
  EXPECT_TRUE(filters("SELECT count(*) FROM customers GROUP BY email"));
  EXPECT_TRUE(filters("SELECT count(*) FROM customers GROUP BY 1 HAVING max(phone) > '5'"));
  EXPECT_TRUE(filters("SELECT DISTINCT ON (ssn) id FROM customers"));
  EXPECT_TRUE(filters("SELECT o.id FROM orders o JOIN customers c ON c.ssn = o.note"));
  EXPECT_TRUE(filters("SELECT id FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE ssn > '5')"));
  EXPECT_TRUE(filters("SELECT row_number() OVER (PARTITION BY email) FROM customers"));
  EXPECT_TRUE(filters("UPDATE customers SET name = 'x' WHERE ssn = '123-45-6789'"));
  EXPECT_TRUE(filters("DELETE FROM customers WHERE card_number LIKE '4%'"));
  EXPECT_TRUE(filters("WITH c AS (SELECT ssn AS s FROM customers) SELECT 1 FROM c WHERE s = '1'"));
  EXPECT_TRUE(filters("SELECT id FROM customers c JOIN other o USING (ssn)"));
  EXPECT_TRUE(filters("SELECT id FROM customers NATURAL JOIN orders"));
  EXPECT_TRUE(filters("SELECT '123-45-6789' INTERSECT SELECT ssn FROM customers"));
  EXPECT_TRUE(filters("SELECT ssn FROM customers EXCEPT SELECT '1'"));
  EXPECT_TRUE(filters("SELECT count(*) FROM (SELECT ssn FROM customers UNION SELECT '1') s"));
  EXPECT_TRUE(filters("SELECT DISTINCT ssn FROM customers"));
  EXPECT_TRUE(filters("SELECT id FROM customers LIMIT (SELECT ascii(ssn) FROM customers LIMIT 1)"));
  EXPECT_TRUE(filters("SELECT id FROM customers OFFSET (SELECT length(email) FROM customers LIMIT 1)"));
  EXPECT_TRUE(filters("SELECT sum(id) OVER w FROM customers WINDOW w AS (ORDER BY ssn)"));
  EXPECT_TRUE(filters("SELECT id FROM (SELECT id, ssn FROM customers) s WHERE s.ssn > '5'"));
  EXPECT_TRUE(filters("SELECT id FROM (SELECT id, ssn FROM customers) s(a, b) WHERE b > '5'"));
  EXPECT_TRUE(filters("MERGE INTO orders o USING customers c ON o.note = c.ssn WHEN MATCHED THEN DO NOTHING"));
  EXPECT_TRUE(filters("MERGE INTO orders o USING customers c ON o.id = c.id WHEN MATCHED AND c.ssn > '5' THEN DELETE"));
  EXPECT_TRUE(filters("SELECT 1 FROM customers c WHERE c::text LIKE '%123%'"));
  EXPECT_TRUE(filters("SELECT id FROM customers GROUP BY id, ssn"));
  EXPECT_TRUE(filters("SELECT id FROM customers WHERE EXISTS (SELECT 1 FROM customers c2 WHERE c2.ssn = '1')"));
  EXPECT_TRUE(filters("SELECT (SELECT id FROM customers WHERE ssn LIKE '1%' LIMIT 1)"));
  EXPECT_TRUE(filters("SELECT x FROM customers c, unnest(ARRAY[c.ssn]) AS x WHERE x LIKE '1%'"));
  EXPECT_TRUE(filters("INSERT INTO t SELECT id FROM customers ON CONFLICT (id) DO UPDATE SET a = 1 "
                      "WHERE excluded.ssn > '1'"));
  // Outputs named by position or alias in ORDER BY, GROUP BY, DISTINCT ON.
  EXPECT_TRUE(filters("SELECT id, ssn FROM customers ORDER BY 2"));
  EXPECT_TRUE(filters("SELECT ssn AS x FROM customers ORDER BY x DESC"));
  EXPECT_TRUE(filters("SELECT ssn AS x, count(*) FROM customers GROUP BY x"));
  EXPECT_TRUE(filters("SELECT DISTINCT ON (1) ssn, id FROM customers"));
  EXPECT_TRUE(filters("SELECT ssn AS x FROM customers UNION ALL SELECT '1' ORDER BY 1"));
  EXPECT_FALSE(filters("SELECT id, ssn FROM customers ORDER BY 1"));
  EXPECT_FALSE(filters("SELECT ssn, id AS x FROM customers ORDER BY x"));
  EXPECT_FALSE(filters("SELECT id FROM orders WHERE email = 'x'"));
  EXPECT_FALSE(filters("SELECT 1 FROM orders NATURAL JOIN staff"));
  EXPECT_FALSE(filters("SELECT ssn FROM customers UNION ALL SELECT '1'"));
  EXPECT_FALSE(filters("SELECT id FROM customers WHERE id = 1"));

  EXPECT_FALSE(filters("SELECT ssn FROM customers ORDER BY id"));
  EXPECT_FALSE(filters("SELECT DISTINCT name FROM customers"));
}

// A foreign key to masked columns, a unique index on them: later INSERTs
// answer "is this value one of theirs?" (strict: true refuses filtering).
TEST(Lineage, KeysOnMaskedColumnsAnswerLaterInsertsAboutThem) {
  EXPECT_TRUE(filters("CREATE TABLE t (e text REFERENCES customers (email))"));
  EXPECT_TRUE(filters("CREATE TABLE t (e int REFERENCES public.customers)"));
  EXPECT_TRUE(filters("ALTER TABLE t ADD FOREIGN KEY (e) REFERENCES customers (ssn)"));
  EXPECT_TRUE(filters("CREATE UNIQUE INDEX k ON customers (email)"));
  EXPECT_TRUE(filters("CREATE UNIQUE INDEX k ON customers (lower(name))"));
  EXPECT_FALSE(filters("CREATE TABLE t (c int REFERENCES customers (id))"));
  EXPECT_FALSE(filters("CREATE TABLE t (o int REFERENCES orders)"));
  EXPECT_FALSE(filters("CREATE UNIQUE INDEX k ON customers (id)"));
  // Any index on them orders the scans the planner serves from it (the
  // settings that steer a scan onto one: DecisionTest.StrictRefusesPlannerMethodSettings).
  EXPECT_TRUE(filters("CREATE INDEX k ON customers (ssn, id)"));
  EXPECT_FALSE(filters("CREATE INDEX k ON customers (id)"));
}

std::string write_of(std::string_view sql) {
  auto v = trace(sql);
  if (v.empty()) return "<none>";
  return v.back().writes_masked ? v.back().write_target : "";
}

TEST(Lineage, WritesOfMaskedValuesAreFound) {
  EXPECT_EQ(write_of("INSERT INTO t SELECT ssn FROM customers"), "insert into t of masked values");
  EXPECT_EQ(write_of("INSERT INTO t VALUES ((SELECT email FROM customers LIMIT 1))"), "insert into t of masked values");
  EXPECT_EQ(write_of("UPDATE customers SET notes = ssn"), "update customers of masked values");
  EXPECT_EQ(write_of("CREATE TABLE x AS SELECT ssn FROM customers"), "create table as of masked values");
  EXPECT_EQ(write_of("SELECT ssn INTO x FROM customers"), "select into of masked values");
  EXPECT_EQ(write_of("CREATE VIEW v AS SELECT email FROM customers"), "create view of masked values");
  EXPECT_EQ(write_of("CREATE MATERIALIZED VIEW v AS SELECT email FROM customers"), "create materialized view of masked values");
  EXPECT_EQ(write_of("SELECT set_config('application_name', ssn, false) FROM customers"), "set_config of masked values");
  EXPECT_EQ(write_of("SELECT pg_notify('c', ssn) FROM customers"), "pg_notify of masked values");
  EXPECT_EQ(write_of("WITH w AS (INSERT INTO t SELECT phone FROM customers RETURNING 1) SELECT 1"), "insert into t of masked values");
  EXPECT_EQ(write_of("EXPLAIN ANALYZE INSERT INTO t SELECT ssn FROM customers"), "insert into t of masked values");
  EXPECT_EQ(write_of("COPY (SELECT ssn FROM customers) TO '/tmp/x'"), "copy of masked values to a server file or program");
  EXPECT_NE(write_of("DO $$ BEGIN PERFORM 1; END $$"), "");
  EXPECT_EQ(write_of("UPDATE customers SET name = 'x' WHERE id = 1 RETURNING ssn"), "");
  EXPECT_EQ(write_of("INSERT INTO orders (customer_id, amount) SELECT id, 1 FROM customers"), "");
  EXPECT_EQ(write_of("SELECT set_config('application_name', 'x', false)"), "");
  EXPECT_EQ(write_of("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'"),
            "create function while masking is in force");
  EXPECT_EQ(write_of("CREATE TRIGGER t AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION f()"),
            "create trigger while masking is in force");
  EXPECT_EQ(write_of("ALTER TABLE customers RENAME COLUMN ssn TO x"), "rename in a masked relation");
  EXPECT_EQ(write_of("ALTER TABLE customers ADD COLUMN y int"), "alter of a masked relation");
  EXPECT_EQ(write_of("ALTER TABLE orders ADD COLUMN y int"), "");
  EXPECT_EQ(write_of("MERGE INTO t USING customers c ON t.id = c.id WHEN NOT MATCHED THEN INSERT VALUES (c.ssn)"),
            "merge into t of masked values");
  EXPECT_EQ(write_of("INSERT INTO public.t VALUES (get_ssn(1))"), "insert into public.t of masked values");
  EXPECT_EQ(write_of("INSERT INTO t SELECT * FROM customers"), "insert into t of masked values");
  EXPECT_EQ(write_of("INSERT INTO t SELECT c FROM customers c"), "insert into t of masked values");
  EXPECT_EQ(write_of("UPDATE t SET a = c.email FROM customers c"), "update t of masked values");
  EXPECT_EQ(write_of("UPDATE t SET (a, b) = (SELECT ssn, id FROM customers LIMIT 1)"), "update t of masked values");
  EXPECT_EQ(write_of("COPY (SELECT ssn FROM customers) TO PROGRAM 'cat'"),
            "copy of masked values to a server file or program");
  EXPECT_EQ(write_of("COPY customers TO '/tmp/x'"), "copy of masked values to a server file or program");
  EXPECT_EQ(write_of("COPY orders TO '/tmp/x'"), "");
  EXPECT_EQ(write_of("SELECT lo_from_bytea(0, convert_to(ssn, 'UTF8')) FROM customers"),
            "lo_from_bytea of masked values");
  EXPECT_EQ(write_of("SELECT pg_logical_emit_message(true, 'p', ssn) FROM customers"),
            "pg_logical_emit_message of masked values");
  EXPECT_EQ(write_of("SELECT setval('s', ascii(ssn)) FROM customers"), "setval of masked values");
  EXPECT_EQ(write_of("SELECT dblink_exec('host=x', 'INSERT INTO t VALUES (''' || ssn || ''')') FROM customers"),
            "dblink_exec of masked values");
  EXPECT_EQ(write_of("SELECT pg_catalog.set_config('a.b', (SELECT email FROM customers LIMIT 1), true)"),
            "set_config of masked values");
  EXPECT_EQ(write_of("SELECT pg_notify('c', ssn), set_config('a.b', ssn, true) FROM customers"),
            "pg_notify of masked values");
  EXPECT_EQ(write_of("SELECT pg_notify('c', name) FROM customers"), "");
  EXPECT_EQ(write_of("NOTIFY c, 'literal'"), "");
  EXPECT_EQ(write_of("CALL p(get_ssn(1))"), "call with masked arguments");
  EXPECT_EQ(write_of("CALL p(1)"), "");
  EXPECT_EQ(write_of("DECLARE c CURSOR WITH HOLD FOR SELECT ssn FROM customers"), "");
  EXPECT_EQ(write_of("PREPARE p AS INSERT INTO t SELECT ssn FROM customers"), "insert into t of masked values");
  EXPECT_EQ(write_of("CREATE VIEW v AS SELECT c FROM customers c"), "create view of masked values");
  EXPECT_EQ(write_of("CREATE TABLE x AS SELECT id FROM customers"), "");
  EXPECT_EQ(write_of("SELECT id INTO x FROM customers"), "");
  EXPECT_EQ(write_of("CREATE POLICY p ON customers USING (ssn LIKE '1%')"), "policy on a masked relation");
  EXPECT_EQ(write_of("CREATE STATISTICS s (mcv) ON ssn, id FROM customers"), "statistics on a masked relation");
  EXPECT_EQ(write_of("ALTER TABLE customers SET SCHEMA hidden"), "alter of a masked relation");
  EXPECT_EQ(write_of("ALTER SCHEMA public RENAME TO p2"), "rename of a schema while masking is in force");
  EXPECT_EQ(write_of("CREATE PUBLICATION pub FOR TABLE customers"), "publication while masking is in force");
  EXPECT_EQ(write_of("CREATE RULE r AS ON INSERT TO orders DO ALSO NOTIFY c"), "create rule while masking is in force");
}

// Built-ins that keep their arguments where a later statement (or another
// session) reads them back: a masked value must not reach them.
TEST(Lineage, ArgumentsThatEndUpReadableElsewhereAreWrites) {
  for (const char* call : {
           "pg_advisory_lock(hashtext(ssn))",
           "pg_advisory_xact_lock(replace(ssn, '-', '')::bigint)",
           "pg_advisory_xact_lock_shared(1, ascii(ssn))",
           "pg_try_advisory_lock(length(email))",
           "pg_try_advisory_xact_lock_shared(ascii(phone))",
           "pg_advisory_unlock(ascii(ssn))",
           "nextval(('s' || substr(ssn, 1, 1))::regclass)",
           "setseed(ascii(ssn) / 1000.0)",
           "lo_create(replace(ssn, '-', '')::oid)",
           "lo_truncate(0, ascii(ssn))",
           "lo_lseek64(0, ascii(ssn), 0)",
           "pg_replication_origin_create(ssn)",
           "pg_replication_origin_xact_setup(ascii(ssn)::text::pg_lsn, now())",
           "pg_create_logical_replication_slot(lower(email), 'test_decoding')",
           "pg_create_physical_replication_slot(reverse(phone))",
           "pg_replication_slot_advance('s', ascii(ssn)::text::pg_lsn)",
           "pg_create_restore_point(ssn)",
           "pg_backup_start(ssn)",
           "pg_file_rename('/tmp/a', ssn)",
           "dblink_connect(ssn)",
           "pg_terminate_backend(ascii(ssn))",
           "pg_cancel_backend(ascii(ssn))",
           "pg_log_backend_memory_contexts(ascii(ssn))",
       }) {
    const std::string sql = std::string("SELECT ") + call + " FROM customers";
    const std::string name(call, std::string_view(call).find('('));
    EXPECT_EQ(write_of(sql), name + " of masked values") << sql;
  }
  EXPECT_EQ(write_of("SELECT pg_advisory_xact_lock(x) FROM (SELECT ascii(ssn) AS x FROM customers) s"),
            "pg_advisory_xact_lock of masked values");
  EXPECT_EQ(write_of("SELECT PG_ADVISORY_LOCK(ascii(ssn)) FROM customers"), "pg_advisory_lock of masked values");
  // Arguments that carry nothing masked stay allowed.
  EXPECT_EQ(write_of("SELECT pg_advisory_lock(id) FROM customers"), "");
  EXPECT_EQ(write_of("SELECT nextval('s'), setseed(0.5), lo_create(0) FROM customers"), "");
  EXPECT_EQ(write_of("SELECT pg_advisory_unlock_all() FROM customers"), "");
}

// SQL held in a string runs with its own effects: traced as a statement of
// its own, its writes, filters and reads count for the statement that runs it.
TEST(Lineage, SqlInAStringIsTracedAsItsOwnStatement) {
  EXPECT_EQ(write_of("SELECT query_to_xml('SELECT pg_notify(''leak'', reverse(ssn)) FROM customers', "
                     "true, false, '')"),
            "pg_notify of masked values (in SQL run by query_to_xml)");
  EXPECT_EQ(write_of("SELECT query_to_xmlschema('SELECT set_config(''application_name'', reverse(email), false) "
                     "FROM customers', true, false, '')"),
            "set_config of masked values (in SQL run by query_to_xmlschema)");
  EXPECT_EQ(write_of("SELECT query_to_xml_and_xmlschema(query => 'SELECT pg_advisory_xact_lock(ascii(ssn)) "
                     "FROM customers', nulls => true, tableforest => false, targetns => '')"),
            "pg_advisory_xact_lock of masked values (in SQL run by query_to_xml_and_xmlschema)");
  EXPECT_EQ(write_of("SELECT * FROM ts_stat('SELECT to_tsvector(set_config(''a.b'', ssn, false)) FROM customers')"),
            "set_config of masked values (in SQL run by ts_stat)");
  EXPECT_EQ(write_of("SELECT dblink_exec('host=x', 'INSERT INTO t SELECT ssn FROM customers')"),
            "insert into t of masked values (in SQL run by dblink_exec)");
  EXPECT_EQ(write_of("SELECT * FROM dblink('SELECT set_config(''a.b'', ssn, false) FROM customers') AS t(x text)"),
            "set_config of masked values (in SQL run by dblink)");
  EXPECT_EQ(write_of("SELECT dblink_open('conn', 'c', 'SELECT pg_notify(''x'', ssn) FROM customers')"),
            "pg_notify of masked values (in SQL run by dblink_open)");
  // SQL in a string in SQL in a string.
  EXPECT_EQ(write_of("SELECT query_to_xml($a$SELECT query_to_xml($b$SELECT set_config('a.b', ssn, false) FROM "
                     "customers$b$, true, false, '')$a$, true, false, '')"),
            "set_config of masked values (in SQL run by query_to_xml) (in SQL run by query_to_xml)");
  // Reads only: the result is masked whole, nothing is refused.
  EXPECT_EQ(write_of("SELECT query_to_xml('SELECT ssn FROM customers', true, false, '')"), "");
  EXPECT_EQ(write_of("SELECT dblink('host=x', 'SELECT 1') FROM orders"), "");
  // SQL pgwarden cannot read.
  EXPECT_EQ(write_of("SELECT query_to_xml(current_setting('x.q'), true, false, '')"),
            "query_to_xml of SQL in a computed string while masking is in force");
  EXPECT_EQ(write_of("SELECT query_to_xml('SELEC ssn', true, false, '')"),
            "query_to_xml of SQL pgwarden cannot parse while masking is in force");
  EXPECT_EQ(write_of("SELECT dblink(c, 'SELECT 1') FROM orders"),
            "dblink of SQL in a computed string while masking is in force");
  // Filters and reads inside count too (strict, and error scrubbing).
  EXPECT_TRUE(filters("SELECT query_to_xml('SELECT id FROM customers WHERE ssn LIKE ''1%''', true, false, '')"));
  auto v = trace("SELECT query_to_xml('SELECT ssn::int FROM customers', true, false, '') FROM orders");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_TRUE(v[0].touches_masked);
  // Nested too deep to trace: an error (the engine refuses), never a guess.
  std::string deep = "SELECT 1";
  for (int i = 0; i < 12; ++i)
    deep = "SELECT query_to_xml($q" + std::to_string(i) + "$" + deep + "$q" + std::to_string(i) + "$, true, false, '')";
  Oracle oracle;
  EXPECT_FALSE(trace_lineage(deep, oracle).ok());
}

// What functions that read by a name in a string return is masked whole,
// whatever the oracle says of them: no parse tree shows what they read.
TEST(Lineage, FunctionsThatReadByNameReturnTaintedValues) {
  EXPECT_EQ(shape_of("SELECT cursor_to_xml('c', 10, true, false, '')"), "T");
  EXPECT_EQ(shape_of("SELECT cursor_to_xmlschema('c', true, false, '')"), "T");
  EXPECT_EQ(shape_of("SELECT table_to_xml('customers', true, false, '')"), "T");
  EXPECT_EQ(shape_of("SELECT schema_to_xml('public', true, false, '')"), "T");
  EXPECT_EQ(shape_of("SELECT database_to_xml(true, false, '')"), "T");
  EXPECT_EQ(shape_of("SELECT query_to_xml('SELECT 1', true, false, '')"), "T");
  EXPECT_EQ(shape_of("SELECT * FROM dblink('SELECT 1') AS t(a int)"), "*T");
  EXPECT_EQ(shape_of("SELECT id, cursor_to_xml('c', 1, true, false, '') FROM orders"), "cT");
}

// x.f and (x).f are f(x) when x has no column or field f.
TEST(Lineage, AttributeNotationIsTheCallItMayBe) {
  // What the function returns: get_ssn is tainted, plpgsql_fn untraceable.
  EXPECT_EQ(shape_of("SELECT (1).get_ssn"), "T");
  EXPECT_EQ(shape_of("SELECT reverse((i).get_ssn) FROM generate_series(1, 3) i"), "T");
  EXPECT_EQ(shape_of("SELECT reverse(s.get_ssn) FROM generate_series(1, 3) s"), "T");
  EXPECT_EQ(shape_of("SELECT x FROM (SELECT (1).get_ssn AS x) s"), "T");
  EXPECT_EQ(shape_of("SELECT (1).plpgsql_fn"), "u");
  EXPECT_EQ(shape_of("SELECT ('SELECT 1'::text).ts_stat"), "T");
  // A function that takes a whole row gets every column of it.
  EXPECT_EQ(shape_of("SELECT c.row_to_json FROM customers c"), "T");
  EXPECT_EQ(shape_of("SELECT customers.to_jsonb FROM customers"), "T");
  EXPECT_EQ(shape_of("SELECT public.customers.concat FROM public.customers"), "T");
  EXPECT_EQ(shape_of("SELECT s.row_to_json FROM (SELECT ssn FROM customers) s"), "T");
  EXPECT_EQ(shape_of("SELECT (c).row_to_json FROM customers c"), "T");
  // Columns stay what they are: of a clean row, or not a row function.
  EXPECT_EQ(shape_of("SELECT o.row_to_json FROM orders o"), "c");
  EXPECT_EQ(shape_of("SELECT c.name, c.id FROM customers c"), "cc");
  EXPECT_EQ(shape_of("SELECT upper(c.name) FROM customers c"), "c");
  // It opens the gate like a call: ssn below is the masked column.
  EXPECT_EQ(shape_of("SELECT (1).get_ssn, ssn FROM orders"), "TT");
  // A built-in that keeps its argument where a later statement reads it.
  EXPECT_EQ(write_of("SELECT (replace(ssn, '-', '')::bigint).pg_advisory_lock FROM customers"),
            "pg_advisory_lock of masked values");
  EXPECT_EQ(write_of("SELECT s.pg_advisory_lock FROM customers c, int8(c.ssn) s"), "pg_advisory_lock of masked values");
  EXPECT_EQ(write_of("SELECT (42::bigint).pg_advisory_lock"), "");
}

// Expressions DDL stores for later statements to run: what they compute is
// stored, or comes back in an error or as a yes or no.
TEST(Lineage, StoredExpressionsOfMaskedValuesAreWrites) {
  const std::string create = "create table computing masked values";
  const std::string alter = "alter table computing masked values";
  EXPECT_EQ(write_of("CREATE TABLE t (v text DEFAULT reverse(get_ssn(1)))"), create);
  EXPECT_EQ(write_of("CREATE TABLE t (v text DEFAULT (1).get_ssn)"), create);
  EXPECT_EQ(write_of("CREATE TABLE t (id int, v text GENERATED ALWAYS AS (get_ssn(id)) STORED)"), create);
  EXPECT_EQ(write_of("CREATE TABLE t (id int CHECK (reverse(get_ssn(id))::int > 0))"), create);
  EXPECT_EQ(write_of("ALTER TABLE t ALTER COLUMN v SET DEFAULT get_ssn(1)"), alter);
  EXPECT_EQ(write_of("ALTER TABLE t ADD COLUMN v text DEFAULT get_ssn(1)"), alter);
  EXPECT_EQ(write_of("ALTER TABLE t ALTER COLUMN id TYPE text USING get_ssn(id)"), alter);
  EXPECT_EQ(write_of("ALTER TABLE t ADD CONSTRAINT k CHECK (get_ssn(id)::int > 0) NOT VALID"), alter);
  EXPECT_EQ(write_of("CREATE DOMAIN d AS text DEFAULT get_ssn(1)"), "create domain computing masked values");
  EXPECT_EQ(write_of("CREATE DOMAIN d AS int CHECK (get_ssn(VALUE)::int > 0)"), "create domain computing masked values");
  EXPECT_EQ(write_of("ALTER DOMAIN d SET DEFAULT get_ssn(1)"), "alter domain computing masked values");
  EXPECT_EQ(write_of("ALTER DOMAIN d ADD CONSTRAINT k CHECK (get_ssn(VALUE) <> '')"), "alter domain computing masked values");
  EXPECT_EQ(write_of("CREATE INDEX ON t ((get_ssn(id)::int))"), "create index computing masked values");
  EXPECT_EQ(write_of("CREATE INDEX ON t (id) WHERE get_ssn(id) LIKE '1%'"), "create index computing masked values");
  EXPECT_EQ(write_of("CREATE INDEX ON customers (upper(ssn))"), "create index computing masked values");
  EXPECT_EQ(write_of("CREATE POLICY p ON t USING (get_ssn(id) LIKE '1%')"), "policy computing masked values");
  EXPECT_EQ(write_of("CREATE STATISTICS s ON (get_ssn(id)) FROM t"), "create statistics computing masked values");
  // Clean expressions, and plain columns of a masked table.
  EXPECT_EQ(write_of("CREATE TABLE t (v text DEFAULT upper('x') CHECK (v <> ''), g int GENERATED ALWAYS AS (1) STORED)"),
            "");
  EXPECT_EQ(write_of("CREATE TABLE t (LIKE customers INCLUDING ALL)"), "");
  EXPECT_EQ(write_of("CREATE DOMAIN d AS text DEFAULT 'x' CHECK (VALUE <> '')"), "");
  EXPECT_EQ(write_of("CREATE INDEX ON customers (ssn)"), "");
  EXPECT_EQ(write_of("ALTER TABLE t ADD CONSTRAINT k CHECK (id > 0)"), "");
  // A masked table attached under a parent of the client's own.
  EXPECT_EQ(write_of("ALTER TABLE p ATTACH PARTITION customers FOR VALUES FROM (MINVALUE) TO (MAXVALUE)"),
            "attach of a masked relation");
  EXPECT_EQ(write_of("ALTER TABLE p ATTACH PARTITION orders FOR VALUES FROM (MINVALUE) TO (MAXVALUE)"), "");
}

TEST(Lineage, NewNamesForCallsOfMaskedFunctionsAreRefused) {
  EXPECT_EQ(write_of("CREATE OPERATOR @@@ (RIGHTARG = integer, FUNCTION = public.get_ssn)"),
            "create operator over a function that may return masked values");
  EXPECT_EQ(write_of("CREATE OPERATOR @@@ (RIGHTARG = integer, PROCEDURE = plpgsql_fn)"),
            "create operator over a function that may return masked values");
  EXPECT_EQ(write_of("CREATE AGGREGATE a (integer) (SFUNC = int4larger, STYPE = integer, FINALFUNC = get_ssn)"),
            "create aggregate over a function that may return masked values");
  EXPECT_EQ(write_of("CREATE CAST (integer AS d) WITH FUNCTION get_ssn(integer)"),
            "create cast over a function that may return masked values");
  EXPECT_EQ(write_of("CREATE OPERATOR ### (LEFTARG = text, RIGHTARG = text, FUNCTION = textcat)"), "");
  EXPECT_EQ(write_of("CREATE AGGREGATE a (text) (SFUNC = textcat, STYPE = text)"), "");
  EXPECT_EQ(write_of("CREATE CAST (customers AS text) WITH INOUT"), "");
  // An implicit cast from a row type makes every function of the target type take the row.
  EXPECT_EQ(write_of("CREATE CAST (customers AS text) WITH INOUT AS IMPLICIT"),
            "create implicit cast while masking is in force");
}

TEST(Lineage, MoreSourcesAndTheirTaint) {
  auto v = trace("EXPLAIN ANALYZE SELECT ssn FROM customers; EXPLAIN SELECT get_ssn(1); CALL plpgsql_fn(); "
                 "MOVE 5 IN cur; FETCH ALL cur; SELECT ssn INTO x FROM customers; INSERT INTO orders VALUES (1); "
                 "COPY (SELECT 1) TO STDOUT; COPY customers TO STDOUT");
  ASSERT_EQ(v.size(), 9u);
  EXPECT_EQ(v[0].source, RowSource::other);
  EXPECT_EQ(v[0].taint_other, Taint::clean);
  EXPECT_TRUE(v[0].touches_masked);
  // The planner folds immutable calls with constant arguments into the plan it prints.
  EXPECT_EQ(v[1].source, RowSource::other);
  EXPECT_EQ(v[1].taint_other, Taint::tainted);
  EXPECT_EQ(v[2].source, RowSource::other);
  EXPECT_EQ(v[2].taint_other, Taint::untraceable);
  EXPECT_EQ(v[3].source, RowSource::none);
  EXPECT_EQ(v[4].source, RowSource::fetch);
  EXPECT_EQ(v[4].name, "cur");
  EXPECT_EQ(v[5].source, RowSource::none);
  EXPECT_EQ(v[6].source, RowSource::none);
  EXPECT_EQ(v[7].source, RowSource::copy_query);
  EXPECT_EQ(shape(v[7]), "c");
  EXPECT_EQ(v[8].source, RowSource::copy_table);
  EXPECT_TRUE(v[8].outputs.empty());
  EXPECT_TRUE(v[8].touches_masked);
}

TEST(Lineage, OutputNamesAreTheServers) {
  auto v = trace("SELECT ssn AS tax_id, upper(name), ssn::int, CASE WHEN true THEN 1 END, 1 + 1, "
                 "CASE WHEN true THEN 1 ELSE id END, '1'::int, (SELECT email FROM customers LIMIT 1), "
                 "EXISTS (SELECT 1), ARRAY[1], coalesce(id, 0), (c).phone, c.* FROM customers c");
  ASSERT_EQ(v.size(), 1u);
  std::vector<std::string> names;
  for (const auto& o : v[0].outputs) names.push_back(o.name);
  EXPECT_EQ(names, (std::vector<std::string>{"tax_id", "upper", "ssn", "case", "?column?", "id", "int4", "email",
                                             "exists", "array", "coalesce", "phone", ""}));
  EXPECT_TRUE(v[0].outputs.back().star);
}

TEST(Lineage, OutputNamesThroughLongChains) {
  // FigureColname through casts, COLLATE, CASE ... ELSE and sub-selects,
  // walked in a loop (the chain can be as long as the input).
  auto v = trace("SELECT ssn::text::varchar, 1::int::text, ssn COLLATE \"C\", CASE WHEN true THEN 1 ELSE 2::int8 END, "
                 "(SELECT 1::int4)::text, (SELECT ssn FROM customers)::text, ARRAY[1]::int[], "
                 "CASE WHEN true THEN 1 ELSE ssn END::text, (VALUES (1))::int FROM customers");
  ASSERT_EQ(v.size(), 1u);
  std::vector<std::string> names;
  for (const auto& o : v[0].outputs) names.push_back(o.name);
  EXPECT_EQ(names, (std::vector<std::string>{"ssn", "text", "ssn", "case", "int4", "ssn", "int4", "ssn", "column1"}));
}

TEST(Lineage, TouchesMaskedAnywhere) {
  auto touches = [](std::string_view sql) {
    auto v = trace(sql);
    return !v.empty() && v.back().touches_masked;
  };
  EXPECT_TRUE(touches("SELECT id FROM customers WHERE ssn = '1'"));
  EXPECT_TRUE(touches("SELECT ssn::int FROM customers"));
  EXPECT_TRUE(touches("SELECT 1 FROM orders WHERE EXISTS (SELECT 1 FROM customers c WHERE c.email = 'x')"));
  EXPECT_TRUE(touches("SELECT get_ssn(1)"));
  EXPECT_FALSE(touches("SELECT id, name FROM customers"));
  EXPECT_FALSE(touches("SELECT count(*) FROM customers"));
  EXPECT_FALSE(touches("SELECT email FROM orders"));
  // A write into a masked table reads its stored rows and runs its
  // constraints and triggers: `Failing row contains (...)`.
  EXPECT_TRUE(touches("UPDATE customers SET name = NULL WHERE id = 1"));
  EXPECT_TRUE(touches("UPDATE public.customers SET name = name"));
  EXPECT_TRUE(touches("DELETE FROM customers WHERE id = 1"));
  EXPECT_TRUE(touches("INSERT INTO customers (name) VALUES ('x') ON CONFLICT (id) DO UPDATE SET name = 'y'"));
  EXPECT_TRUE(touches("MERGE INTO customers c USING orders o ON c.id = o.customer_id WHEN MATCHED THEN DELETE"));
  EXPECT_TRUE(touches("WITH d AS (DELETE FROM customers RETURNING id) SELECT count(*) FROM d"));
  EXPECT_FALSE(touches("UPDATE orders SET amount = 1 WHERE id = 1"));
  EXPECT_FALSE(touches("INSERT INTO orders (customer_id) SELECT id FROM customers"));
}

TEST(Lineage, AThrowingOracleCountsAsMasked) {
  struct Throwing : TaintOracle {
    bool relation_is_masked(std::string_view, std::string_view) const override { throw std::runtime_error("x"); }
    bool column_is_masked(std::string_view) const override { throw std::runtime_error("x"); }
    Taint function_taint(std::string_view, std::string_view) const override { throw std::runtime_error("x"); }
    Taint field_call_taint(std::string_view) const override { throw std::runtime_error("x"); }
    bool takes_a_row(std::string_view) const override { throw std::runtime_error("x"); }
  };
  Throwing oracle;
  auto r = trace_lineage("SELECT id FROM orders", oracle);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(shape(r->at(0)), "T");
}

TEST(Lineage, ConcurrentTracesAgree) {
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      Oracle oracle;
      for (int k = 0; k < 200; ++k) {
        auto r = trace_lineage("WITH c(a) AS (SELECT ssn FROM customers) SELECT a || '', id FROM c, orders", oracle);
        if (!r.ok() || shape(r->at(0)) != "Tc") ++mismatches;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}


TEST(Lineage, NothingIsMaskedWithoutAMaskedRelationOrFunction) {
  auto v = trace("SELECT email, upper(phone) FROM staff");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(shape(v[0]), "cc");
  EXPECT_FALSE(v[0].touches_masked);
}

// Runs fn on a thread with a 256 KiB stack, as hostile_input_test does: the
// tracer's recursion must end in an error well before such a stack does.
void on_small_stack(const std::function<void()>& fn) {
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, 256 * 1024), 0);
  pthread_t thread;
  auto trampoline = [](void* arg) -> void* {
    (*static_cast<std::function<void()>*>(arg))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&thread, &attr, trampoline, const_cast<std::function<void()>*>(&fn)), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

std::string repeat(std::string_view s, int n) {
  std::string r;
  for (int i = 0; i < n; ++i) r += s;
  return r;
}

TEST(Lineage, DeepNestingEndsInAnErrorOrAResultNeverACrash) {
  Oracle oracle;
  on_small_stack([&] {
    // Expressions and the first pass use explicit stacks: long chains and
    // deep expressions trace.
    for (const std::string& sql : {"SELECT 1" + repeat(" + 1", 100'000) + ", ssn FROM customers",
                                   "SELECT " + repeat("upper(", 2'000) + "ssn" + repeat(")", 2'000) + " FROM customers",
                                   "SELECT " + repeat("ARRAY[", 2'000) + "ssn" + repeat("]", 2'000) + " FROM customers",
                                   "SELECT " + repeat("(SELECT ", 2'000) + "ssn" + repeat(")", 2'000) + " FROM customers",
                                   repeat("SELECT 1 UNION ALL ", 5'000) + "SELECT ssn FROM customers"}) {
      auto r = trace_lineage(sql, oracle);
      ASSERT_TRUE(r.ok()) << sql.substr(0, 60) << ": " << r.error();
      ASSERT_EQ(r->size(), 1u);
      EXPECT_EQ(r->at(0).outputs.back().taint, Taint::tainted) << sql.substr(0, 60);
    }
    // Sub-selects in FROM recurse: deep ones end in an error (a refusal), or
    // in the parser's own "memory exhausted", never in a crash.
    for (const std::string& sql :
         {repeat("SELECT * FROM (", 1'000) + "SELECT ssn FROM customers" + repeat(") s", 1'000),
          repeat("SELECT * FROM (SELECT * FROM customers JOIN ", 800) + "orders" + repeat(" ON true) s", 800),
          "SELECT * FROM " + repeat("customers JOIN (", 3'000) + "orders" + repeat(") ON true", 3'000),
          repeat("(SELECT 1 UNION ", 3'000) + "SELECT ssn FROM customers" + repeat(")", 3'000),
          repeat("WITH a AS (", 3'000) + "SELECT ssn FROM customers" + repeat(") SELECT * FROM a", 3'000)}) {
      auto r = trace_lineage(sql, oracle);
      if (r.ok()) {
        ASSERT_EQ(r->size(), 1u);
        EXPECT_NE(shape(r->at(0)).find('T'), std::string::npos) << sql.substr(0, 60);
      } else {
        EXPECT_FALSE(r.error().empty());
      }
    }
    // Something moderate still traces.
    auto r = trace_lineage(repeat("SELECT * FROM (", 50) + "SELECT ssn FROM customers" + repeat(") s", 50), oracle);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(shape(r->at(0)), "*T");
  });
}

TEST(Lineage, SyntaxErrorsAreErrors) {
  Oracle oracle;
  EXPECT_FALSE(trace_lineage("SELEC 1", oracle).ok());
  EXPECT_FALSE(trace_lineage(std::string_view("SELECT 1\0", 9), oracle).ok());
}

}  // namespace
}  // namespace pgw::sql

namespace pgw::sql {
namespace {

std::string plain_of(std::string_view sql, size_t output) {
  auto v = trace(sql);
  if (v.empty() || v.back().outputs.size() <= output) return "<none>";
  return v.back().outputs[output].plain_column;
}

TEST(Lineage, PlainColumnOnlyWhenNothingButTablesIsRead) {
  EXPECT_EQ(plain_of("SELECT c.id, c.ssn AS tax_id FROM customers c", 1), "ssn");
  EXPECT_EQ(plain_of("SELECT ssn FROM customers JOIN orders o ON o.customer_id = customers.id", 0), "ssn");
  EXPECT_EQ(plain_of("SELECT upper(ssn) FROM customers", 0), "");
  // Same name, other value: a sub-select, a CTE, a set operation or a FROM function could rename anything.
  EXPECT_EQ(plain_of("SELECT s.ssn FROM (SELECT reverse(ssn) AS ssn FROM customers) s", 0), "");
  EXPECT_EQ(plain_of("WITH s AS (SELECT reverse(ssn) AS ssn FROM customers) SELECT ssn FROM s", 0), "");
  EXPECT_EQ(plain_of("SELECT ssn FROM customers UNION SELECT ssn FROM customers", 0), "");
  EXPECT_EQ(plain_of("SELECT f.ssn FROM customers c, plpgsql_fn() AS f(ssn text)", 0), "");
}

}  // namespace
}  // namespace pgw::sql
