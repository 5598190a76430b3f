/*
 * What built-in functions do besides returning a value, in one place for
 * both walkers (raw_tree_walk.c for the policy's facts, raw_lineage.c for
 * masking): the classes a call takes, the relation a string argument names,
 * the SQL a string argument runs, and the arguments a call sends somewhere
 * another statement can read them back.
 *
 * Functions are matched by bare name, ASCII case-insensitively, in any
 * schema: a user function of the same name is taken to do the same (the
 * safe side), as the built-in deny-list does.
 */
#include "raw_functions.h"

#include <string.h>

#include "raw_walk.h"

#define CLS(c) PGW_CLASS_BIT(c)

static bool
name_matches(const char *name, const char *pattern, bool prefix)
{
	size_t n = strlen(pattern);

	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) name[i];

		if (c == 0)
			return false;
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != (unsigned char) pattern[i])
			return false;
	}
	return prefix || name[n] == '\0';
}

/* ---- classes ------------------------------------------------------------- */

static const pgw_function_effect function_effects[] = {
	/* A sequence is a relation: nextval and setval change it for good (no
	 * rollback undoes them), as an UPDATE of its one row would. currval and
	 * pg_sequence_last_value only read it. lastval() names none. */
	{"nextval", false, CLS(UPDATE), 0, PGW_USE_WRITE},
	{"setval", false, CLS(UPDATE), 0, PGW_USE_WRITE},
	{"currval", false, 0, 0, PGW_USE_READ},
	{"pg_sequence_last_value", false, 0, 0, PGW_USE_READ},
	/* Advisory locks: pg_advisory_lock, _shared, _xact_lock, _unlock,
	 * _unlock_all, and the pg_try_advisory_* forms. */
	{"pg_advisory_", true, CLS(LOCK), -1, 0},
	{"pg_try_advisory_", true, CLS(LOCK), -1, 0},
	/* Maintenance by function call: what VACUUM or ANALYZE would be. */
	{"brin_summarize_new_values", false, CLS(ADMIN), 0, PGW_USE_ADMIN},
	{"brin_summarize_range", false, CLS(ADMIN), 0, PGW_USE_ADMIN},
	{"brin_desummarize_range", false, CLS(ADMIN), 0, PGW_USE_ADMIN},
	{"gin_clean_pending_list", false, CLS(ADMIN), 0, PGW_USE_ADMIN},
	{"pg_stat_reset", true, CLS(ADMIN), -1, 0}, /* _shared, _single_table_counters, _slru, ... */
	{"pg_stat_statements_reset", false, CLS(ADMIN), -1, 0},
	{NULL, false, 0, -1, 0}};

const pgw_function_effect *
pgw_function_effect_of(const char *name)
{
	for (const pgw_function_effect *e = function_effects; e->name != NULL; e++)
		if (name_matches(name, e->name, e->prefix))
			return e;
	return NULL;
}

/* ---- arguments ----------------------------------------------------------- */

/*
 * Argument `position` of a call, or the named argument `param` (name =>
 * value notation; positional arguments come first). NULL when the call has
 * no such argument.
 */
const Node *
pgw_call_arg(const FuncCall *call, int position, const char *param)
{
	const ListCell *lc;
	int i = 0;

	foreach(lc, call->args)
	{
		const Node *arg = lfirst(lc);

		if (IsA(arg, NamedArgExpr))
		{
			const NamedArgExpr *named = (const NamedArgExpr *) arg;

			if (param != NULL && named->name != NULL && strcmp(named->name, param) == 0)
				return (const Node *) named->arg;
		}
		else if (i == position)
			return arg;
		i++;
	}
	return NULL;
}

FuncCall *
pgw_field_call(const char *name, const Node *arg)
{
	FuncCall   *call = makeNode(FuncCall);

	call->funcname = list_make1(makeString(pstrdup(name)));
	call->args = list_make1((Node *) arg);
	call->location = -1;
	return call;
}

FuncCall *
pgw_column_ref_call(const ColumnRef *ref)
{
	int			n = list_length(ref->fields);
	const Node *last = n >= 2 ? llast(ref->fields) : NULL;
	const Node *qualifier = n >= 2 ? list_nth(ref->fields, n - 2) : NULL;
	ColumnRef  *row;

	if (last == NULL || !IsA(last, String) || !IsA(qualifier, String))
		return NULL;
	row = makeNode(ColumnRef);
	row->fields = list_make1((Node *) qualifier);
	row->location = ref->location;
	return pgw_field_call(strVal(last), (const Node *) row);
}

static bool
has_named_args(const FuncCall *call)
{
	const ListCell *lc;

	foreach(lc, call->args)
		if (IsA(lfirst(lc), NamedArgExpr))
			return true;
	return false;
}

/* ---- strings that name what a call runs or reads -------------------------- */

typedef struct string_function
{
	const char *name;
	pgw_string_kind kind;
	int position;	   /* the argument holding the string; -1: every text argument (dblink) */
	const char *param; /* its name in pg_proc, for name => value notation */
} string_function;

/* PostgreSQL 15's XML functions (xml.c), text search (tsvector_op.c) and
 * contrib dblink. Parameter names as pg_proc has them. */
