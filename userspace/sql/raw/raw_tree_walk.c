/*
 * Walks a PostgreSQL 15 raw parse tree and reports plain facts to a sink:
 * the classes of every statement found anywhere in the tree, the relations
 * and functions referenced, settings changed, and session names.
 *
 * Every node is visited (children come from the generated
 * pgw_node_children()), so a relation or function hidden in an odd clause is
 * still seen. Only the nodes whose meaning depends on where they stand get
 * their own case below. A statement type the walker does not know is
 * reported as the class "unknown" rather than guessed at.
 */
#include "raw_walk.h"
#include "raw_functions.h"
#include "raw_node_children.h"

#include <string.h>

#define CLS(c) PGW_CLASS_BIT(c)

/* ---- CTE scopes --------------------------------------------------------- */

/*
 * Whether name is a CTE in scope. The search stops after PGW_MAX_CTE_LOOKUP
 * names: thousands of CTEs would otherwise make every lookup walk thousands
 * of names (a 1 MiB chain of CTEs took seconds). Past the cap a CTE
 * reference is reported as a relation, which is the safe side.
 */
#define PGW_MAX_CTE_LOOKUP 256

static bool
in_scope(const pgw_cte_scope *scope, const char *name)
{
	for (int n = 0; scope && n < PGW_MAX_CTE_LOOKUP; scope = scope->next, n++)
		if (strcmp(scope->name, name) == 0)
			return true;
	return false;
}

/* ---- the stack ---------------------------------------------------------- */

void
pgw_walker_init(pgw_walker *w, const pgw_raw_options *options, const pgw_raw_sink *sink)
{
	memset(w, 0, sizeof(*w));
	w->options = options;
	w->sink = sink;
	w->cap = 256;
	w->items = palloc(w->cap * sizeof(pgw_walk_item));
}

static void
push(pgw_walker *w, const pgw_walk_item *item)
{
	if (item->node == NULL || w->too_complex)
		return;
	if (w->len == w->cap)
	{
		/* Pending items never outnumber the nodes of the tree. */
		if (w->cap >= w->options->max_nodes)
		{
			w->too_complex = true;
			return;
		}
		w->cap *= 2;
		w->items = repalloc(w->items, w->cap * sizeof(pgw_walk_item));
	}
	w->items[w->len++] = *item;
}

static void
push_as(pgw_walker *w, const pgw_walk_item *parent, const void *node, uint8 usage,
		const pgw_cte_scope *scope, uint8 mode)
{
	pgw_walk_item item = {node, scope, usage, mode, parent->do_depth};

	push(w, &item);
}

/* Nodes with nothing below them worth a visit. */
static bool
is_leaf(const Node *node)
{
	switch (nodeTag(node))
	{
		case T_String:
		case T_Integer:
		case T_Float:
		case T_Boolean:
		case T_BitString:
		case T_A_Const:
		case T_A_Star:
		case T_ParamRef:
		case T_SQLValueFunction:
		case T_SetToDefault:
			return true;
		default:
			return false;
	}
}

static void
push_child(void *ctx, const Node *child)
{
	pgw_walker *w = ctx;

	if (child == NULL || is_leaf(child))
		return;
	for (int i = 0; i < w->nskip; i++)
		if (w->skip[i] == child)
			return;
	w->child.node = child;
	push(w, &w->child);
}

void
pgw_walker_classes(pgw_walker *w, uint32 class_bits)
{
	w->sink->classes(w->sink->ctx, class_bits);
}

void
pgw_walker_flags(pgw_walker *w, uint32 flags)
{
	w->sink->flags(w->sink->ctx, flags);
}

static void
emit_classes(pgw_walker *w, const pgw_walk_item *item, uint32 class_bits)
{
	if (!(item->mode & PGW_MODE_NOT_EXECUTED))
		w->sink->classes(w->sink->ctx, class_bits);
}

static void
unsupported(pgw_walker *w)
{
	w->sink->classes(w->sink->ctx, CLS(UNKNOWN));
	w->sink->flags(w->sink->ctx, PGW_FLAG_UNSUPPORTED_NODE);
}

/*
 * Queues the children of item's node, in the given usage and CTE scope,
 * except those listed in skip (the caller queued them with other context).
 */
