/*
 * The boundary between the C side of pgw_sql (which sees PostgreSQL's parse
 * trees) and the C++ side (which builds StatementFacts). Only plain facts
 * cross it: numbers and NUL-terminated strings that are valid for the
 * duration of the callback. Nothing here includes a PostgreSQL header.
 */
#ifndef PGW_SQL_RAW_FACTS_H
#define PGW_SQL_RAW_FACTS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Statement classes; a statement reports a bit set, bit = 1u << class.
 * pgw::sql::StatementClass mirrors this enum value for value. */
enum pgw_class {
	PGW_CLASS_SELECT,
	PGW_CLASS_INSERT,
	PGW_CLASS_UPDATE,
	PGW_CLASS_DELETE,
	PGW_CLASS_MERGE,
	PGW_CLASS_COPY_TO,
	PGW_CLASS_COPY_FROM,
	PGW_CLASS_TRUNCATE,
	PGW_CLASS_DDL,
	PGW_CLASS_CREATE,
	PGW_CLASS_ALTER,
	PGW_CLASS_DROP,
	PGW_CLASS_GRANT,
	PGW_CLASS_ROLE,
	PGW_CLASS_SET,
	PGW_CLASS_TRANSACTION,
	PGW_CLASS_PROCEDURAL,
	PGW_CLASS_ADMIN,
	PGW_CLASS_PREPARE,
	PGW_CLASS_EXECUTE,
	PGW_CLASS_DEALLOCATE,
	PGW_CLASS_LISTEN,
	PGW_CLASS_NOTIFY,
	PGW_CLASS_LOCK,
	PGW_CLASS_UNKNOWN,
	PGW_CLASS_COUNT
};

/* How a relation is used (bit set). */
enum pgw_usage {
	PGW_USE_READ = 1u << 0,
	PGW_USE_WRITE = 1u << 1,
	PGW_USE_DDL = 1u << 2,
	PGW_USE_LOCK = 1u << 3,
	PGW_USE_TRUNCATE = 1u << 4,
	PGW_USE_COPY = 1u << 5,
	PGW_USE_ADMIN = 1u << 6
};

/* Structural facts about a statement (bit set). */
enum pgw_flag {
	PGW_FLAG_COPY_PROGRAM = 1u << 0,	/* COPY ... TO/FROM PROGRAM */
	PGW_FLAG_COPY_FILE = 1u << 1,		/* COPY ... TO/FROM a server file */
	PGW_FLAG_EXPLAIN_ONLY = 1u << 2,	/* EXPLAIN without ANALYZE */
	PGW_FLAG_DYNAMIC_SQL = 1u << 3,		/* SQL from a computed string (EXECUTE x, query_to_xml(x)) */
	PGW_FLAG_DO_BODY_UNKNOWN = 1u << 4, /* a DO body that could not be analyzed */
	PGW_FLAG_UNKNOWN_SETTING = 1u << 5, /* set_config() with a non-literal name */
	PGW_FLAG_UNSUPPORTED_NODE = 1u << 6, /* a node type the walker does not know */
	PGW_FLAG_ENDS_TRANSACTION_SCOPE = 1u << 7 /* COMMIT, ROLLBACK [TO SAVEPOINT], PREPARE TRANSACTION */
};

/* Named objects of the session: prepared statements, cursors, channels. */
enum pgw_name_kind {
	PGW_NAME_PREPARE,
	PGW_NAME_EXECUTE,
	PGW_NAME_DEALLOCATE, /* NULL name: DEALLOCATE ALL */
	PGW_NAME_LISTEN,
	PGW_NAME_UNLISTEN,	 /* NULL name: UNLISTEN * */
	PGW_NAME_NOTIFY,	 /* NULL name: pg_notify() with a computed channel */
	PGW_NAME_DECLARE,	 /* DECLARE name CURSOR ... */
	PGW_NAME_DECLARE_HOLD, /* DECLARE name CURSOR WITH HOLD ...: outlives its transaction */
	PGW_NAME_FETCH,		 /* FETCH / MOVE ... name: reads the cursor */
	PGW_NAME_CLOSE		 /* CLOSE name; NULL name: CLOSE ALL */
};

