/*
 * Entry points of the C side: one parse with libpg_query's PostgreSQL 15
 * parser (pgw_parse), which the facts walker (pgw_raw_analyze_parsed) and
 * the lineage tracer (raw_lineage.c) then read.
 *
 * A parse lives in a memory context of its own with no parent: it belongs
 * to no thread's context tree (libpg_query's TopMemoryContext is
 * thread-local), so it can be read from any thread and freed on any.
 * Readers allocate their work in another parentless context and never
 * write to the parse, so several threads may read one parse at once.
 *
 * The parser reports errors with ereport(ERROR), a longjmp to the innermost
 * PG_TRY. With no PG_TRY active, PostgreSQL would promote the error to FATAL
 * and exit the process, so every call that may raise runs inside one.
 */
#include "raw_walk.h"
#include "raw_node_children.h"

#include <stdio.h>
#include <string.h>

void
pgw_take_error(MemoryContext ctx, pgw_raw_error *error)
{
	ErrorData *data;

	pgw_switch_context(ctx);
	data = CopyErrorData();
	snprintf(error->message, sizeof(error->message), "%s",
			 data->message ? data->message : "unknown parser error");
	error->cursor_pos = data->cursorpos;
	FlushErrorState();
}

bool
pgw_try_raw_parse(const char *sql, RawParseMode mode, List **out, pgw_raw_error *error)
{
	MemoryContext ctx = CurrentMemoryContext;
	volatile bool ok = false;

	PG_TRY();
	{
		*out = raw_parser(sql, mode);
		ok = true;
	}
	PG_CATCH();
	{
		pgw_take_error(ctx, error);
	}
	PG_END_TRY();
	return ok;
}

static int
walk_all(List *tree, const pgw_raw_options *options, const pgw_raw_sink *sink)
{
	pgw_walker walker;
	ListCell *lc;

	pgw_walker_init(&walker, options, sink);
	foreach(lc, tree)
	{
		const RawStmt *raw = lfirst(lc);

		sink->statement(sink->ctx, raw->stmt_location, raw->stmt_len);
		if (!pgw_walker_run(&walker, (const Node *) raw))
			return PGW_RAW_TOO_COMPLEX;
	}
	return PGW_RAW_OK;
}

/* Walking allocates (palloc raises on failure), so it runs under PG_TRY too. */
static int
try_walk_all(List *tree, const pgw_raw_options *options, const pgw_raw_sink *sink,
			 pgw_raw_error *error)
{
	MemoryContext ctx = CurrentMemoryContext;
	volatile int status = PGW_RAW_INTERNAL_ERROR;

	PG_TRY();
	{
		status = walk_all(tree, options, sink);
	}
	PG_CATCH();
	{
		pgw_take_error(ctx, error);
	}
	PG_END_TRY();
	if (status == PGW_RAW_TOO_COMPLEX)
		snprintf(error->message, sizeof(error->message),
				 "statement too complex: more than %zu parse tree nodes", options->max_nodes);
	return status;
}

struct pgw_parsed
{
	MemoryContext context; /* holds this struct and the tree */
	List *tree;			   /* RawStmt nodes */
	bool standard_conforming;
};

int
pgw_parse(const char *sql, int standard_conforming, pgw_parsed **out, pgw_raw_error *error)
{
	MemoryContext prev, context;
	List *tree = NIL;
	bool saved_conforming, saved_warning;
	int status = PGW_RAW_SYNTAX_ERROR;

	*out = NULL;
	error->message[0] = '\0';
	error->cursor_pos = 0;
	pg_query_init(); /* this thread's error and memory state, once */
	prev = CurrentMemoryContext;
	context = AllocSetContextCreate((MemoryContext) NULL, "pgw parse", ALLOCSET_DEFAULT_SIZES);
	pgw_switch_context(context);
	/* The scanner reads these thread-locals when it starts. With
	 * standard_conforming_strings off, '\'' escapes a quote, as the server
	 * would read it; the warning PostgreSQL would print to stderr about every
	 * such string is of no use here. */
	saved_conforming = standard_conforming_strings;
	saved_warning = escape_string_warning;
	standard_conforming_strings = standard_conforming != 0;
	escape_string_warning = false;
	if (pgw_try_raw_parse(sql, RAW_PARSE_DEFAULT, &tree, error))
	{
		pgw_parsed *parsed = palloc(sizeof(pgw_parsed));

		parsed->context = context;
		parsed->tree = tree;
		parsed->standard_conforming = standard_conforming != 0;
		*out = parsed;
		status = PGW_RAW_OK;
	}
	standard_conforming_strings = saved_conforming;
	escape_string_warning = saved_warning;
	pgw_switch_context(prev);
	if (status != PGW_RAW_OK)
		MemoryContextDelete(context);
	return status;
}