static void
push_children_except(pgw_walker *w, const pgw_walk_item *item, uint8 usage,
					 const pgw_cte_scope *scope, const Node *skip0, const Node *skip1,
					 const Node *skip2)
{
	w->child = (pgw_walk_item){
		NULL, scope, usage,
		(uint8) (item->mode & ~(PGW_MODE_TOP | PGW_MODE_VALUES_ONLY | PGW_MODE_SURELY_RUN)), item->do_depth};
	w->skip[0] = skip0;
	w->skip[1] = skip1;
	w->skip[2] = skip2;
	w->nskip = 3;
	if (!pgw_node_children(item->node, push_child, w))
		unsupported(w);
	w->nskip = 0;
}

static void
push_children(pgw_walker *w, const pgw_walk_item *item, uint8 usage)
{
	push_children_except(w, item, usage, item->scope, NULL, NULL, NULL);
}

/*
 * Queues the CTE bodies of a WITH clause and returns the scope the rest of
 * the statement sees. Without RECURSIVE a CTE body sees only the CTEs before
 * it, so "WITH salaries AS (SELECT * FROM salaries)" reads the real table.
 */
static const pgw_cte_scope *
push_with_clause(pgw_walker *w, const pgw_walk_item *item, const WithClause *with)
{
	const pgw_cte_scope *scope = item->scope;
	ListCell *lc;
	uint8 mode = item->mode & PGW_MODE_NOT_EXECUTED;

	if (with == NULL)
		return scope;
	foreach(lc, with->ctes)
	{
		const CommonTableExpr *cte = lfirst(lc);
		pgw_cte_scope *next;

		if (!IsA(cte, CommonTableExpr))
			continue;
		if (!with->recursive)
			push_as(w, item, cte->ctequery, PGW_USE_READ, scope, mode);
		next = palloc(sizeof(pgw_cte_scope));
		next->name = cte->ctename;
		next->next = scope;
		scope = next;
	}
	if (with->recursive)
		foreach(lc, with->ctes)
		{
			const CommonTableExpr *cte = lfirst(lc);

			if (IsA(cte, CommonTableExpr))
				push_as(w, item, cte->ctequery, PGW_USE_READ, scope, mode);
		}
	return scope;
}

/* ---- relations and names ------------------------------------------------ */

static void
visit_range_var(pgw_walker *w, const pgw_walk_item *item, const RangeVar *rv)
{
	uint32 usage = item->usage ? item->usage : PGW_USE_READ;

	/* A bare name that a WITH in scope defines is that CTE, not a table. DML
	 * targets, LOCK and TRUNCATE always name real tables. */
	if (!rv->schemaname && !rv->catalogname &&
		(usage & ~(PGW_USE_READ | PGW_USE_LOCK)) == 0 && in_scope(item->scope, rv->relname))
		return;
	w->sink->relation(w->sink->ctx, rv->catalogname, rv->schemaname, rv->relname, usage);
}

/* A qualified name given as a List of String (DROP TABLE a.b, COMMENT ON ...). */
static void
emit_name_list(pgw_walker *w, const Node *names, bool drop_last, uint32 usage)
{
	const char *parts[3] = {NULL, NULL, NULL};
	const List *list;
	int n;

	if (names == NULL || !IsA(names, List))
		return;
	list = (const List *) names;
	n = list_length(list) - (drop_last ? 1 : 0);
	if (n < 1 || n > 3)
		return;
	for (int i = 0; i < n; i++)
	{
		const Node *part = list_nth(list, i);

		if (!IsA(part, String))
			return;
		parts[3 - n + i] = strVal(part);
	}
	w->sink->relation(w->sink->ctx, parts[0], parts[1], parts[2], usage);
}

/* Reports the relation or schema an object name stands for, by object type. */
static void
emit_object(pgw_walker *w, ObjectType type, const Node *object, uint32 usage)
{
	switch (type)
	{
		case OBJECT_TABLE:
		case OBJECT_VIEW:
		case OBJECT_MATVIEW:
		case OBJECT_FOREIGN_TABLE:
		case OBJECT_SEQUENCE:
		case OBJECT_INDEX:
			emit_name_list(w, object, false, usage);
			break;
		case OBJECT_COLUMN:
		case OBJECT_TRIGGER:
		case OBJECT_RULE:
		case OBJECT_POLICY:
		case OBJECT_TABCONSTRAINT:
			emit_name_list(w, object, true, usage);
			break;
		case OBJECT_SCHEMA:
			if (object && IsA(object, String))
				w->sink->schema(w->sink->ctx, strVal(object), usage);
			break;
		default:
			break;
	}
}

