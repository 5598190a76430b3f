/*
 * DO bodies: what SQL does a PL/pgSQL block run?
 *
 * The body is compiled with plpgsql_compile_inline(), the PL/pgSQL compiler
 * that libpg_query's pg_query_parse_plpgsql() itself calls for DO. Going to
 * it directly (rather than through pg_query_parse_plpgsql's JSON) keeps each
 * expression's raw_parser() mode — PL/pgSQL stores "x := x + 1" and "x > 0"
 * as fragments that only parse in their own mode — and avoids the recursive
 * tree walk pg_query_parse_plpgsql runs over the whole input.
 *
 * Every SQL fragment of the compiled function (statements, conditions,
 * defaults, cursor queries) is parsed and queued on the walker, so the DO
 * takes the classes, relations and functions of everything it may run.
 * EXECUTE of a string literal is analyzed as SQL; EXECUTE of a computed
 * string cannot be, and marks the statement dynamic_sql and unknown.
 */
#define PGW_WITH_PLPGSQL
#include "raw_walk.h"

#include <string.h>

typedef enum
{
	PL_STMTS,	   /* List of PLpgSQL_stmt */
	PL_STMT,	   /* one PLpgSQL_stmt */
	PL_EXPR,	   /* PLpgSQL_expr run as written */
	PL_DYNAMIC_SQL /* PLpgSQL_expr whose value is SQL to run */
} pl_kind;

typedef struct pl_item
{
	const void *ptr;
	pl_kind kind;
} pl_item;

typedef struct pl_walk
{
	pgw_walker *walker;
	int do_depth;
	pl_item *items;
	size_t len;
	size_t cap;
	bool unknown;
	pgw_raw_error error;
} pl_walk;

static void
pl_push(pl_walk *pw, const void *ptr, pl_kind kind)
{
	if (ptr == NULL)
		return;
	if (pw->len == pw->cap)
	{
		pw->cap = pw->cap ? pw->cap * 2 : 64;
		pw->items = pw->items ? repalloc(pw->items, pw->cap * sizeof(pl_item))
							  : palloc(pw->cap * sizeof(pl_item));
	}
	pw->items[pw->len].ptr = ptr;
	pw->items[pw->len].kind = kind;
	pw->len++;
}

static void
pl_push_exprs(pl_walk *pw, const List *exprs)
{
	ListCell *lc;

	foreach(lc, exprs)
		pl_push(pw, lfirst(lc), PL_EXPR);
}

static bool
try_compile(char *source, PLpgSQL_function **out, pgw_raw_error *error)
{
	MemoryContext ctx = CurrentMemoryContext;
	volatile bool ok = false;

	PG_TRY();
	{
		*out = plpgsql_compile_inline(source);
		ok = true;
	}
	PG_CATCH();
	{
		pgw_take_error(ctx, error);
	}
	PG_END_TRY();
	return ok;
}

/* The SQL text of EXECUTE 'literal' (also 'literal'::text), or NULL. */
static const char *
constant_sql(const List *parsed)
{
	const RawStmt *raw;
	const SelectStmt *select;
	const ResTarget *target;
	const Node *value;

	if (list_length(parsed) != 1)
		return NULL;
	raw = linitial(parsed);
	if (!IsA(raw->stmt, SelectStmt))
		return NULL;
	select = (const SelectStmt *) raw->stmt;
	if (list_length(select->targetList) != 1 || select->fromClause || select->whereClause ||
		select->withClause || select->larg || select->valuesLists)
		return NULL;
	target = linitial(select->targetList);
	value = target->val;
	if (value && IsA(value, TypeCast))
		value = ((const TypeCast *) value)->arg;
	if (!value || !IsA(value, A_Const) || ((const A_Const *) value)->isnull ||
		!IsA(&((const A_Const *) value)->val, String))
		return NULL;
	return ((const A_Const *) value)->val.sval.sval;
}

static void
walk_expr(pl_walk *pw, const PLpgSQL_expr *expr, bool dynamic)
{
	List *parsed = NIL;
	const char *sql;

	if (expr->query == NULL)
		return;
	if (!pgw_try_raw_parse(expr->query, expr->parseMode, &parsed, &pw->error))
	{
		pw->unknown = true;
		return;
	}
	pgw_walker_push_statements(pw->walker, parsed, pw->do_depth, 0);
	if (!dynamic)
		return;
	sql = constant_sql(parsed);
	if (sql == NULL)
	{
		pgw_walker_flags(pw->walker, PGW_FLAG_DYNAMIC_SQL);
		pgw_walker_classes(pw->walker, PGW_CLASS_BIT(UNKNOWN));
		return;
	}
	parsed = NIL;
	if (!pgw_try_raw_parse(sql, RAW_PARSE_DEFAULT, &parsed, &pw->error))
	{
		pw->unknown = true;
		return;
	}
	pgw_walker_push_statements(pw->walker, parsed, pw->do_depth, 0);
}

