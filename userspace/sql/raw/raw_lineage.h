/*
 * The boundary of the lineage tracer (raw_lineage.c): plain structs and
 * callbacks, no PostgreSQL header. pgw::sql::trace_lineage() (lineage.cpp)
 * is the C++ face of it; lineage.h explains what is traced and why.
 */
#ifndef PGW_SQL_RAW_LINEAGE_H
#define PGW_SQL_RAW_LINEAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "raw_facts.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Ordered: a larger value is worse (the worst of two is their maximum). */
enum pgw_taint { PGW_TAINT_CLEAN = 0, PGW_TAINT_UNTRACEABLE = 1, PGW_TAINT_TAINTED = 2 };

/* Mirrors pgw::sql::RowSource. */
enum pgw_row_source {
	PGW_ROWS_NONE,
	PGW_ROWS_QUERY,
	PGW_ROWS_RETURNING,
	PGW_ROWS_DECLARE,
	PGW_ROWS_FETCH,
	PGW_ROWS_EXECUTE,
	PGW_ROWS_PREPARE,
	PGW_ROWS_COPY_TABLE,
	PGW_ROWS_COPY_QUERY,
	PGW_ROWS_OTHER
};

typedef struct pgw_lineage_oracle {
	void *ctx;
	bool (*relation_is_masked)(void *ctx, const char *schema, const char *name);
	bool (*column_is_masked)(void *ctx, const char *column);
	int (*function_taint)(void *ctx, const char *schema, const char *name); /* enum pgw_taint */
	/* x.f or (x).f as the call f(x) it may be (raw_functions.h): the
	 * call's taint when a function named f exists, clean when none does. */
	int (*field_call_taint)(void *ctx, const char *name); /* enum pgw_taint */
	/* Some function named `name` can take a whole row as its one argument. */
	bool (*takes_a_row)(void *ctx, const char *name);
} pgw_lineage_oracle;

typedef struct pgw_lineage_output {
	const char *name;
	bool star;
	int taint;				  /* enum pgw_taint */
	const char *plain_column; /* the column a bare column reference names; NULL otherwise */
} pgw_lineage_output;

typedef struct pgw_statement_lineage {
	int source; /* enum pgw_row_source */
	const pgw_lineage_output *outputs;
	size_t n_outputs;
	const char *name;		 /* cursor or prepared statement; NULL if none */
	const char *copy_schema; /* NULL if none */
	const char *copy_table;
	bool copy_binary, copy_csv, copy_header;
	char copy_delimiter, copy_quote, copy_escape; /* resolved; quote and escape 0 outside CSV */
	const char *copy_null;						  /* resolved */
	const char *copy_encoding;					  /* ENCODING as written; NULL: not given */
	const char *copy_options_error;				  /* the server would refuse the options: why */
	int taint_other;
	bool touches_masked, filters_on_masked, writes_masked;
	const char *write_target;
} pgw_statement_lineage;

typedef void (*pgw_lineage_fn)(void *ctx, const pgw_statement_lineage *statement);

/* Reports the lineage of each statement of a parse (raw_facts.h), in
 * order. Returns enum pgw_raw_status; on an error nothing reported should
 * be used. */
int pgw_raw_lineage_parsed(const pgw_parsed *parsed, size_t max_nodes, const pgw_lineage_oracle *oracle,
						   pgw_lineage_fn fn, void *ctx, pgw_raw_error *error);

#ifdef __cplusplus
}
#endif

#endif