static void
visit_func_call(pgw_walker *w, const pgw_walk_item *item, const FuncCall *call);

/* ---- statements --------------------------------------------------------- */

/* set_config(<constants>), plainly: no FILTER, OVER, ORDER BY or VARIADIC. */
static bool
is_plain_set_config_call(const Node *node)
{
	const FuncCall *call;
	ListCell   *lc;

	if (node == NULL || !IsA(node, FuncCall))
		return false;
	call = (const FuncCall *) node;
	if (call->agg_order != NIL || call->agg_filter != NULL || call->over != NULL || call->agg_star ||
		call->agg_distinct || call->func_variadic)
		return false;
	if (call->funcname == NIL || !IsA(llast(call->funcname), String) ||
		pgw_ascii_casecmp(strVal(llast(call->funcname)), "set_config") != 0)
		return false;
	foreach(lc, call->args)
	{
		const Node *arg = lfirst(lc);

		if (IsA(arg, TypeCast))
			arg = ((const TypeCast *) arg)->arg;
		if (arg == NULL || !IsA(arg, A_Const))
			return false;
	}
	return true;
}

/*
 * The statement's set_config calls run exactly when it does: a top-level
 * `SELECT set_config(...), ...` of constant calls and nothing else. Any
 * FROM, WHERE, LIMIT, set operation, CASE around the call or set-returning
 * function beside it may leave the call unmade while the statement
 * succeeds, so pgwarden counts what those set only as possible.
 */
static bool
set_config_surely_runs(const pgw_walk_item *item, const SelectStmt *stmt)
{
	ListCell   *lc;

	if (!(item->mode & PGW_MODE_TOP) || (item->mode & PGW_MODE_NOT_EXECUTED) || item->do_depth > 0 ||
		stmt->op != SETOP_NONE ||
		stmt->fromClause != NIL || stmt->whereClause != NULL || stmt->groupClause != NIL ||
		stmt->havingClause != NULL || stmt->windowClause != NIL || stmt->valuesLists != NIL ||
		stmt->limitCount != NULL || stmt->limitOffset != NULL || stmt->targetList == NIL)
		return false;
	foreach(lc, stmt->targetList)
	{
		const ResTarget *target = lfirst(lc);

		if (!IsA(target, ResTarget) || !is_plain_set_config_call(target->val))
			return false;
	}
	return true;
}

static void
visit_select(pgw_walker *w, const pgw_walk_item *item, const SelectStmt *stmt)
{
	const pgw_cte_scope *scope = push_with_clause(w, item, stmt->withClause);
	/* FOR UPDATE/SHARE locks the rows of the FROM items, subqueries in FROM
	 * included (so a locked FROM passes the lock on to the SELECT inside).
	 * The OF list only names FROM items again, maybe by alias: not walked. */
	bool locks = stmt->lockingClause != NIL || (item->usage & PGW_USE_LOCK);

	if (!(item->mode & PGW_MODE_VALUES_ONLY))
		emit_classes(w, item, CLS(SELECT));
	if (stmt->lockingClause != NIL)
		emit_classes(w, item, CLS(LOCK));
	if (set_config_surely_runs(item, stmt))
	{
		ListCell   *lc;

		/* No FROM to lock: the third skip slot is free for the target list. */
		foreach(lc, stmt->targetList)
			push_as(w, item, ((const ResTarget *) lfirst(lc))->val, PGW_USE_READ, scope,
					PGW_MODE_SURELY_RUN);
		push_children_except(w, item, PGW_USE_READ, scope, (const Node *) stmt->withClause,
							 (const Node *) stmt->lockingClause, (const Node *) stmt->targetList);
		return;
	}
	if (locks)
		push_as(w, item, stmt->fromClause, PGW_USE_READ | PGW_USE_LOCK, scope,
				item->mode & PGW_MODE_NOT_EXECUTED);
	push_children_except(w, item, PGW_USE_READ, scope, (const Node *) stmt->withClause,
						 (const Node *) stmt->lockingClause,
						 locks ? (const Node *) stmt->fromClause : NULL);
}