static void
walk_stmt(pl_walk *pw, const PLpgSQL_stmt *stmt)
{
	ListCell *lc;

	switch (stmt->cmd_type)
	{
		case PLPGSQL_STMT_BLOCK:
		{
			const PLpgSQL_stmt_block *s = (const PLpgSQL_stmt_block *) stmt;

			pl_push(pw, s->body, PL_STMTS);
			if (s->exceptions)
				foreach(lc, s->exceptions->exc_list)
					pl_push(pw, ((const PLpgSQL_exception *) lfirst(lc))->action, PL_STMTS);
			break;
		}
		case PLPGSQL_STMT_ASSIGN:
			pl_push(pw, ((const PLpgSQL_stmt_assign *) stmt)->expr, PL_EXPR);
			break;
		case PLPGSQL_STMT_IF:
		{
			const PLpgSQL_stmt_if *s = (const PLpgSQL_stmt_if *) stmt;

			pl_push(pw, s->cond, PL_EXPR);
			pl_push(pw, s->then_body, PL_STMTS);
			foreach(lc, s->elsif_list)
			{
				const PLpgSQL_if_elsif *elsif = lfirst(lc);

				pl_push(pw, elsif->cond, PL_EXPR);
				pl_push(pw, elsif->stmts, PL_STMTS);
			}
			pl_push(pw, s->else_body, PL_STMTS);
			break;
		}
		case PLPGSQL_STMT_CASE:
		{
			const PLpgSQL_stmt_case *s = (const PLpgSQL_stmt_case *) stmt;

			pl_push(pw, s->t_expr, PL_EXPR);
			foreach(lc, s->case_when_list)
			{
				const PLpgSQL_case_when *when = lfirst(lc);

				pl_push(pw, when->expr, PL_EXPR);
				pl_push(pw, when->stmts, PL_STMTS);
			}
			pl_push(pw, s->else_stmts, PL_STMTS);
			break;
		}
		case PLPGSQL_STMT_LOOP:
			pl_push(pw, ((const PLpgSQL_stmt_loop *) stmt)->body, PL_STMTS);
			break;
		case PLPGSQL_STMT_WHILE:
			pl_push(pw, ((const PLpgSQL_stmt_while *) stmt)->cond, PL_EXPR);
			pl_push(pw, ((const PLpgSQL_stmt_while *) stmt)->body, PL_STMTS);
			break;
		case PLPGSQL_STMT_FORI:
		{
			const PLpgSQL_stmt_fori *s = (const PLpgSQL_stmt_fori *) stmt;

			pl_push(pw, s->lower, PL_EXPR);
			pl_push(pw, s->upper, PL_EXPR);
			pl_push(pw, s->step, PL_EXPR);
			pl_push(pw, s->body, PL_STMTS);
			break;
		}
		case PLPGSQL_STMT_FORS:
			pl_push(pw, ((const PLpgSQL_stmt_fors *) stmt)->query, PL_EXPR);
			pl_push(pw, ((const PLpgSQL_stmt_fors *) stmt)->body, PL_STMTS);
			break;
		case PLPGSQL_STMT_FORC:
			pl_push(pw, ((const PLpgSQL_stmt_forc *) stmt)->argquery, PL_EXPR);
			pl_push(pw, ((const PLpgSQL_stmt_forc *) stmt)->body, PL_STMTS);
			break;
		case PLPGSQL_STMT_FOREACH_A:
			pl_push(pw, ((const PLpgSQL_stmt_foreach_a *) stmt)->expr, PL_EXPR);
			pl_push(pw, ((const PLpgSQL_stmt_foreach_a *) stmt)->body, PL_STMTS);
			break;
		case PLPGSQL_STMT_EXIT:
			pl_push(pw, ((const PLpgSQL_stmt_exit *) stmt)->cond, PL_EXPR);
			break;
		case PLPGSQL_STMT_RETURN:
			pl_push(pw, ((const PLpgSQL_stmt_return *) stmt)->expr, PL_EXPR);
			break;
		case PLPGSQL_STMT_RETURN_NEXT:
			pl_push(pw, ((const PLpgSQL_stmt_return_next *) stmt)->expr, PL_EXPR);
			break;
		case PLPGSQL_STMT_RETURN_QUERY:
		{
			const PLpgSQL_stmt_return_query *s = (const PLpgSQL_stmt_return_query *) stmt;

			pl_push(pw, s->query, PL_EXPR);
			pl_push(pw, s->dynquery, PL_DYNAMIC_SQL);
			pl_push_exprs(pw, s->params);
			break;
		}
		case PLPGSQL_STMT_RAISE:
		{
			const PLpgSQL_stmt_raise *s = (const PLpgSQL_stmt_raise *) stmt;

			pl_push_exprs(pw, s->params);
			foreach(lc, s->options)
				pl_push(pw, ((const PLpgSQL_raise_option *) lfirst(lc))->expr, PL_EXPR);
			break;
		}
		case PLPGSQL_STMT_ASSERT:
			pl_push(pw, ((const PLpgSQL_stmt_assert *) stmt)->cond, PL_EXPR);
			pl_push(pw, ((const PLpgSQL_stmt_assert *) stmt)->message, PL_EXPR);
			break;
		case PLPGSQL_STMT_EXECSQL:
			pl_push(pw, ((const PLpgSQL_stmt_execsql *) stmt)->sqlstmt, PL_EXPR);
			break;
		case PLPGSQL_STMT_DYNEXECUTE:
			pl_push(pw, ((const PLpgSQL_stmt_dynexecute *) stmt)->query, PL_DYNAMIC_SQL);
			pl_push_exprs(pw, ((const PLpgSQL_stmt_dynexecute *) stmt)->params);
			break;
		case PLPGSQL_STMT_DYNFORS:
		{
			const PLpgSQL_stmt_dynfors *s = (const PLpgSQL_stmt_dynfors *) stmt;

			pl_push(pw, s->query, PL_DYNAMIC_SQL);
			pl_push_exprs(pw, s->params);
			pl_push(pw, s->body, PL_STMTS);
			break;
		}
		case PLPGSQL_STMT_OPEN:
		{
			const PLpgSQL_stmt_open *s = (const PLpgSQL_stmt_open *) stmt;

			pl_push(pw, s->argquery, PL_EXPR);
			pl_push(pw, s->query, PL_EXPR);
			pl_push(pw, s->dynquery, PL_DYNAMIC_SQL);
			pl_push_exprs(pw, s->params);
			break;
		}
		case PLPGSQL_STMT_FETCH:
			pl_push(pw, ((const PLpgSQL_stmt_fetch *) stmt)->expr, PL_EXPR);
			break;
		case PLPGSQL_STMT_PERFORM:
			pl_push(pw, ((const PLpgSQL_stmt_perform *) stmt)->expr, PL_EXPR);
			break;
		case PLPGSQL_STMT_CALL:
			pl_push(pw, ((const PLpgSQL_stmt_call *) stmt)->expr, PL_EXPR);
			break;
		case PLPGSQL_STMT_COMMIT:
		case PLPGSQL_STMT_ROLLBACK:
			pgw_walker_classes(pw->walker, PGW_CLASS_BIT(TRANSACTION));
			break;
		case PLPGSQL_STMT_GETDIAG:
		case PLPGSQL_STMT_CLOSE:
			break;
		default:
			pw->unknown = true;
			break;
	}
}