static const string_function string_functions[] = {
	{"query_to_xml", PGW_STRING_SQL, 0, "query"},
	{"query_to_xmlschema", PGW_STRING_SQL, 0, "query"},
	{"query_to_xml_and_xmlschema", PGW_STRING_SQL, 0, "query"},
	{"ts_stat", PGW_STRING_SQL, 0, "query"},
	{"ts_rewrite", PGW_STRING_SQL, 1, NULL}, /* ts_rewrite(query, 'SELECT target, substitute ...') */
	{"table_to_xml", PGW_STRING_RELATION, 0, "tbl"},
	{"table_to_xmlschema", PGW_STRING_RELATION, 0, "tbl"},
	{"table_to_xml_and_xmlschema", PGW_STRING_RELATION, 0, "tbl"},
	{"schema_to_xml", PGW_STRING_SCHEMA, 0, "schema"},
	{"schema_to_xmlschema", PGW_STRING_SCHEMA, 0, "schema"},
	{"schema_to_xml_and_xmlschema", PGW_STRING_SCHEMA, 0, "schema"},
	{"database_to_xml", PGW_STRING_DATABASE, -1, NULL},
	{"database_to_xmlschema", PGW_STRING_DATABASE, -1, NULL},
	{"database_to_xml_and_xmlschema", PGW_STRING_DATABASE, -1, NULL},
	{"cursor_to_xml", PGW_STRING_CURSOR, 0, "cursor"},
	{"cursor_to_xmlschema", PGW_STRING_CURSOR, 0, "cursor"},
	/* dblink(sql), dblink(conn, sql), dblink(sql, fail), dblink_open(cursor,
	 * sql), dblink_open(conn, cursor, sql, ...): which text is the SQL
	 * depends on the types, which the text does not show. Every text
	 * argument may be it. */
	{"dblink", PGW_STRING_MAYBE_SQL, -1, NULL},
	{"dblink_exec", PGW_STRING_MAYBE_SQL, -1, NULL},
	{"dblink_send_query", PGW_STRING_MAYBE_SQL, -1, NULL},
	{"dblink_open", PGW_STRING_MAYBE_SQL, -1, NULL},
	{NULL, PGW_STRING_NONE, -1, NULL}};

/* A literal that is certainly not text: a number, a boolean, NULL. */
static bool
is_non_text_literal(const Node *arg)
{
	const Node *value = arg;

	if (value == NULL || !IsA(value, A_Const))
		return false;
	if (((const A_Const *) value)->isnull)
		return true;
	switch (nodeTag(&((const A_Const *) value)->val))
	{
		case T_Integer:
		case T_Float:
		case T_Boolean:
			return true;
		default:
			return false;
	}
}

static const string_function *
string_function_of(const char *name)
{
	if (name == NULL)
		return NULL;
	for (const string_function *f = string_functions; f->name != NULL; f++)
		if (name_matches(name, f->name, false))
			return f;
	return NULL;
}

pgw_string_kind
pgw_string_kind_of(const char *name)
{
	const string_function *f = string_function_of(name);

	return f != NULL ? f->kind : PGW_STRING_NONE;
}

pgw_string_kind
pgw_string_args(const FuncCall *call, pgw_string_arg_fn visit, void *ctx)
{
	const char *name = NULL;
	const ListCell *lc;
	int n = list_length(call->funcname);

	const string_function *f;

	if (n >= 1 && IsA(llast(call->funcname), String))
		name = strVal(llast(call->funcname));
	f = string_function_of(name);
	if (f == NULL)
		return PGW_STRING_NONE;
	if (f->kind == PGW_STRING_DATABASE)
		return f->kind;
	if (f->position >= 0)
	{
		const Node *arg = pgw_call_arg(call, f->position, f->param);

		/* Named notation with a name the table does not know: the string
		 * is somewhere, unknown where. */
		if (arg != NULL || has_named_args(call))
			visit(ctx, arg);
		return f->kind;
	}
	foreach(lc, call->args)
	{
		const Node *arg = lfirst(lc);

		if (IsA(arg, NamedArgExpr))
			arg = (const Node *) ((const NamedArgExpr *) arg)->arg;
		if (!is_non_text_literal(arg))
			visit(ctx, arg);
	}
	return f->kind;
}

/* ---- arguments that end up where another statement reads them ------------ */

typedef struct name_pattern
{
	const char *name;
	bool prefix;
} name_pattern;

/*
 * Built-ins that store or send their arguments where result masking does
 * not reach, so that a later statement (or another session) can read them
 * back: settings (current_setting, SHOW, ParameterStatus), notifications,
 * sequences (currval, pg_sequences), advisory lock keys (pg_locks), the
 * random seed (random()), large objects (their OIDs, contents, sizes and
 * positions), WAL messages, replication slots and origins (their names and
 * positions in pg_replication_*), restore points and backup labels, other
 * servers, server files, and backend PIDs (whose warnings print them).
 */
static const name_pattern escape_functions[] = {
	{"set_config", false},
	{"pg_notify", false},
	{"setval", false},
	{"nextval", false},
	{"setseed", false},
	{"pg_advisory_", true},
	{"pg_try_advisory_", true},
	{"lo_", true},
	{"loread", false},
	{"lowrite", false},
	{"pg_logical_emit_message", false},
	{"pg_replication_origin_", true},
	{"pg_create_logical_replication_slot", false},
	{"pg_create_physical_replication_slot", false},
	{"pg_copy_logical_replication_slot", false},
	{"pg_copy_physical_replication_slot", false},
	{"pg_replication_slot_advance", false},
	{"pg_create_restore_point", false},
	{"pg_backup_start", false},
	{"pg_start_backup", false},
	{"dblink", true},
	{"pg_file_", true},
	{"pg_terminate_backend", false},
	{"pg_cancel_backend", false},
	{"pg_log_backend_memory_contexts", false},
	{NULL, false}};

bool
pgw_is_escape_function(const char *name)
{
	if (name == NULL)
		return false;
	for (const name_pattern *p = escape_functions; p->name != NULL; p++)
		if (name_matches(name, p->name, p->prefix))
			return true;
	return false;
}