static void
visit_insert(pgw_walker *w, const pgw_walk_item *item, const InsertStmt *stmt)
{
	const pgw_cte_scope *scope = push_with_clause(w, item, stmt->withClause);
	uint8 mode = item->mode & PGW_MODE_NOT_EXECUTED;
	uint8 target = PGW_USE_WRITE;
	const Node *source = stmt->selectStmt;

	emit_classes(w, item, CLS(INSERT));
	if (stmt->onConflictClause && stmt->onConflictClause->action == ONCONFLICT_UPDATE)
		emit_classes(w, item, CLS(UPDATE));
	if (stmt->returningList != NIL || stmt->onConflictClause)
		target |= PGW_USE_READ;
	push_as(w, item, stmt->relation, target, NULL, mode);
	if (source && IsA(source, SelectStmt) && ((const SelectStmt *) source)->valuesLists != NIL)
		push_as(w, item, source, PGW_USE_READ, scope, mode | PGW_MODE_VALUES_ONLY);
	else
		source = NULL;
	push_children_except(w, item, PGW_USE_READ, scope, (const Node *) stmt->withClause,
						 (const Node *) stmt->relation, source);
}

/* UPDATE and DELETE: the target is written (and read, by WHERE and
 * RETURNING); everything else in the statement is read. */
static void
visit_update_or_delete(pgw_walker *w, const pgw_walk_item *item, WithClause *with_clause,
					   RangeVar *relation, uint32 classes)
{
	const pgw_cte_scope *scope = push_with_clause(w, item, with_clause);

	emit_classes(w, item, classes);
	push_as(w, item, relation, PGW_USE_WRITE | PGW_USE_READ, NULL,
			item->mode & PGW_MODE_NOT_EXECUTED);
	push_children_except(w, item, PGW_USE_READ, scope, (const Node *) with_clause,
						 (const Node *) relation, NULL);
}

static void
visit_update(pgw_walker *w, const pgw_walk_item *item, const UpdateStmt *stmt)
{
	visit_update_or_delete(w, item, stmt->withClause, stmt->relation, CLS(UPDATE));
}

static void
visit_delete(pgw_walker *w, const pgw_walk_item *item, const DeleteStmt *stmt)
{
	visit_update_or_delete(w, item, stmt->withClause, stmt->relation, CLS(DELETE));
}

static void
visit_merge(pgw_walker *w, const pgw_walk_item *item, const MergeStmt *stmt)
{
	const pgw_cte_scope *scope = push_with_clause(w, item, stmt->withClause);
	ListCell *lc;

	emit_classes(w, item, CLS(MERGE));
	foreach(lc, stmt->mergeWhenClauses)
	{
		const MergeWhenClause *when = lfirst(lc);

		if (!IsA(when, MergeWhenClause))
			continue;
		if (when->commandType == CMD_INSERT)
			emit_classes(w, item, CLS(INSERT));
		else if (when->commandType == CMD_UPDATE)
			emit_classes(w, item, CLS(UPDATE));
		else if (when->commandType == CMD_DELETE)
			emit_classes(w, item, CLS(DELETE));
	}
	push_as(w, item, stmt->relation, PGW_USE_WRITE | PGW_USE_READ, NULL,
			item->mode & PGW_MODE_NOT_EXECUTED);
	push_children_except(w, item, PGW_USE_READ, scope, (const Node *) stmt->withClause,
						 (const Node *) stmt->relation, NULL);
}

static void
visit_copy(pgw_walker *w, const pgw_walk_item *item, const CopyStmt *stmt)
{
	uint32 flags = 0;

	emit_classes(w, item, stmt->is_from ? CLS(COPY_FROM) : CLS(COPY_TO));
	if (stmt->is_program)
		flags |= PGW_FLAG_COPY_PROGRAM;
	else if (stmt->filename)
		flags |= PGW_FLAG_COPY_FILE;
	if (flags && !(item->mode & PGW_MODE_NOT_EXECUTED))
		pgw_walker_flags(w, flags);
	push_as(w, item, stmt->relation,
			PGW_USE_COPY | (stmt->is_from ? PGW_USE_WRITE : PGW_USE_READ), NULL,
			item->mode & PGW_MODE_NOT_EXECUTED);
	push_children_except(w, item, PGW_USE_READ, item->scope, (const Node *) stmt->relation,
						 NULL, NULL);
}

/* defGetBoolean(): no argument means true; only literal false/off/0 mean false. */
static bool
explain_analyzes(const ExplainStmt *stmt)
{
	ListCell *lc;

	foreach(lc, stmt->options)
	{
		const DefElem *opt = lfirst(lc);

		if (IsA(opt, DefElem) && pgw_ascii_casecmp(opt->defname, "analyze") == 0 &&
			(opt->arg == NULL || pgw_literal_bool(opt->arg) != 0))
			return true;
	}
	return false;
}