/* Variable defaults and bound cursor queries live with the variables. */
static void
push_datum_exprs(pl_walk *pw, const PLpgSQL_function *func)
{
	for (int i = 0; i < func->ndatums; i++)
	{
		const PLpgSQL_datum *datum = func->datums[i];

		switch (datum->dtype)
		{
			case PLPGSQL_DTYPE_VAR:
			case PLPGSQL_DTYPE_PROMISE:
				pl_push(pw, ((const PLpgSQL_var *) datum)->cursor_explicit_expr, PL_EXPR);
				/* fall through */
			case PLPGSQL_DTYPE_ROW:
			case PLPGSQL_DTYPE_REC:
				pl_push(pw, ((const PLpgSQL_variable *) datum)->default_val, PL_EXPR);
				break;
			default:
				break;
		}
	}
}

static void
walk_function(pl_walk *pw, const PLpgSQL_function *func)
{
	push_datum_exprs(pw, func);
	pl_push(pw, func->action, PL_STMT);
	while (pw->len > 0 && !pw->unknown)
	{
		pl_item item = pw->items[--pw->len];
		ListCell *lc;

		switch (item.kind)
		{
			case PL_STMTS:
				foreach(lc, (const List *) item.ptr)
					pl_push(pw, lfirst(lc), PL_STMT);
				break;
			case PL_STMT:
				walk_stmt(pw, item.ptr);
				break;
			case PL_EXPR:
				walk_expr(pw, item.ptr, false);
				break;
			case PL_DYNAMIC_SQL:
				walk_expr(pw, item.ptr, true);
				break;
		}
	}
}

void
pgw_walk_do_body(pgw_walker *w, const DoStmt *stmt, int do_depth)
{
	pl_walk pw;
	char *source = NULL;
	const char *language = "plpgsql";
	PLpgSQL_function *func = NULL;
	ListCell *lc;

	memset(&pw, 0, sizeof(pw));
	pw.walker = w;
	pw.do_depth = do_depth;
	foreach(lc, stmt->args)
	{
		const DefElem *arg = lfirst(lc);

		if (!IsA(arg, DefElem) || arg->arg == NULL || !IsA(arg->arg, String))
			continue;
		if (strcmp(arg->defname, "as") == 0)
			source = strVal(arg->arg);
		else if (strcmp(arg->defname, "language") == 0)
			language = strVal(arg->arg);
	}
	/* PostgreSQL looks the language up by its exact name. */
	if (source == NULL || strcmp(language, "plpgsql") != 0 ||
		!try_compile(source, &func, &pw.error) || func == NULL || func->action == NULL)
		pw.unknown = true;
	else
		walk_function(&pw, func);
	if (pw.unknown)
	{
		pgw_walker_flags(w, PGW_FLAG_DO_BODY_UNKNOWN);
		pgw_walker_classes(w, PGW_CLASS_BIT(UNKNOWN));
	}
}
