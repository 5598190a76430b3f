// Output lineage: which columns of a statement's result (and which of its
// side effects) can carry values of masked columns.
//
// PostgreSQL's RowDescription names a column's origin (table OID, attribute
// number) only for plain column references; `upper(ssn)`, `row_to_json(c)`,
// `ssn || ''` and every view column arrive with no usable origin. Lineage is
// therefore traced from the statement's own parse tree: an output column
// whose expression refers to a masked value in any way (function, cast,
// operator, CASE, sub-select, aggregate, window, array, whole-row reference,
// `*`, set operation arm, CTE or FROM sub-select that carries one) is
// tainted as a whole.
//
// The tracer is deliberately name-based and conservative: it does not bind
// names to scopes the way the server does. A column reference `x` (or
// `q.x`) is tainted when `x` is the name of a masked column of a relation
// the statement reads, or the output name of a tainted target of any
// sub-select or CTE in the statement (propagated to a fixpoint, including
// column alias lists such as `AS s(a, b)` and `WITH c(a, b) AS ...`). A
// false positive masks a harmless value; a false negative would leak, so
// every doubt goes to tainted.
//
// What is masked is the policy's business (policy/): the tracer asks a
// TaintOracle about names and never decides on its own.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "sql/parsed_sql.h"

namespace pgw::sql {

enum class Taint : std::uint8_t {
  clean,        // carries no masked value
  tainted,      // derives from a masked value: mask it as a whole
  untraceable,  // calls something whose result cannot be traced (a non-SQL
                // user function): the engine applies the content detectors
};

// The worse of two taints (tainted > untraceable > clean).
Taint worst(Taint a, Taint b);
std::string_view to_string(Taint t);

// What the policy knows about names. Names arrive folded as the parser folds
// them (unquoted identifiers lower-cased); `schema` is empty when the SQL
// did not qualify the name.
class TaintOracle {
 public:
  virtual ~TaintOracle() = default;
  // A relation (table, view, ...) some of whose columns are masked or
  // tainted: a whole-row reference or `*` over it carries masked values.
  virtual bool relation_is_masked(std::string_view schema, std::string_view name) const = 0;
  // A masked column name (of a table, or a tainted column of a view).
  // Consulted only when the statement reads at least one relation for which
  // relation_is_masked() is true, or calls a tainted function.
  virtual bool column_is_masked(std::string_view column) const = 0;
  // What a call of this function can return: clean for built-ins and
  // functions known not to read masked data, tainted for (SQL) functions
  // whose body reads masked values, untraceable for the rest.
  virtual Taint function_taint(std::string_view schema, std::string_view name) const = 0;
  // x.f or (x).f, which PostgreSQL runs as the call f(x) when x has no
  // column or field f: what a call of a function named f can return, and
  // clean when no function has that name (f is then a column).
  virtual Taint field_call_taint(std::string_view name) const = 0;
  // Some function of this name can take a whole row as its one argument
  // (record, anyelement, "any", a table's row type): t.f may then be f(t),
  // which receives every column of t.
  virtual bool takes_a_row(std::string_view name) const = 0;
};

// One column of the result, in target-list order.
struct OutputColumn {
  std::string name;   // the column name the server will report (best effort)
  bool star = false;  // `*` or `q.*`: stands for as many columns as its source has
  Taint taint = Taint::clean;
  // A bare column reference (`c.ssn AS tax_id`): the column it names. A view
  // column like that shows a table column as it is and may keep its mask.
  std::string plain_column;
};

// Where a statement's rows come from.
enum class RowSource : std::uint8_t {
  none,       // no rows (DDL, SET, plain INSERT/UPDATE/DELETE, ...)
  query,      // SELECT / VALUES / TABLE / set operation (also SELECT INTO: no rows sent)
  returning,  // INSERT / UPDATE / DELETE ... RETURNING
  declare,    // DECLARE cursor_name ... FOR query: outputs describe the cursor's rows
  fetch,      // FETCH ... cursor_name: rows of a cursor declared earlier
  execute,    // EXECUTE name: rows of a statement prepared earlier with PREPARE
  prepare,    // PREPARE name AS query: outputs describe what EXECUTE will return
  copy_table, // COPY table [(columns)] TO STDOUT
  copy_query, // COPY (query) TO STDOUT
  other,      // rows the tracer cannot describe (SHOW, EXPLAIN, CALL with OUT
              // arguments, ...): see `taint_other`
};

struct StatementLineage {
  RowSource source = RowSource::none;
  // query, returning, declare, prepare, copy_query: the target list (stars
  // kept as one entry each). copy_table: the column list as written (empty:
  // every column of the table). Otherwise empty.
  std::vector<OutputColumn> outputs;
  // declare / fetch: the cursor; execute / prepare: the prepared statement.
  std::string name;
  // copy_table: the table as written.
  std::string copy_schema, copy_table;
  // COPY TO STDOUT: the format the server sends rows in, read from the
  // options exactly as PostgreSQL 15's ProcessCopyOptions() reads them
  // (FORMAT csv / CSV / FORMAT (csv), HEADER true|on|1|'OFF'|(false)|0,
  // DELIMITER 1 is '1', old-style CSV HEADER, BINARY, USING DELIMITERS ...),
  // with the format's defaults filled in. The engine needs them to find the
  // fields of each row it masks.
  bool copy_binary = false;  // FORMAT binary
  bool copy_csv = false;
  // A header line comes first: CSV and (since PostgreSQL 15) text. One
  // CopyData message of column names; the engine passes it as it is.
  bool copy_header = false;
  char copy_delimiter = 0;  // '\t' in text, ',' in CSV unless given
  char copy_quote = 0;      // CSV only ('"' unless given); 0 in text
  char copy_escape = 0;     // CSV only (the quote unless given); 0 in text
  bool copy_null_set = false;
  std::string copy_null;  // "\N" in text, "" in CSV unless given
  // ENCODING as written: the server converts the rows to it, and in some
  // encodings a byte that looks like a quote, a backslash or a delimiter is
  // part of a character. masking_denial() refuses one that is not the
  // session's encoding.
  bool copy_encoding_set = false;
  std::string copy_encoding;
  // Not empty when the server would refuse the options (it raises an error
  // and sends no row): why. masking_denial() refuses such a COPY rather
  // than guess at its format.
  std::string copy_options_error;
  // other: how the rows should be treated (EXPLAIN and SHOW print no table
  // values: clean; CALL of a procedure: its function_taint).
  Taint taint_other = Taint::clean;