/*
 * EXPLAIN ANALYZE runs its statement: it takes that statement's classes.
 * A plain EXPLAIN only plans it: the statement is a read ("select", flag
 * explain_only), and the inner statement's relations and functions are
 * still reported, because planning reads catalog statistics and folds
 * immutable function calls.
 */
static void
visit_explain(pgw_walker *w, const pgw_walk_item *item, const ExplainStmt *stmt)
{
	uint8 mode = item->mode & PGW_MODE_NOT_EXECUTED;

	if (!explain_analyzes(stmt))
	{
		emit_classes(w, item, CLS(SELECT));
		if (!mode)
			pgw_walker_flags(w, PGW_FLAG_EXPLAIN_ONLY);
		mode = PGW_MODE_NOT_EXECUTED;
	}
	push_as(w, item, stmt->query, PGW_USE_READ, item->scope, mode);
	push_children_except(w, item, PGW_USE_READ, item->scope, stmt->query, NULL, NULL);
}

static void
emit_name(pgw_walker *w, const pgw_walk_item *item, int kind, const char *name)
{
	if (!(item->mode & PGW_MODE_NOT_EXECUTED))
		w->sink->name(w->sink->ctx, kind, name);
}

/* A string that names a relation (regclass text): reported as the C++ side
 * splits it. A computed name is not reported (sql/README.md says so). */
static void
emit_relation_text(pgw_walker *w, const Node *arg, uint32 usage)
{
	const char *text = arg ? pgw_literal_text(arg) : NULL;

	if (text != NULL)
		w->sink->relation_text(w->sink->ctx, text, usage);
}

/* SQL that pgwarden cannot read runs: unknown, as PL/pgSQL's EXECUTE of a
 * computed string is. */
static void
emit_unknown_sql(pgw_walker *w, const pgw_walk_item *item)
{
	if (item->mode & PGW_MODE_NOT_EXECUTED)
		return;
	pgw_walker_flags(w, PGW_FLAG_DYNAMIC_SQL);
	pgw_walker_classes(w, CLS(UNKNOWN));
}

typedef struct string_visit
{
	pgw_walker *w;
	const pgw_walk_item *item;
	pgw_string_kind kind;
} string_visit;

/*
 * SQL in a string (query_to_xml('DELETE ...'), dblink(conn, 'sql')) runs
 * with the same effects as if it were written out: a literal is parsed and
 * walked as statements of this one (nested like a DO body, up to
 * max_do_depth). A computed string, or a literal that does not parse, is
 * unknown. dblink's other text arguments (connections, cursor names) do not
 * parse as SQL and are skipped.
 */
static void
visit_string_arg(void *ctx, const Node *arg)
{
	string_visit *v = ctx;
	const char *text = arg ? pgw_literal_text(arg) : NULL;
	List *parsed = NIL;
	pgw_raw_error error;

	switch (v->kind)
	{
		case PGW_STRING_SQL:
		case PGW_STRING_MAYBE_SQL:
			if (text == NULL)
			{
				emit_unknown_sql(v->w, v->item);
				return;
			}
			if (!pgw_try_raw_parse(text, RAW_PARSE_DEFAULT, &parsed, &error))
			{
				if (v->kind == PGW_STRING_SQL)
					emit_unknown_sql(v->w, v->item);
				return;
			}
			if (v->item->do_depth >= v->w->options->max_do_depth)
			{
				emit_unknown_sql(v->w, v->item);
				return;
			}
			pgw_walker_push_statements(v->w, parsed, v->item->do_depth + 1,
									   v->item->mode & PGW_MODE_NOT_EXECUTED);
			return;
		case PGW_STRING_RELATION:
			if (text == NULL)
				emit_unknown_sql(v->w, v->item);
			else
				v->w->sink->relation_text(v->w->sink->ctx, text, PGW_USE_READ);
			return;
		case PGW_STRING_SCHEMA:
			if (text == NULL)
				emit_unknown_sql(v->w, v->item);
			else
				v->w->sink->schema(v->w->sink->ctx, text, PGW_USE_READ);
			return;
		default:
			return;
	}
}

/* What a call of the function name means for the policy: the name (for the
 * deny-list and the policy's function lists), the classes of a built-in
 * with effects, the relation it names in a string, SQL it runs from a
 * string. as_field: written x.f or (x).f (visit_field_call). */
