// The walker reads libpg_query's parse trees through Debian's PostgreSQL 15
// server headers. If those headers disagreed with the structs libpg_query was
// compiled from, the walker would read the wrong fields, silently. These
// tests compare what the walker sees with libpg_query's own JSON rendering of
// the same trees, and check the library is safe to use from many threads.
#include <gtest/gtest.h>
#include <pg_query.h>

#include <iterator>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "sql/analyze.h"
#include "sql/raw/raw_facts.h"

namespace pgw::sql {
namespace {

const char* const kStatements[] = {
    "SELECT abalance FROM pgbench_accounts WHERE aid = 1",
    "WITH d AS (DELETE FROM t WHERE a IN (SELECT b FROM u) RETURNING *) SELECT count(*) FROM d",
    "INSERT INTO t (a, b) SELECT x, y FROM s ON CONFLICT (a) DO UPDATE SET b = excluded.b "
    "RETURNING *",
    "UPDATE t SET a = u.a + 1 FROM u JOIN v ON u.id = v.id WHERE t.id = u.id",
    "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED AND s.x > 0 THEN UPDATE SET a = s.a "
    "WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.a)",
    "SELECT * FROM a LEFT JOIN LATERAL generate_series(1, a.n) g ON true "
    "WHERE a.x = ANY (ARRAY[1, 2]) ORDER BY 1 LIMIT 10 FOR UPDATE OF a",
    "SELECT CASE WHEN x IS NULL THEN coalesce(y, z) ELSE greatest(x, 1) END, "
    "row_number() OVER w FROM t WINDOW w AS (PARTITION BY k ORDER BY v)",
    "CREATE TABLE t (id int PRIMARY KEY, b text DEFAULT lower('X') CHECK (b <> ''), "
    "c int REFERENCES u (id)) PARTITION BY RANGE (id)",
    "CREATE TABLE p1 PARTITION OF t FOR VALUES FROM (1) TO (10)",
    "CREATE FOREIGN TABLE ft (a int) SERVER s OPTIONS (table_name 'x')",
    "ALTER TABLE t ADD COLUMN d int GENERATED ALWAYS AS (id * 2) STORED, "
    "ALTER COLUMN b SET DEFAULT upper('y')",
    "CREATE INDEX CONCURRENTLY i ON t USING btree (lower(b)) WHERE id > 0",
    "COPY (SELECT * FROM t) TO STDOUT WITH (FORMAT csv, HEADER true)",
    "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM t WHERE b LIKE 'x%'",
    "PREPARE p (int, text) AS UPDATE t SET b = $2 WHERE id = $1",
    "GRANT SELECT, UPDATE (b) ON t, u TO agent WITH GRANT OPTION",
    "CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql IMMUTABLE BEGIN ATOMIC SELECT a + 1; END",
    "SELECT xmlelement(name x, xmlattributes(1 AS a)), json_build_object('k', v) FROM t",
    "SELECT * FROM XMLTABLE('/r' PASSING x COLUMNS a int PATH '@a', b text) AS xt",
    "VACUUM (ANALYZE, VERBOSE) t (a, b)",
    "SET search_path = a, b; RESET ALL; SHOW work_mem",
};

std::map<std::string, int> walker_counts(const char* sql) {
  std::map<std::string, int> counts;
  int status = pgw_raw_count_nodes(
      sql, [](void* ctx, const char* name) { ++(*static_cast<std::map<std::string, int>*>(ctx))[name]; },
      &counts);
  EXPECT_EQ(status, PGW_RAW_OK) << sql;
  return counts;
}

struct JsonCounts {
  std::map<std::string, int> nodes;  // {"TypeName": {...}} wrappers
  int relnames = 0;                  // RangeVar fields, wrapped or not
};

// libpg_query writes a node held in a Node* or List* field as
// {"TypeName": {...}}, and a node held in a typed field (RangeVar *relation)
// as its bare object. Field names start lower-case.
JsonCounts json_counts(const char* sql) {
  PgQueryParseResult result = pg_query_parse(sql);
  EXPECT_EQ(result.error, nullptr) << sql;
  JsonCounts counts;
  if (result.parse_tree) {
    static const std::regex node_key("\"([A-Z][A-Za-z_]*)\":\\{");
    static const std::regex relname("\"relname\":");
    std::string json(result.parse_tree);
    for (auto it = std::sregex_iterator(json.begin(), json.end(), node_key);
         it != std::sregex_iterator(); ++it)
      ++counts.nodes[(*it)[1]];
    counts.relnames = static_cast<int>(
        std::distance(std::sregex_iterator(json.begin(), json.end(), relname), std::sregex_iterator()));
  }
  pg_query_free_parse_result(result);
  counts.nodes.erase("List");  // arrays in the JSON; the walker's counter iterates them
  return counts;
}

// Node types that also appear in typed fields, where the JSON has no wrapper.
bool also_typed(const std::string& type) {
  static const char* const kTyped[] = {
      "RangeVar",  "TypeName",     "Alias",         "WithClause",      "IntoClause",
      "OnConflictClause", "InferClause", "CollateClause", "WindowDef", "RoleSpec",
      "ObjectWithArgs", "PartitionSpec", "PartitionBoundSpec", "VariableSetStmt",
      "CTESearchClause", "CTECycleClause", "FuncCall", "TableLikeClause"};
  for (const char* t : kTyped)
    if (type == t) return true;
  return false;
}

TEST(ParserAgreement, WalkerSeesTheNodesLibpgQuerySees) {
  for (const char* sql : kStatements) {
    auto walked = walker_counts(sql);
    auto json = json_counts(sql);
    EXPECT_EQ(walked.count("?"), 0u) << "unknown node type in: " << sql;
    walked.erase("RawStmt");  // the JSON's statement array
    for (const auto& [type, n] : json.nodes) {
      if (also_typed(type)) {
        EXPECT_GE(walked[type], n) << type << " in " << sql;
      } else {
        EXPECT_EQ(walked[type], n) << type << " in " << sql;
      }
    }
    for (const auto& [type, n] : walked) {
      if (!also_typed(type)) {
        EXPECT_EQ(json.nodes[type], n) << type << " in " << sql;
      }
    }
    EXPECT_EQ(walked["RangeVar"], json.relnames) << sql;
  }
}

TEST(ParserAgreement, SelfCheckPasses) {
  auto status = self_check();
  EXPECT_TRUE(status.ok()) << status.error();
}

TEST(ParserAgreement, ConcurrentAnalysesMatchSequentialOnes) {
  std::vector<std::string> expected;
  for (const char* sql : kStatements) {
    auto a = analyze(sql);
    ASSERT_TRUE(a.ok()) << sql;
    std::string all;
    for (const auto& s : a.statements) all += to_string(s) + "\n";
    expected.push_back(all);
  }
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        std::size_t i = static_cast<std::size_t>(round + t) % expected.size();
        auto a = analyze(kStatements[i]);
        std::string all;
        for (const auto& s : a.statements) all += to_string(s) + "\n";
        if (all != expected[i]) ++mismatches[static_cast<std::size_t>(t)];
        // Errors on one thread must not disturb the others.
        (void)analyze("SELECT FROM WHERE");
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

}  // namespace
}  // namespace pgw::sql