  // A masked value is read anywhere in the statement: the text of an error
  // it raises (`ssn::int`) may carry the value. So does a write into a
  // masked table (INSERT, UPDATE, DELETE, MERGE): its constraints print the
  // row they fail on (`Failing row contains (...)`), its triggers anything.
  bool touches_masked = false;
  // A masked value is used in WHERE, JOIN ... ON / USING, GROUP BY, HAVING,
  // ORDER BY, DISTINCT ON, a window's PARTITION BY / ORDER BY, or LIMIT /
  // OFFSET, at any level (what `strict: true` denies: inference by filtering).
  // Also what compares rows the same way: plain DISTINCT over a masked
  // output, INTERSECT / EXCEPT / UNION (not UNION ALL) with a masked
  // column, a NATURAL join with a side that carries masked values, MERGE's
  // ON and WHEN conditions.
  bool filters_on_masked = false;
  // A masked value flows somewhere it would persist or escape unmasked:
  // INSERT (values or query), UPDATE ... SET, MERGE, CREATE TABLE AS,
  // SELECT INTO, CREATE VIEW / MATERIALIZED VIEW, COPY (query) TO a file or
  // program, or the arguments of set_config(), pg_notify(), NOTIFY payloads.
  // The policy denies such statements.
  bool writes_masked = false;
  // What the write is, for the denial message ("insert into public.t of
  // masked values", "set_config of masked values", "create function while
  // masking is in force"): the first one found. Code that runs later
  // (CREATE FUNCTION / TRIGGER / RULE, DO) and renaming or altering a masked
  // relation count as writes too: the tracer runs only while masking is in
  // force, and nothing pgwarden sees would show what that code reads.
  // Likewise: other built-ins that store or send their arguments where a
  // later statement reads them back (settings, notifications, sequences,
  // advisory lock keys, the random seed, large objects, WAL messages,
  // replication slots and origins, restore points, backup labels, dblink,
  // server files, backend PIDs: sql/raw/raw_functions.c lists them), CALL
  // with masked arguments, row security policies and extended statistics on
  // a masked relation, moving it to another schema, renaming a schema, and
  // publications. SQL held in a string that the statement runs
  // (query_to_xml('...'), dblink(c, '...'), ts_stat) is traced as a
  // statement of its own and its writes, filters and reads count for this
  // one ("pg_notify of masked values (in SQL run by query_to_xml)"); SQL in
  // a computed string, or one that does not parse, is refused.
  std::string write_target;
};

// One entry per statement of the parse (parsed_sql.h), in order (a
// multi-statement string gives several). Fails with the parse's error when
// it has one. Same limits and hostile-input guarantees as analyze(). Reads
// the parse without changing it; thread-safe as ParsedSql says.
Result<std::vector<StatementLineage>> trace_lineage(const ParsedSql& parsed, const TaintOracle& oracle);

// Parses `sql` (ParsedSql::parse, default limits, this
// standard_conforming_strings) and traces it.
Result<std::vector<StatementLineage>> trace_lineage(std::string_view sql, const TaintOracle& oracle,
                                                    bool standard_conforming_strings = true);

}  // namespace pgw::sql