static void
report_call(pgw_walker *w, const pgw_walk_item *item, const char *const parts[3], const FuncCall *call,
			int as_field)
{
	const pgw_function_effect *effect = pgw_function_effect_of(parts[2]);
	string_visit strings = {w, item, PGW_STRING_NONE};

	w->sink->function(w->sink->ctx, parts[0], parts[1], parts[2], as_field);
	if (effect != NULL)
	{
		emit_classes(w, item, effect->classes);
		if (effect->relation_arg >= 0)
			emit_relation_text(w, pgw_call_arg(call, effect->relation_arg, NULL), effect->relation_usage);
	}
	strings.kind = pgw_string_kind_of(parts[2]);
	pgw_string_args(call, visit_string_arg, &strings);
	if (strings.kind == PGW_STRING_DATABASE)
		w->sink->schema(w->sink->ctx, "*", PGW_USE_READ);
}

static void
visit_func_call(pgw_walker *w, const pgw_walk_item *item, const FuncCall *call)
{
	const char *parts[3] = {NULL, NULL, NULL};
	int n = list_length(call->funcname);

	if (n >= 1 && n <= 3)
	{
		for (int i = 0; i < n; i++)
		{
			const Node *part = list_nth(call->funcname, i);

			parts[3 - n + i] = IsA(part, String) ? strVal(part) : NULL;
		}
		if (parts[2])
		{
			report_call(w, item, parts, call, 0);
			if (!(item->mode & PGW_MODE_NOT_EXECUTED))
			{
				if (pgw_ascii_casecmp(parts[2], "set_config") == 0)
					pgw_report_set_config(w, item, call);
				else if (pgw_ascii_casecmp(parts[2], "pg_notify") == 0)
				{
					pgw_walker_classes(w, CLS(NOTIFY));
					w->sink->name(w->sink->ctx, PGW_NAME_NOTIFY,
								  call->args ? pgw_literal_text(linitial(call->args)) : NULL);
				}
			}
		}
	}
	push_children(w, item, item->usage);
}

/* (x).f.g[1].h, t.f: each name may be the call of a function of what
 * stands before it (raw_functions.h, pgw_field_call), and is judged as
 * that call would be; set_config and pg_notify take more than one argument
 * and cannot be called so. */
static void
visit_field_call(pgw_walker *w, const pgw_walk_item *item, const FuncCall *call)
{
	const char *parts[3] = {NULL, NULL, strVal(linitial(call->funcname))};

	report_call(w, item, parts, call, 1);
}

static void
visit_indirection(pgw_walker *w, const pgw_walk_item *item, const A_Indirection *ind)
{
	const Node *arg = ind->arg;
	ListCell   *lc;

	foreach(lc, ind->indirection)
	{
		const Node *step = lfirst(lc);

		if (IsA(step, String))
			visit_field_call(w, item, pgw_field_call(strVal(step), arg));
		arg = (const Node *) ind; /* computed from here on: no literal to read */
	}
	push_children(w, item, item->usage);
}

static void
visit_column_ref(pgw_walker *w, const pgw_walk_item *item, const ColumnRef *ref)
{
	const FuncCall *call = pgw_column_ref_call(ref);

	if (call != NULL)
		visit_field_call(w, item, call);
}

static void
visit_do(pgw_walker *w, const pgw_walk_item *item, const DoStmt *stmt)
{
	emit_classes(w, item, CLS(PROCEDURAL));
	if (item->mode & PGW_MODE_NOT_EXECUTED)
		return;
	if (!w->options->analyze_do_bodies || item->do_depth >= w->options->max_do_depth)
	{
		pgw_walker_flags(w, PGW_FLAG_DO_BODY_UNKNOWN);
		pgw_walker_classes(w, CLS(UNKNOWN));
		return;
	}
	pgw_walk_do_body(w, stmt, item->do_depth + 1);
}

static void
visit_drop(pgw_walker *w, const pgw_walk_item *item, const DropStmt *stmt)
{
	ListCell *lc;

	emit_classes(w, item, CLS(DDL) | CLS(DROP));
	foreach(lc, stmt->objects)
		emit_object(w, stmt->removeType, lfirst(lc), PGW_USE_DDL);
}