void
pgw_parsed_free(pgw_parsed *parsed)
{
	if (parsed == NULL)
		return;
	/* A deleted context goes on the deleting thread's free list for reuse,
	 * and libpg_query frees that list when the thread ends only if the
	 * thread was set up: a thread that frees a parse made on another (the
	 * engine hands them between threads) would otherwise leak it. */
	pg_query_init();
	MemoryContextDelete(parsed->context); /* parsed lives in it */
}

const List *
pgw_parsed_tree(const pgw_parsed *parsed)
{
	return parsed->tree;
}

void
pgw_parsed_enter(const pgw_parsed *parsed, pgw_parsed_use *use)
{
	pg_query_init();
	use->prev = CurrentMemoryContext;
	use->work = AllocSetContextCreate((MemoryContext) NULL, "pgw work", ALLOCSET_DEFAULT_SIZES);
	pgw_switch_context(use->work);
	/* Nested parses (DO bodies, SQL in strings) read them as the parse did. */
	use->saved_conforming = standard_conforming_strings;
	use->saved_warning = escape_string_warning;
	standard_conforming_strings = parsed->standard_conforming;
	escape_string_warning = false;
}

void
pgw_parsed_leave(pgw_parsed_use *use)
{
	standard_conforming_strings = use->saved_conforming;
	escape_string_warning = use->saved_warning;
	pgw_switch_context(use->prev);
	MemoryContextDelete(use->work);
}

int
pgw_raw_analyze_parsed(const pgw_parsed *parsed, const pgw_raw_options *options, const pgw_raw_sink *sink,
					   pgw_raw_error *error)
{
	pgw_parsed_use use;
	int status;

	error->message[0] = '\0';
	error->cursor_pos = 0;
	pgw_parsed_enter(parsed, &use);
	status = try_walk_all(parsed->tree, options, sink, error);
	pgw_parsed_leave(&use);
	return status;
}

/* ---- for tests: node counts per type, over every node ------------------- */

typedef struct count_stack
{
	const Node **items;
	size_t len;
	size_t cap;
} count_stack;

static void
count_push(void *ctx, const Node *child)
{
	count_stack *stack = ctx;

	if (child == NULL)
		return;
	if (stack->len == stack->cap)
	{
		stack->cap *= 2;
		stack->items = repalloc(stack->items, stack->cap * sizeof(Node *));
	}
	stack->items[stack->len++] = child;
}

static void
count_nodes(List *tree, pgw_node_count_fn fn, void *ctx)
{
	count_stack stack = {palloc(64 * sizeof(Node *)), 0, 64};

	count_push(&stack, (const Node *) tree);
	while (stack.len > 0)
	{
		const Node *node = stack.items[--stack.len];

		if (IsA(node, List))
		{
			ListCell *lc;

			foreach(lc, (const List *) node)
				count_push(&stack, lfirst(lc));
			continue;
		}
		if (IsA(node, IntList) || IsA(node, OidList))
			continue;
		fn(ctx, pgw_node_tag_name(nodeTag(node)));
		if (!pgw_node_children(node, count_push, &stack))
			fn(ctx, "?");
	}
}

static int
try_count_nodes(List *tree, pgw_node_count_fn fn, void *ctx)
{
	MemoryContext mctx = CurrentMemoryContext;
	volatile int status = PGW_RAW_INTERNAL_ERROR;
	pgw_raw_error error;

	PG_TRY();
	{
		count_nodes(tree, fn, ctx);
		status = PGW_RAW_OK;
	}
	PG_CATCH();
	{
		pgw_take_error(mctx, &error);
	}
	PG_END_TRY();
	return status;
}

int
pgw_raw_count_nodes(const char *sql, pgw_node_count_fn fn, void *ctx)
{
	MemoryContext mctx = pg_query_enter_memory_context();
	List *tree = NIL;
	pgw_raw_error error;
	int status = PGW_RAW_SYNTAX_ERROR;

	if (pgw_try_raw_parse(sql, RAW_PARSE_DEFAULT, &tree, &error))
		status = try_count_nodes(tree, fn, ctx);
	pg_query_exit_memory_context(mctx);
	return status;
}
