/*
 * The raw parse tree walker, shared by the C translation units of pgw_sql.
 *
 * The walker never recurses: it keeps its own stack of work items (in the
 * parse's memory context), so a 100 000-deep "1+1+...+1" costs heap, not C
 * stack. Each item carries the context its node is seen in: how a relation
 * reached there is used, which CTE names are in scope, and whether the
 * statement around it actually runs (a plain EXPLAIN does not).
 */
#ifndef PGW_SQL_RAW_WALK_H
#define PGW_SQL_RAW_WALK_H

#include "pg_backend.h"
#include "raw_facts.h"

/* Item modes. */
#define PGW_MODE_TOP 0x01		   /* the statement of a RawStmt */
#define PGW_MODE_NOT_EXECUTED 0x02 /* planned or stored, not run now */
#define PGW_MODE_VALUES_ONLY 0x04  /* INSERT's VALUES list: not a read */
#define PGW_MODE_SURELY_RUN 0x08   /* a call that runs exactly when its statement does */

typedef struct pgw_cte_scope
{
	const char *name;
	const struct pgw_cte_scope *next;
} pgw_cte_scope;

typedef struct pgw_walk_item
{
	const Node *node;
	const pgw_cte_scope *scope;
	uint8 usage;
	uint8 mode;
	uint8 do_depth;
} pgw_walk_item;

typedef struct pgw_walker
{
	const pgw_raw_options *options;
	const pgw_raw_sink *sink;
	pgw_walk_item *items;
	size_t len;
	size_t cap;
	size_t visited;
	bool too_complex;
	/* What push_child() gives the children of the node being expanded. */
	pgw_walk_item child;
	const Node *skip[4];
	int nskip;
} pgw_walker;

void pgw_walker_init(pgw_walker *w, const pgw_raw_options *options, const pgw_raw_sink *sink);

/* Walks node and everything below it. False when max_nodes was reached. */
bool pgw_walker_run(pgw_walker *w, const Node *node);

/* Queues the RawStmts of a nested parse (PL/pgSQL, SQL in a string) as
 * parts of the current statement; mode PGW_MODE_NOT_EXECUTED when they are
 * only planned. */
void pgw_walker_push_statements(pgw_walker *w, const List *raw_stmts, int do_depth, uint8 mode);

void pgw_walker_classes(pgw_walker *w, uint32 class_bits);
void pgw_walker_flags(pgw_walker *w, uint32 flags);

/* raw_statement_classes.c: classes of the statement types handled generically. */
typedef struct pgw_statement_info
{
	bool known;
	uint32 classes;
	uint8 usage; /* for relations named directly by the statement */
} pgw_statement_info;

pgw_statement_info pgw_classify_statement(NodeTag tag);

/* raw_settings.c: session settings. */
void pgw_visit_variable_set(pgw_walker *w, const pgw_walk_item *item, const VariableSetStmt *stmt);
void pgw_visit_discard(pgw_walker *w, const pgw_walk_item *item, const DiscardStmt *stmt);
void pgw_report_set_config(pgw_walker *w, const pgw_walk_item *item, const FuncCall *call);

/* raw_literals.c */
int pgw_ascii_casecmp(const char *a, const char *b);
char *pgw_ascii_lower_copy(const char *s);
const char *pgw_literal_text(const Node *node); /* 'x', 'x'::t, 42, true; else NULL */
bool pgw_is_null_literal(const Node *node);
int pgw_literal_bool(const Node *node); /* 1, 0, or -1 when not a boolean literal */

/* Reading a parse (raw_parse.c): a work context of the reader's own, and the
 * parse's string mode for nested parses, until pgw_parsed_leave(). */
typedef struct pgw_parsed_use
{
	MemoryContext prev;
	MemoryContext work;
	bool saved_conforming;
	bool saved_warning;
} pgw_parsed_use;

void pgw_parsed_enter(const pgw_parsed *parsed, pgw_parsed_use *use);
void pgw_parsed_leave(pgw_parsed_use *use);
const List *pgw_parsed_tree(const pgw_parsed *parsed);

/* raw_parser() with error capture; false on a parse error (error filled in). */
bool pgw_try_raw_parse(const char *sql, RawParseMode mode, List **out, pgw_raw_error *error);

/* Copies the current PostgreSQL error into error and clears it. Call from PG_CATCH(). */
void pgw_take_error(MemoryContext ctx, pgw_raw_error *error);

/* plpgsql_walk.c: analyzes a DO body; queues what it runs at do_depth. */
void pgw_walk_do_body(pgw_walker *w, const DoStmt *stmt, int do_depth);

#define PGW_CLASS_BIT(c) (1u << PGW_CLASS_##c)

#endif