enum pgw_setting_action {
	PGW_SETTING_SET,		  /* SET name = values / set_config(name, value) */
	PGW_SETTING_RESET,		  /* RESET name, SET name TO DEFAULT */
	PGW_SETTING_FROM_CURRENT, /* SET name FROM CURRENT */
	PGW_SETTING_RESET_ALL	  /* RESET ALL, DISCARD ALL (name is NULL) */
};

typedef struct pgw_raw_setting {
	const char *name; /* lower-cased; NULL for RESET ALL or a computed name */
	int action;		  /* enum pgw_setting_action */
	int is_local;	  /* SET LOCAL, set_config(..., true) */
	int via_function; /* set_config() */
	int may_not_run;  /* a set_config() its query may not call (WHERE false, CASE, an empty set) */
	int value_known;  /* every value below is a literal */
	const char *const *values;
	size_t n_values;
} pgw_raw_setting;

/* Receives the facts, statement by statement. Every callback must be set. */
typedef struct pgw_raw_sink {
	void *ctx;
	/* Starts a top-level statement: byte offset and length in the input. */
	void (*statement)(void *ctx, int location, int length);
	void (*classes)(void *ctx, uint32_t class_bits);
	void (*flags)(void *ctx, uint32_t flags);
	void (*relation)(void *ctx, const char *catalog, const char *schema, const char *name,
					 uint32_t usage);
	/* A relation named in a string, as a regclass argument reads it
	 * (nextval('public.s')): the C++ side splits it as the server does. */
	void (*relation_text)(void *ctx, const char *text, uint32_t usage);
	/* An operation on a whole schema (DROP SCHEMA, GRANT ... ALL TABLES IN SCHEMA). */
	void (*schema)(void *ctx, const char *name, uint32_t usage);
	/* as_field: written x.f or (x).f, a call f(x) unless x has a column or
	 * field f (PostgreSQL's attribute notation). */
	void (*function)(void *ctx, const char *catalog, const char *schema, const char *name, int as_field);
	void (*setting)(void *ctx, const pgw_raw_setting *setting);
	void (*name)(void *ctx, int kind, const char *name);
} pgw_raw_sink;

typedef struct pgw_raw_options {
	size_t max_nodes; /* tree nodes visited per input, in total */
	int analyze_do_bodies;
	int max_do_depth; /* DO within EXECUTE within DO ..., SQL in strings within SQL in strings */
} pgw_raw_options;

enum pgw_raw_status {
	PGW_RAW_OK,
	PGW_RAW_SYNTAX_ERROR, /* the parser's message and cursor position */
	PGW_RAW_TOO_COMPLEX,  /* max_nodes reached */
	PGW_RAW_INTERNAL_ERROR
};

typedef struct pgw_raw_error {
	char message[512];
	int cursor_pos; /* 1-based character (not byte) position; 0 if none */
} pgw_raw_error;

/* One parse of a SQL string (raw_parse.c), read by the facts walker and the
 * lineage tracer. It owns a memory context of its own, tied to no thread: it
 * may be freed on any thread, and read by several at once (readers never
 * write to it). */
typedef struct pgw_parsed pgw_parsed;

/* Parses a NUL-terminated SQL string as a session with this
 * standard_conforming_strings would. PGW_RAW_OK with *out set (free it with
 * pgw_parsed_free), or PGW_RAW_SYNTAX_ERROR with the parser's message.
 * Thread-safe: libpg_query keeps its state per thread. */
int pgw_parse(const char *sql, int standard_conforming, pgw_parsed **out, pgw_raw_error *error);
void pgw_parsed_free(pgw_parsed *parsed);

/* Reports the facts of each statement of a parse. On an error no partial
 * facts should be trusted. */
int pgw_raw_analyze_parsed(const pgw_parsed *parsed, const pgw_raw_options *options, const pgw_raw_sink *sink,
						   pgw_raw_error *error);

/* For tests: visits the raw tree of sql and counts nodes per type name. */
typedef void (*pgw_node_count_fn)(void *ctx, const char *type_name);
int pgw_raw_count_nodes(const char *sql, pgw_node_count_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif

#endif