static void
visit_grant(pgw_walker *w, const pgw_walk_item *item, const GrantStmt *stmt)
{
	ListCell *lc;

	emit_classes(w, item, CLS(GRANT));
	if (stmt->targtype == ACL_TARGET_ALL_IN_SCHEMA || stmt->objtype == OBJECT_SCHEMA)
	{
		foreach(lc, stmt->objects)
			if (IsA(lfirst(lc), String))
				w->sink->schema(w->sink->ctx, strVal(lfirst(lc)), PGW_USE_DDL);
		return;
	}
	push_children(w, item, PGW_USE_DDL);
}

static void
visit_other(pgw_walker *w, const pgw_walk_item *item)
{
	const Node *node = item->node;
	pgw_statement_info info = pgw_classify_statement(nodeTag(node));

	/*
	 * ACCESS SHARE is the lock every SELECT takes: LOCK in that mode (pg_dump
	 * does it for each table it dumps) blocks only what a read would block,
	 * so it is a read of the locked tables. Stronger modes stay "lock".
	 */
	if (IsA(node, LockStmt) && ((const LockStmt *) node)->mode == AccessShareLock)
	{
		info.classes = PGW_CLASS_BIT(SELECT);
		info.usage = PGW_USE_READ;
	}

	if (!info.known && pgw_is_statement_tag(nodeTag(node)))
		unsupported(w);
	emit_classes(w, item, info.classes);
	push_children(w, item, info.usage ? info.usage : item->usage);

	switch (nodeTag(node))
	{
		case T_ListenStmt:
			emit_name(w, item, PGW_NAME_LISTEN, ((const ListenStmt *) node)->conditionname);
			break;
		case T_UnlistenStmt:
			emit_name(w, item, PGW_NAME_UNLISTEN, ((const UnlistenStmt *) node)->conditionname);
			break;
		case T_NotifyStmt:
			emit_name(w, item, PGW_NAME_NOTIFY, ((const NotifyStmt *) node)->conditionname);
			break;
		case T_PrepareStmt:
			emit_name(w, item, PGW_NAME_PREPARE, ((const PrepareStmt *) node)->name);
			break;
		case T_ExecuteStmt:
			emit_name(w, item, PGW_NAME_EXECUTE, ((const ExecuteStmt *) node)->name);
			break;
		case T_DeallocateStmt:
			emit_name(w, item, PGW_NAME_DEALLOCATE, ((const DeallocateStmt *) node)->name);
			break;
		case T_DeclareCursorStmt:
		{
			const DeclareCursorStmt *d = (const DeclareCursorStmt *) node;

			emit_name(w, item, (d->options & CURSOR_OPT_HOLD) ? PGW_NAME_DECLARE_HOLD : PGW_NAME_DECLARE,
					  d->portalname);
			break;
		}
		case T_FetchStmt:
			emit_name(w, item, PGW_NAME_FETCH, ((const FetchStmt *) node)->portalname);
			break;
		case T_TransactionStmt:
			switch (((const TransactionStmt *) node)->kind)
			{
				case TRANS_STMT_COMMIT:
				case TRANS_STMT_ROLLBACK:
				case TRANS_STMT_ROLLBACK_TO:
				case TRANS_STMT_PREPARE:
					pgw_walker_flags(w, PGW_FLAG_ENDS_TRANSACTION_SCOPE);
					break;
				default:
					break;
			}
			break;
		case T_ClosePortalStmt:
			emit_name(w, item, PGW_NAME_CLOSE, ((const ClosePortalStmt *) node)->portalname);
			break;
		case T_CommentStmt:
			emit_object(w, ((const CommentStmt *) node)->objtype,
						((const CommentStmt *) node)->object, PGW_USE_DDL);
			break;
		case T_SecLabelStmt:
			emit_object(w, ((const SecLabelStmt *) node)->objtype,
						((const SecLabelStmt *) node)->object, PGW_USE_DDL);
			break;
		case T_RenameStmt:
			if (((const RenameStmt *) node)->renameType == OBJECT_SCHEMA &&
				((const RenameStmt *) node)->subname)
				w->sink->schema(w->sink->ctx, ((const RenameStmt *) node)->subname, PGW_USE_DDL);
			break;
		case T_AlterOwnerStmt:
			emit_object(w, ((const AlterOwnerStmt *) node)->objectType,
						((const AlterOwnerStmt *) node)->object, PGW_USE_DDL);
			break;
		case T_AlterObjectSchemaStmt:
			/* Moving an object into a schema changes what that schema holds. */
			if (((const AlterObjectSchemaStmt *) node)->newschema)
				w->sink->schema(w->sink->ctx, ((const AlterObjectSchemaStmt *) node)->newschema,
								PGW_USE_DDL);
			break;
		case T_CreateSchemaStmt:
			if (((const CreateSchemaStmt *) node)->schemaname)
				w->sink->schema(w->sink->ctx, ((const CreateSchemaStmt *) node)->schemaname,
								PGW_USE_DDL);
			break;
		default:
			break;
	}
}

