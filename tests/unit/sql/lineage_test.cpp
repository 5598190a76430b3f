// Lineage: every query shape that can carry a masked value out is tainted,
// shapes that cannot stay clean, and filters and writes are found wherever
// they hide. The oracle is the harness schema: public.customers has masked
// columns ssn, card_number, email and phone; get_ssn() is a SQL function
// over ssn; plpgsql_fn() cannot be traced.
#include "sql/lineage.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

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
        Case{"COPY customers (id, ssn) TO STDOUT WITH (FORMAT csv)", "cT"}));

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
  EXPECT_FALSE(filters("SELECT id FROM customers WHERE id = 1"));
  EXPECT_FALSE(filters("SELECT ssn FROM customers ORDER BY id"));
  EXPECT_FALSE(filters("SELECT DISTINCT name FROM customers"));
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
}

TEST(Lineage, NothingIsMaskedWithoutAMaskedRelationOrFunction) {
  auto v = trace("SELECT email, upper(phone) FROM staff");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(shape(v[0]), "cc");
  EXPECT_FALSE(v[0].touches_masked);
}

TEST(Lineage, DeepNestingEndsInAnErrorNotACrash) {
  std::string deep = "SELECT ";
  for (int i = 0; i < 5000; ++i) deep += "(";
  deep += "ssn";
  for (int i = 0; i < 5000; ++i) deep += ")";
  deep += " FROM customers";
  std::string flat = "SELECT 1";
  for (int i = 0; i < 100000; ++i) flat += "+1";
  Oracle oracle;
  // On a small stack, as a loop thread might have.
  std::thread([&] {
    auto r = trace_lineage(deep, oracle);
    if (r.ok()) {
      ASSERT_EQ(r->size(), 1u);
      EXPECT_EQ(shape((*r)[0]), "T");
    }
    auto f = trace_lineage(flat, oracle);
    EXPECT_FALSE(f.ok());
  }).join();
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
