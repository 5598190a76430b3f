/*
 * What built-in functions do besides returning a value (raw_functions.c):
 * shared by the facts walker and the lineage tracer, so both read a call
 * the same way.
 */
#ifndef PGW_SQL_RAW_FUNCTIONS_H
#define PGW_SQL_RAW_FUNCTIONS_H

#include "pg_backend.h"

/* The classes a call takes when it runs, and the relation it names. */
typedef struct pgw_function_effect
{
	const char *name;
	bool prefix;		  /* name is a prefix: pg_advisory_ matches every advisory lock function */
	uint32 classes;		  /* class bits (enum pgw_class) */
	int relation_arg;	  /* the argument naming a relation as regclass text, or -1 */
	uint8 relation_usage; /* enum pgw_usage bits for that relation */
} pgw_function_effect;

/* NULL when calling `name` has no effect beyond its result. */
const pgw_function_effect *pgw_function_effect_of(const char *name);

/* Argument `position`, or the named argument `param` (NULL: none). */
const Node *pgw_call_arg(const FuncCall *call, int position, const char *param);

/*
 * x.f and (x).f: PostgreSQL reads f as a column or field of x and, when x
 * has none of that name, as the call f(x) of a one-argument function
 * ("attribute notation": (42::bigint).pg_advisory_lock takes a lock,
 * ('SELECT ...'::text).ts_stat runs the SQL, c.row_to_json passes all of
 * c's columns). Which one it is depends on types the raw tree does not
 * have, so both readers of a tree judge each such name as the call it may
 * be. These build that call (palloc'd):
 */
/* (x).f: f(x). */
FuncCall *pgw_field_call(const char *name, const Node *arg);
/* t.f, s.t.f, d.s.t.f: f(t), t the whole row of the relation named before
 * f (a ColumnRef of that name alone); NULL when the last name is no
 * String (t.*) or there is no qualifier. */
FuncCall *pgw_column_ref_call(const ColumnRef *ref);

/* Functions whose string argument names what they run or read. */
typedef enum pgw_string_kind
{
	PGW_STRING_NONE = 0,
	PGW_STRING_SQL,		  /* runs the SQL in the string: query_to_xml, ts_stat */
	PGW_STRING_MAYBE_SQL, /* one text argument is SQL, others name connections or cursors: dblink */
	PGW_STRING_RELATION,  /* reads the relation the string names (regclass): table_to_xml */
	PGW_STRING_SCHEMA,	  /* reads every table of the schema it names: schema_to_xml */
	PGW_STRING_DATABASE,  /* reads every table of the database: database_to_xml (no string) */
	PGW_STRING_CURSOR	  /* reads the open cursor it names: cursor_to_xml */
} pgw_string_kind;

/* Receives each argument that holds (or may hold) the string; NULL when the
 * call names it in a way the table does not know. */
typedef void (*pgw_string_arg_fn)(void *ctx, const Node *arg);

/* The kind of a function, by bare name. */
pgw_string_kind pgw_string_kind_of(const char *name);

/* The kind of call, visiting its string arguments (none for DATABASE). */
pgw_string_kind pgw_string_args(const FuncCall *call, pgw_string_arg_fn visit, void *ctx);

/* A built-in that stores or sends its arguments where another statement
 * can read them back unmasked (settings, notifications, sequences, lock
 * keys, large objects, ...): masked arguments must not reach it. */
bool pgw_is_escape_function(const char *name);

#endif