/* ---- the loop ----------------------------------------------------------- */

static void
visit(pgw_walker *w, const pgw_walk_item *item)
{
	const Node *node = item->node;

	switch (nodeTag(node))
	{
		case T_List:
		{
			const List *list = (const List *) node;
			pgw_walk_item child = *item;

			child.mode &= ~(PGW_MODE_TOP | PGW_MODE_VALUES_ONLY | PGW_MODE_SURELY_RUN);
			for (int i = list_length(list) - 1; i >= 0; i--)
			{
				child.node = list_nth(list, i);
				if (child.node && !is_leaf(child.node))
					push(w, &child);
			}
			return;
		}
		case T_IntList:
		case T_OidList:
			return;
		case T_RawStmt:
			push_as(w, item, ((const RawStmt *) node)->stmt, PGW_USE_READ, NULL,
					(item->mode & PGW_MODE_NOT_EXECUTED) | PGW_MODE_TOP);
			return;
		case T_RangeVar:
			visit_range_var(w, item, (const RangeVar *) node);
			return;
		case T_FuncCall:
			visit_func_call(w, item, (const FuncCall *) node);
			return;
		case T_A_Indirection:
			visit_indirection(w, item, (const A_Indirection *) node);
			return;
		case T_ColumnRef:
			visit_column_ref(w, item, (const ColumnRef *) node);
			return;
		case T_SelectStmt:
			visit_select(w, item, (const SelectStmt *) node);
			return;
		case T_InsertStmt:
			visit_insert(w, item, (const InsertStmt *) node);
			return;
		case T_UpdateStmt:
			visit_update(w, item, (const UpdateStmt *) node);
			return;
		case T_DeleteStmt:
			visit_delete(w, item, (const DeleteStmt *) node);
			return;
		case T_MergeStmt:
			visit_merge(w, item, (const MergeStmt *) node);
			return;
		case T_CopyStmt:
			visit_copy(w, item, (const CopyStmt *) node);
			return;
		case T_ExplainStmt:
			visit_explain(w, item, (const ExplainStmt *) node);
			return;
		case T_VariableSetStmt:
			pgw_visit_variable_set(w, item, (const VariableSetStmt *) node);
			return;
		case T_DiscardStmt:
			pgw_visit_discard(w, item, (const DiscardStmt *) node);
			return;
		case T_DoStmt:
			visit_do(w, item, (const DoStmt *) node);
			return;
		case T_DropStmt:
			visit_drop(w, item, (const DropStmt *) node);
			return;
		case T_GrantStmt:
			visit_grant(w, item, (const GrantStmt *) node);
			return;
		case T_LockingClause:
			return;
		case T_IntoClause:
		{
			/* SELECT INTO / CREATE TABLE AS: creates and fills a table. */
			const IntoClause *into = (const IntoClause *) node;

			emit_classes(w, item, CLS(DDL) | CLS(CREATE));
			push_as(w, item, into->rel, PGW_USE_DDL | PGW_USE_WRITE, NULL,
					item->mode & PGW_MODE_NOT_EXECUTED);
			push_children_except(w, item, PGW_USE_READ, item->scope, (const Node *) into->rel,
								 NULL, NULL);
			return;
		}
		default:
			visit_other(w, item);
			return;
	}
}

bool
pgw_walker_run(pgw_walker *w, const Node *node)
{
	pgw_walk_item root = {node, NULL, PGW_USE_READ, 0, 0};

	push(w, &root);
	while (w->len > 0 && !w->too_complex)
	{
		pgw_walk_item item = w->items[--w->len];

		if (++w->visited > w->options->max_nodes)
		{
			w->too_complex = true;
			break;
		}
		visit(w, &item);
	}
	w->len = 0;
	return !w->too_complex;
}

void
pgw_walker_push_statements(pgw_walker *w, const List *raw_stmts, int do_depth, uint8 mode)
{
	ListCell *lc;

	foreach(lc, raw_stmts)
	{
		pgw_walk_item item = {lfirst(lc), NULL, PGW_USE_READ, mode, (uint8) do_depth};

		push(w, &item);
	}
}
