/*
 * The lineage tracer: for each statement, which output columns (and which
 * side effects) can carry a masked value. lineage.h has the model; in short,
 * names are tainted, not scopes:
 *
 *   pass 0   walks the whole tree once and collects what later passes need:
 *            whether a masked relation is read or a tainted function called
 *            at all (the "gate": without it no column name is masked), the
 *            aliases of masked relations, every FROM sub-select and CTE,
 *            every filter clause, every write;
 *   fixpoint each sub-select and CTE whose outputs are tainted taints its
 *            output names, its column aliases and its own alias, until
 *            nothing changes (a sub-select can read another's outputs);
 *   final    the statement's outputs, and the filter and write verdicts.
 *
 * Every doubt (an unknown node type, a cycle that does not settle) goes to
 * tainted: masking a harmless value costs usefulness, missing one leaks.
 *
 * Recursion is bounded (PGW_LINEAGE_MAX_DEPTH): a deeper expression ends in
 * an error, which the engine turns into a refusal, never a guess.
 */
#include "raw_lineage.h"

#include <string.h>

#include "pg_backend.h"
#include "raw_node_children.h"
#include "raw_walk.h"

#define PGW_LINEAGE_MAX_DEPTH 1500
#define PGW_LINEAGE_MAX_ROUNDS 64

typedef struct strset
{
	const char **items;
	int len;
	int cap;
} strset;

typedef struct nodeset
{
	const Node **items;
	int len;
	int cap;
} nodeset;

typedef struct tracer
{
	const pgw_lineage_oracle *oracle;
	bool gate;				/* a masked relation is read or a tainted function called */
	int from_function_taint; /* worst taint of a function in FROM */
	strset names;			/* derived tainted column names */
	strset rels;			/* tainted relation names, aliases, CTE names */
	nodeset subqueries;		/* RangeSubselect, CommonTableExpr */
	nodeset filters;		/* WHERE, GROUP BY, ... roots */
	nodeset joins;			/* JoinExpr (USING names) */
	nodeset writes;			/* statements that store or send values */
	bool do_block;
	bool only_plain_tables; /* no sub-select, CTE, set operation or FROM function: set after pass 0 */
	const char *ddl_target;	  /* DDL refused while masking is in force */
	const char *write_target; /* set by taint_of for set_config / pg_notify */
	int depth;
	bool too_deep;
	size_t visited;
	size_t max_nodes;
	bool changed;
} tracer;

/* ---- small sets ----------------------------------------------------------- */

static bool
strset_has(const strset *s, const char *name)
{
	for (int i = 0; i < s->len; i++)
		if (strcmp(s->items[i], name) == 0)
			return true;
	return false;
}

static void
strset_add(tracer *t, strset *s, const char *name)
{
	if (name == NULL || name[0] == '\0' || strset_has(s, name))
		return;
	if (s->len == s->cap)
	{
		s->cap = s->cap ? s->cap * 2 : 16;
		s->items = s->items ? repalloc(s->items, s->cap * sizeof(char *)) : palloc(s->cap * sizeof(char *));
	}
	s->items[s->len++] = name;
	t->changed = true;
}

static void
nodeset_add(nodeset *s, const Node *node)
{
	if (node == NULL)
		return;
	if (s->len == s->cap)
	{
		s->cap = s->cap ? s->cap * 2 : 16;
		s->items = s->items ? repalloc(s->items, s->cap * sizeof(Node *)) : palloc(s->cap * sizeof(Node *));
	}
	s->items[s->len++] = node;
}

static int
worst(int a, int b)
{
	return a > b ? a : b;
}

static const char *
str_or_null(const Node *node)
{
	return node != NULL && IsA(node, String) ? strVal(node) : NULL;
}

/* The last name of a qualified name list (schema.name, catalog.schema.name). */
static void
split_name(const List *names, const char **schema, const char **name)
{
	int n = list_length(names);

	*name = n >= 1 ? str_or_null(list_nth(names, n - 1)) : NULL;
	*schema = n >= 2 ? str_or_null(list_nth(names, n - 2)) : NULL;
}

/* ---- oracle questions ------------------------------------------------------ */

static bool
relation_masked(tracer *t, const char *schema, const char *name)
{
	return name != NULL && t->oracle->relation_is_masked(t->oracle->ctx, schema ? schema : "", name);
}

/* A name used as a whole row or qualifier: an alias, CTE or relation that carries masked values. */
static bool
rel_tainted(tracer *t, const char *name)
{
	return name != NULL && (strset_has(&t->rels, name) || (t->gate && relation_masked(t, NULL, name)));
}

static bool
column_tainted(tracer *t, const char *name)
{
	if (name == NULL)
		return false;
	if (strset_has(&t->names, name))
		return true;
	return t->gate && t->oracle->column_is_masked(t->oracle->ctx, name);
}

static int
function_taint(tracer *t, const List *funcname)
{
	const char *schema, *name;

	split_name(funcname, &schema, &name);
	if (name == NULL)
		return PGW_TAINT_TAINTED;
	return t->oracle->function_taint(t->oracle->ctx, schema ? schema : "", name);
}

static bool
is_builtin_named(const List *funcname, const char *want)
{
	const char *schema, *name;

	split_name(funcname, &schema, &name);
	return name != NULL && strcmp(name, want) == 0 && (schema == NULL || strcmp(schema, "pg_catalog") == 0);
}

/* ---- expression taint ------------------------------------------------------ */

static int taint_of(tracer *t, const Node *node);

typedef struct child_taint
{
	tracer *t;
	int taint;
} child_taint;

static void
child_taint_fn(void *ctx, const Node *child)
{
	child_taint *c = ctx;

	if (child != NULL && c->taint != PGW_TAINT_TAINTED)
		c->taint = worst(c->taint, taint_of(c->t, child));
}

static int
columnref_taint(tracer *t, const ColumnRef *ref)
{
	int n = list_length(ref->fields);
	const Node *last = n ? list_nth(ref->fields, n - 1) : NULL;
	int taint = t->from_function_taint;

	if (last == NULL)
		return PGW_TAINT_TAINTED;
	if (IsA(last, A_Star))
	{
		if (n == 1)
			return t->gate ? PGW_TAINT_TAINTED : taint;
		return rel_tainted(t, str_or_null(list_nth(ref->fields, n - 2))) ? PGW_TAINT_TAINTED : taint;
	}
	if (column_tainted(t, str_or_null(last)))
		return PGW_TAINT_TAINTED;
	/* A single name may be a whole row: SELECT c FROM customers c, row_to_json(c). */
	if (n == 1 && rel_tainted(t, str_or_null(last)))
		return PGW_TAINT_TAINTED;
	return taint;
}

static int
funccall_taint(tracer *t, const FuncCall *call)
{
	child_taint c = {t, function_taint(t, call->funcname)};

	pgw_node_children((const Node *) call, child_taint_fn, &c);
	/* set_config() and pg_notify() send their arguments where no result
	 * masking reaches: ParameterStatus, other sessions' notifications. */
	if (t->write_target == NULL &&
		(is_builtin_named(call->funcname, "set_config") || is_builtin_named(call->funcname, "pg_notify")))
	{
		child_taint args = {t, PGW_TAINT_CLEAN};

		child_taint_fn(&args, (const Node *) call->args);
		if (args.taint == PGW_TAINT_TAINTED)
			t->write_target = is_builtin_named(call->funcname, "set_config") ? "set_config of masked values"
																				   : "pg_notify of masked values";
	}
	return c.taint;
}

/* The worst taint anywhere in node's subtree (sub-selects included whole). */
static int
taint_of(tracer *t, const Node *node)
{
	int result = PGW_TAINT_CLEAN;

	if (node == NULL)
		return PGW_TAINT_CLEAN;
	if (++t->depth > PGW_LINEAGE_MAX_DEPTH || ++t->visited > t->max_nodes)
	{
		t->too_deep = true;
		t->depth--;
		return PGW_TAINT_TAINTED;
	}
	switch (nodeTag(node))
	{
		case T_List:
		{
			const ListCell *lc;

			foreach(lc, (const List *) node)
			{
				result = worst(result, taint_of(t, lfirst(lc)));
				if (result == PGW_TAINT_TAINTED)
					break;
			}
			break;
		}
		case T_IntList:
		case T_OidList:
			break;
		case T_ColumnRef:
			result = columnref_taint(t, (const ColumnRef *) node);
			break;
		case T_FuncCall:
			result = funccall_taint(t, (const FuncCall *) node);
			break;
		default:
		{
			child_taint c = {t, PGW_TAINT_CLEAN};

			if (!pgw_node_children(node, child_taint_fn, &c))
				c.taint = PGW_TAINT_TAINTED; /* a node this build does not know */
			result = c.taint;
			break;
		}
	}
	t->depth--;
	return result;
}

/* ---- outputs of a query ------------------------------------------------------ */

typedef struct outputs
{
	pgw_lineage_output *items;
	int len;
	int cap;
} outputs;

static void
outputs_add_plain(outputs *o, const char *name, bool star, int taint, const char *plain_column);

static void
outputs_add(outputs *o, const char *name, bool star, int taint)
{
	outputs_add_plain(o, name, star, taint, NULL);
}

static void
outputs_add_plain(outputs *o, const char *name, bool star, int taint, const char *plain_column)
{
	if (o->len == o->cap)
	{
		o->cap = o->cap ? o->cap * 2 : 8;
		o->items = o->items ? repalloc(o->items, o->cap * sizeof(*o->items)) : palloc(o->cap * sizeof(*o->items));
	}
	o->items[o->len].name = name;
	o->items[o->len].star = star;
	o->items[o->len].taint = taint;
	o->items[o->len].plain_column = plain_column;
	o->len++;
}

static int
outputs_worst(const outputs *o)
{
	int w = PGW_TAINT_CLEAN;

	for (int i = 0; i < o->len; i++)
		w = worst(w, o->items[i].taint);
	return w;
}

/* The column name PostgreSQL gives an output (FigureColname, the common cases). */
static const char *
figure_name(const Node *node)
{
	if (node == NULL)
		return "?column?";
	switch (nodeTag(node))
	{
		case T_ColumnRef:
		{
			const List *fields = ((const ColumnRef *) node)->fields;
			const char *last = str_or_null(llast(fields));

			return last ? last : "?column?";
		}
		case T_FuncCall:
		{
			const char *schema, *name;

			split_name(((const FuncCall *) node)->funcname, &schema, &name);
			return name ? name : "?column?";
		}
		case T_TypeCast:
		{
			const char *inner = figure_name(((const TypeCast *) node)->arg);

			if (strcmp(inner, "?column?") != 0)
				return inner;
			const List *type_names = ((const TypeCast *) node)->typeName->names;
			const char *type = str_or_null(llast(type_names));

			return type ? type : "?column?";
		}
		case T_A_Indirection:
		{
			const List *ind = ((const A_Indirection *) node)->indirection;
			const char *last = str_or_null(llast(ind));

			return last ? last : figure_name(((const A_Indirection *) node)->arg);
		}
		case T_CaseExpr:
			return "case";
		case T_CoalesceExpr:
			return "coalesce";
		case T_A_ArrayExpr:
			return "array";
		case T_SubLink:
		{
			const SubLink *s = (const SubLink *) node;

			if (s->subLinkType == EXISTS_SUBLINK)
				return "exists";
			if (s->subLinkType == ARRAY_SUBLINK)
				return "array";
			if (s->subLinkType == EXPR_SUBLINK && IsA(s->subselect, SelectStmt))
			{
				const List *tl = ((const SelectStmt *) s->subselect)->targetList;

				if (list_length(tl) >= 1)
				{
					const ResTarget *rt = linitial(tl);

					return rt->name ? rt->name : figure_name(rt->val);
				}
			}
			return "?column?";
		}
		default:
			return "?column?";
	}
}

static void query_outputs(tracer *t, const Node *query, outputs *out);

static int
from_item_taint(tracer *t, const Node *item)
{
	if (item == NULL)
		return PGW_TAINT_CLEAN;
	if (++t->depth > PGW_LINEAGE_MAX_DEPTH)
	{
		t->too_deep = true;
		t->depth--;
		return PGW_TAINT_TAINTED;
	}
	int result = PGW_TAINT_CLEAN;

	switch (nodeTag(item))
	{
		case T_RangeVar:
		{
			const RangeVar *rv = (const RangeVar *) item;

			if (relation_masked(t, rv->schemaname, rv->relname) ||
				(rv->schemaname == NULL && strset_has(&t->rels, rv->relname)))
				result = PGW_TAINT_TAINTED;
			break;
		}
		case T_RangeSubselect:
		{
			outputs sub = {0};

			query_outputs(t, ((const RangeSubselect *) item)->subquery, &sub);
			result = outputs_worst(&sub);
			break;
		}
		case T_JoinExpr:
		{
			const JoinExpr *j = (const JoinExpr *) item;

			result = worst(from_item_taint(t, j->larg), from_item_taint(t, j->rarg));
			break;
		}
		default:
			/* Functions in FROM, XMLTABLE, TABLESAMPLE: what their expressions carry. */
			result = taint_of(t, item);
			break;
	}
	t->depth--;
	return result;
}

static int
from_clause_taint(tracer *t, const List *from)
{
	const ListCell *lc;
	int result = t->from_function_taint;

	foreach(lc, from)
		result = worst(result, from_item_taint(t, lfirst(lc)));
	return result;
}

/* The column a bare reference names (c.ssn, ssn), for a view column that
 * shows a table column as it is: it can keep that column's own mask. Only
 * when the statement reads nothing but tables (no sub-select, CTE, set
 * operation or function in FROM): `SELECT s.ssn FROM (SELECT reverse(ssn)
 * AS ssn ...) s` names ssn too, and partial() of that would show digits
 * the rule hides. */
static const char *
plain_column_of(const Node *val)
{
	if (val == NULL || !IsA(val, ColumnRef))
		return NULL;
	return str_or_null(llast(((const ColumnRef *) val)->fields));
}

/* Outputs of a target or RETURNING list; `from` is what a bare * expands over. */
static void
target_outputs(tracer *t, const List *targets, const List *from, const RangeVar *target_relation,
			   outputs *out)
{
	const ListCell *lc;

	foreach(lc, targets)
	{
		const ResTarget *rt = lfirst(lc);
		const Node *val = rt->val;

		if (val != NULL && IsA(val, ColumnRef) && IsA(llast(((const ColumnRef *) val)->fields), A_Star))
		{
			const List *fields = ((const ColumnRef *) val)->fields;
			int taint;

			if (list_length(fields) == 1)
			{
				taint = from_clause_taint(t, from);
				if (target_relation != NULL)
					taint = worst(taint, from_item_taint(t, (const Node *) target_relation));
			}
			else
				taint = columnref_taint(t, (const ColumnRef *) val);
			outputs_add(out, NULL, true, taint);
			continue;
		}
		outputs_add_plain(out, rt->name ? rt->name : figure_name(val), false, taint_of(t, val),
						  t->only_plain_tables ? plain_column_of(val) : NULL);
	}
}

/* Set operations: output i is as tainted as column i of any arm; an arm with
 * a * makes positions unknowable, so every output takes the worst of all. */
static void
merge_setop(const outputs *left, const outputs *right, outputs *out)
{
	bool stars = false;
	int all = worst(outputs_worst(left), outputs_worst(right));

	for (int i = 0; i < left->len; i++)
		stars |= left->items[i].star;
	for (int i = 0; i < right->len; i++)
		stars |= right->items[i].star;
	for (int i = 0; i < left->len; i++)
	{
		int taint = stars || right->len != left->len ? all : worst(left->items[i].taint, right->items[i].taint);

		outputs_add(out, left->items[i].name, left->items[i].star, taint); /* not one column: no plain_column */
	}
}

static void
query_outputs(tracer *t, const Node *query, outputs *out)
{
	if (query == NULL)
		return;
	if (++t->depth > PGW_LINEAGE_MAX_DEPTH)
	{
		t->too_deep = true;
		t->depth--;
		return;
	}
	switch (nodeTag(query))
	{
		case T_SelectStmt:
		{
			const SelectStmt *s = (const SelectStmt *) query;

			if (s->op != SETOP_NONE)
			{
				outputs l = {0}, r = {0};

				query_outputs(t, (const Node *) s->larg, &l);
				query_outputs(t, (const Node *) s->rarg, &r);
				merge_setop(&l, &r, out);
			}
			else if (s->valuesLists != NIL)
			{
				const ListCell *row;
				int columns = list_length(linitial(s->valuesLists));
				int *taints = palloc0(sizeof(int) * (columns > 0 ? columns : 1));

				foreach(row, s->valuesLists)
				{
					int i = 0;
					const ListCell *cell;

					foreach(cell, (const List *) lfirst(row))
					{
						if (i < columns)
							taints[i] = worst(taints[i], taint_of(t, lfirst(cell)));
						i++;
					}
				}
				for (int i = 0; i < columns; i++)
					outputs_add(out, psprintf("column%d", i + 1), false, taints[i]);
			}
			else
				target_outputs(t, s->targetList, s->fromClause, NULL, out);
			break;
		}
		case T_InsertStmt:
			target_outputs(t, ((const InsertStmt *) query)->returningList, NIL,
						   ((const InsertStmt *) query)->relation, out);
			break;
		case T_UpdateStmt:
			target_outputs(t, ((const UpdateStmt *) query)->returningList,
						   ((const UpdateStmt *) query)->fromClause, ((const UpdateStmt *) query)->relation, out);
			break;
		case T_DeleteStmt:
			target_outputs(t, ((const DeleteStmt *) query)->returningList,
						   ((const DeleteStmt *) query)->usingClause, ((const DeleteStmt *) query)->relation, out);
			break;
		default:
			/* Anything else producing rows: one output of the worst taint. */
			outputs_add(out, NULL, true, taint_of(t, query));
			break;
	}
	t->depth--;
}

/* ---- pass 0 ---------------------------------------------------------------- */

static void collect(tracer *t, const Node *node);

static void
collect_child(void *ctx, const Node *child)
{
	if (child != NULL)
		collect((tracer *) ctx, child);
}

static void
add_filter(tracer *t, const Node *node)
{
	nodeset_add(&t->filters, node);
}

static void
collect_select(tracer *t, const SelectStmt *s)
{
	add_filter(t, s->whereClause);
	add_filter(t, (const Node *) s->groupClause);
	add_filter(t, s->havingClause);
	add_filter(t, (const Node *) s->sortClause);
	add_filter(t, s->limitOffset);
	add_filter(t, s->limitCount);
	add_filter(t, (const Node *) s->windowClause);
	/* Plain DISTINCT is a list holding one NULL; DISTINCT ON lists expressions. */
	if (s->distinctClause != NIL && linitial(s->distinctClause) != NULL)
		add_filter(t, (const Node *) s->distinctClause);
	if (s->intoClause != NULL)
		nodeset_add(&t->writes, (const Node *) s);
}

static void
collect_range_function(tracer *t, const RangeFunction *rf)
{
	const ListCell *lc;
	int taint = PGW_TAINT_CLEAN;

	foreach(lc, rf->functions)
	{
		const List *pair = lfirst(lc);
		const Node *fn = pair ? linitial(pair) : NULL;

		if (fn != NULL && IsA(fn, FuncCall))
			taint = worst(taint, function_taint(t, ((const FuncCall *) fn)->funcname));
		else if (fn != NULL)
			taint = PGW_TAINT_TAINTED;
	}
	if (taint == PGW_TAINT_TAINTED)
		t->gate = true;
	t->from_function_taint = worst(t->from_function_taint, taint);
	if (taint != PGW_TAINT_CLEAN && rf->alias != NULL)
		strset_add(t, &t->rels, rf->alias->aliasname);
}

static void
collect(tracer *t, const Node *node)
{
	if (++t->depth > PGW_LINEAGE_MAX_DEPTH || ++t->visited > t->max_nodes)
	{
		t->too_deep = true;
		t->depth--;
		return;
	}
	switch (nodeTag(node))
	{
		case T_List:
		{
			const ListCell *lc;

			foreach(lc, (const List *) node)
				if (lfirst(lc) != NULL)
					collect(t, lfirst(lc));
			t->depth--;
			return;
		}
		case T_IntList:
		case T_OidList:
			t->depth--;
			return;
		case T_RangeVar:
		{
			const RangeVar *rv = (const RangeVar *) node;

			if (relation_masked(t, rv->schemaname, rv->relname))
			{
				t->gate = true;
				strset_add(t, &t->rels, rv->relname);
				if (rv->alias != NULL)
					strset_add(t, &t->rels, rv->alias->aliasname);
			}
			break;
		}
		case T_FuncCall:
			if (function_taint(t, ((const FuncCall *) node)->funcname) == PGW_TAINT_TAINTED)
				t->gate = true;
			break;
		case T_RangeFunction:
			collect_range_function(t, (const RangeFunction *) node);
			t->only_plain_tables = false;
			break;
		case T_RangeTableFunc:
			t->only_plain_tables = false;
			break;
		case T_RangeSubselect:
		case T_CommonTableExpr:
			nodeset_add(&t->subqueries, node);
			break;
		case T_SelectStmt:
			collect_select(t, (const SelectStmt *) node);
			if (((const SelectStmt *) node)->op != SETOP_NONE || ((const SelectStmt *) node)->withClause != NULL)
				t->only_plain_tables = false;
			break;
		case T_JoinExpr:
			add_filter(t, ((const JoinExpr *) node)->quals);
			nodeset_add(&t->joins, node);
			break;
		case T_WindowDef:
			add_filter(t, (const Node *) ((const WindowDef *) node)->partitionClause);
			add_filter(t, (const Node *) ((const WindowDef *) node)->orderClause);
			break;
		case T_OnConflictClause:
			add_filter(t, ((const OnConflictClause *) node)->whereClause);
			break;
		case T_UpdateStmt:
			add_filter(t, ((const UpdateStmt *) node)->whereClause);
			nodeset_add(&t->writes, node);
			break;
		case T_DeleteStmt:
			add_filter(t, ((const DeleteStmt *) node)->whereClause);
			break;
		case T_InsertStmt:
		case T_MergeStmt:
		case T_CreateTableAsStmt:
		case T_ViewStmt:
			nodeset_add(&t->writes, node);
			break;
		case T_CopyStmt:
		{
			const CopyStmt *c = (const CopyStmt *) node;

			if (!c->is_from && (c->filename != NULL || c->is_program))
				nodeset_add(&t->writes, node);
			break;
		}
		case T_DoStmt:
			t->do_block = true;
			break;
		/* Code that runs later, where no statement pgwarden sees shows what
		 * it reads or where it writes: refused while masking is in force
		 * (the tracer only runs then). */
		case T_CreateFunctionStmt:
			t->ddl_target = ((const CreateFunctionStmt *) node)->is_procedure ? "create procedure while masking is in force" : "create function while masking is in force";
			break;
		case T_CreateTrigStmt:
			t->ddl_target = "create trigger while masking is in force";
			break;
		case T_RuleStmt:
			t->ddl_target = "create rule while masking is in force";
			break;
		case T_CreateEventTrigStmt:
			t->ddl_target = "create event trigger while masking is in force";
			break;
		/* Renaming a masked table or column would move it out of its rule. */
		case T_RenameStmt:
		{
			const RenameStmt *r = (const RenameStmt *) node;

			if (r->relation != NULL && relation_masked(t, r->relation->schemaname, r->relation->relname))
				t->ddl_target = "rename in a masked relation";
			break;
		}
		case T_AlterTableStmt:
		{
			const AlterTableStmt *a = (const AlterTableStmt *) node;

			if (a->relation != NULL && relation_masked(t, a->relation->schemaname, a->relation->relname))
				t->ddl_target = "alter of a masked relation";
			break;
		}
		default:
			break;
	}
	pgw_node_children(node, collect_child, t);
	t->depth--;
}

/* ---- the fixpoint ------------------------------------------------------------ */

static void
taint_names_of(tracer *t, const Node *query, const char *alias, const List *colnames)
{
	outputs out = {0};
	bool any = false;
	bool stars = false;
	const ListCell *lc;
	int i = 0;

	query_outputs(t, query, &out);
	for (int k = 0; k < out.len; k++)
	{
		stars |= out.items[k].star;
		if (out.items[k].taint != PGW_TAINT_TAINTED)
			continue;
		any = true;
		strset_add(t, &t->names, out.items[k].name);
	}
	if (!any)
		return;
	strset_add(t, &t->rels, alias);
	/* Column aliases rename outputs by position; past a * the positions are
	 * unknown, so every alias is tainted. */
	foreach(lc, colnames)
	{
		if (stars || i >= out.len || out.items[i].taint == PGW_TAINT_TAINTED)
			strset_add(t, &t->names, str_or_null(lfirst(lc)));
		i++;
	}
}

static bool
settle(tracer *t)
{
	for (int round = 0; round < PGW_LINEAGE_MAX_ROUNDS; round++)
	{
		t->changed = false;
		for (int i = 0; i < t->subqueries.len; i++)
		{
			const Node *n = t->subqueries.items[i];

			if (IsA(n, RangeSubselect))
			{
				const RangeSubselect *s = (const RangeSubselect *) n;

				taint_names_of(t, s->subquery, s->alias ? s->alias->aliasname : NULL,
							   s->alias ? s->alias->colnames : NIL);
			}
			else
			{
				const CommonTableExpr *c = (const CommonTableExpr *) n;

				taint_names_of(t, c->ctequery, c->ctename, c->aliascolnames);
			}
		}
		if (!t->changed)
			return true;
	}
	return false;
}

/* ---- verdicts ---------------------------------------------------------------- */

static bool
filters_on_masked(tracer *t)
{
	for (int i = 0; i < t->filters.len; i++)
		if (taint_of(t, t->filters.items[i]) == PGW_TAINT_TAINTED)
			return true;
	for (int i = 0; i < t->joins.len; i++)
	{
		const ListCell *lc;

		foreach(lc, ((const JoinExpr *) t->joins.items[i])->usingClause)
			if (column_tainted(t, str_or_null(lfirst(lc))))
				return true;
	}
	return false;
}

static const char *
relation_label(const char *verb, const RangeVar *rv)
{
	if (rv == NULL)
		return psprintf("%s of masked values", verb);
	if (rv->schemaname != NULL)
		return psprintf("%s %s.%s of masked values", verb, rv->schemaname, rv->relname);
	return psprintf("%s %s of masked values", verb, rv->relname);
}

static const char *
write_of_masked(tracer *t)
{
	if (t->do_block)
		return "DO while masking is in force";
	if (t->ddl_target != NULL)
		return t->ddl_target;
	for (int i = 0; i < t->writes.len; i++)
	{
		const Node *n = t->writes.items[i];

		switch (nodeTag(n))
		{
			case T_InsertStmt:
			{
				const InsertStmt *s = (const InsertStmt *) n;

				if (taint_of(t, s->selectStmt) == PGW_TAINT_TAINTED ||
					(s->onConflictClause && taint_of(t, (const Node *) s->onConflictClause->targetList) ==
												PGW_TAINT_TAINTED))
					return relation_label("insert into", s->relation);
				break;
			}
			case T_UpdateStmt:
			{
				const UpdateStmt *s = (const UpdateStmt *) n;
				const ListCell *lc;

				foreach(lc, s->targetList)
					if (taint_of(t, ((const ResTarget *) lfirst(lc))->val) == PGW_TAINT_TAINTED)
						return relation_label("update", s->relation);
				break;
			}
			case T_MergeStmt:
				if (taint_of(t, (const Node *) ((const MergeStmt *) n)->mergeWhenClauses) == PGW_TAINT_TAINTED)
					return relation_label("merge into", ((const MergeStmt *) n)->relation);
				break;
			case T_CreateTableAsStmt:
				if (taint_of(t, ((const CreateTableAsStmt *) n)->query) == PGW_TAINT_TAINTED)
					return ((const CreateTableAsStmt *) n)->objtype == OBJECT_MATVIEW ? "create materialized view of masked values"
																						: "create table as of masked values";
				break;
			case T_ViewStmt:
				if (taint_of(t, ((const ViewStmt *) n)->query) == PGW_TAINT_TAINTED)
					return "create view of masked values";
				break;
			case T_SelectStmt:
			{
				outputs out = {0};

				target_outputs(t, ((const SelectStmt *) n)->targetList, ((const SelectStmt *) n)->fromClause, NULL,
							   &out);
				if (outputs_worst(&out) == PGW_TAINT_TAINTED)
					return "select into of masked values";
				break;
			}
			case T_CopyStmt:
			{
				const CopyStmt *c = (const CopyStmt *) n;

				if ((c->query && taint_of(t, c->query) == PGW_TAINT_TAINTED) ||
					(c->relation && relation_masked(t, c->relation->schemaname, c->relation->relname)))
					return "copy of masked values to a server file or program";
				break;
			}
			default:
				break;
		}
	}
	return NULL;
}

/* ---- COPY options ------------------------------------------------------------ */

static char
first_char(const Node *arg)
{
	const char *s = str_or_null(arg);

	return s != NULL && s[0] != '\0' ? s[0] : 0;
}

static void
copy_options(const List *options, pgw_statement_lineage *out)
{
	const ListCell *lc;

	foreach(lc, options)
	{
		const DefElem *d = lfirst(lc);
		const char *value = str_or_null(d->arg);

		if (strcmp(d->defname, "format") == 0 && value != NULL)
		{
			out->copy_binary = strcmp(value, "binary") == 0;
			out->copy_csv = strcmp(value, "csv") == 0;
		}
		else if (strcmp(d->defname, "header") == 0)
		{
			/* HEADER, HEADER true / on / 1 / match: a header line. */
			bool header = true;

			if (d->arg != NULL && IsA(d->arg, Boolean))
				header = boolVal(d->arg);
			else if (d->arg != NULL && IsA(d->arg, Integer))
				header = intVal(d->arg) != 0;
			else if (value != NULL)
				header = !(strcmp(value, "false") == 0 || strcmp(value, "off") == 0 || strcmp(value, "0") == 0);
			out->copy_header = header;
		}
		else if (strcmp(d->defname, "delimiter") == 0)
			out->copy_delimiter = first_char(d->arg);
		else if (strcmp(d->defname, "quote") == 0)
			out->copy_quote = first_char(d->arg);
		else if (strcmp(d->defname, "escape") == 0)
			out->copy_escape = first_char(d->arg);
		else if (strcmp(d->defname, "null") == 0 && value != NULL)
			out->copy_null = value;
	}
}

/* ---- one statement --------------------------------------------------------------- */

static void
set_outputs(pgw_statement_lineage *st, const outputs *out, int source)
{
	st->source = source;
	st->outputs = out->items;
	st->n_outputs = out->len;
}

static void
describe_rows(tracer *t, const Node *stmt, pgw_statement_lineage *st)
{
	outputs out = {0};

	switch (nodeTag(stmt))
	{
		case T_SelectStmt:
			if (((const SelectStmt *) stmt)->intoClause != NULL)
				return; /* SELECT INTO stores its rows */
			query_outputs(t, stmt, &out);
			set_outputs(st, &out, PGW_ROWS_QUERY);
			return;
		case T_InsertStmt:
		case T_UpdateStmt:
		case T_DeleteStmt:
			query_outputs(t, stmt, &out);
			if (out.len > 0)
				set_outputs(st, &out, PGW_ROWS_RETURNING);
			return;
		case T_DeclareCursorStmt:
		{
			const DeclareCursorStmt *d = (const DeclareCursorStmt *) stmt;

			query_outputs(t, d->query, &out);
			set_outputs(st, &out, PGW_ROWS_DECLARE);
			st->name = d->portalname;
			return;
		}
		case T_FetchStmt:
		{
			const FetchStmt *f = (const FetchStmt *) stmt;

			if (!f->ismove)
			{
				st->source = PGW_ROWS_FETCH;
				st->name = f->portalname;
			}
			return;
		}
		case T_PrepareStmt:
		{
			const PrepareStmt *p = (const PrepareStmt *) stmt;

			query_outputs(t, p->query, &out);
			set_outputs(st, &out, PGW_ROWS_PREPARE);
			st->name = p->name;
			return;
		}
		case T_ExecuteStmt:
			st->source = PGW_ROWS_EXECUTE;
			st->name = ((const ExecuteStmt *) stmt)->name;
			return;
		case T_CopyStmt:
		{
			const CopyStmt *c = (const CopyStmt *) stmt;
			const ListCell *lc;

			if (c->is_from || c->filename != NULL || c->is_program)
				return;
			copy_options(c->options, st);
			if (c->query != NULL)
			{
				query_outputs(t, c->query, &out);
				set_outputs(st, &out, PGW_ROWS_COPY_QUERY);
				return;
			}
			foreach(lc, c->attlist)
			{
				const char *name = str_or_null(lfirst(lc));

				outputs_add(&out, name, false, column_tainted(t, name) ? PGW_TAINT_TAINTED : PGW_TAINT_CLEAN);
			}
			set_outputs(st, &out, PGW_ROWS_COPY_TABLE);
			st->copy_schema = c->relation->schemaname;
			st->copy_table = c->relation->relname;
			return;
		}
		case T_ExplainStmt:
		case T_VariableShowStmt:
			/* Plans and settings: no table values. */
			st->source = PGW_ROWS_OTHER;
			st->taint_other = PGW_TAINT_CLEAN;
			return;
		case T_CallStmt:
			st->source = PGW_ROWS_OTHER;
			st->taint_other = taint_of(t, (const Node *) ((const CallStmt *) stmt)->funccall);
			return;
		default:
			return;
	}
}

static void
trace_statement(tracer *t, const RawStmt *raw, pgw_lineage_fn fn, void *ctx)
{
	pgw_statement_lineage st;
	const Node *stmt = raw->stmt;

	memset(&st, 0, sizeof(st));
	t->only_plain_tables = true;
	collect(t, stmt);
	if (t->subqueries.len > 0)
		t->only_plain_tables = false;
	if (!t->too_deep && !settle(t))
		t->too_deep = true; /* did not settle: refuse rather than guess */
	describe_rows(t, stmt, &st);
	st.touches_masked = taint_of(t, stmt) != PGW_TAINT_CLEAN ||
		(st.source == PGW_ROWS_COPY_TABLE && relation_masked(t, st.copy_schema, st.copy_table));
	st.filters_on_masked = filters_on_masked(t);
	st.write_target = write_of_masked(t);
	if (st.write_target == NULL)
		st.write_target = t->write_target;
	st.writes_masked = st.write_target != NULL;
	if (!t->too_deep)
		fn(ctx, &st);
}

static int
trace_all(List *tree, const pgw_lineage_oracle *oracle, size_t max_nodes, pgw_lineage_fn fn, void *ctx)
{
	const ListCell *lc;

	foreach(lc, tree)
	{
		tracer t;

		memset(&t, 0, sizeof(t));
		t.oracle = oracle;
		t.max_nodes = max_nodes;
		trace_statement(&t, lfirst(lc), fn, ctx);
		if (t.too_deep)
			return PGW_RAW_TOO_COMPLEX;
	}
	return PGW_RAW_OK;
}

int
pgw_raw_lineage(const char *sql, int standard_conforming, size_t max_nodes, const pgw_lineage_oracle *oracle,
				pgw_lineage_fn fn, void *ctx, pgw_raw_error *error)
{
	MemoryContext mem = pg_query_enter_memory_context();
	List *tree = NIL;
	volatile int status = PGW_RAW_INTERNAL_ERROR;
	bool saved_conforming = standard_conforming_strings;
	bool saved_warning = escape_string_warning;

	error->message[0] = '\0';
	error->cursor_pos = 0;
	standard_conforming_strings = standard_conforming != 0;
	escape_string_warning = false;
	if (!pgw_try_raw_parse(sql, RAW_PARSE_DEFAULT, &tree, error))
		status = PGW_RAW_SYNTAX_ERROR;
	else
	{
		MemoryContext here = CurrentMemoryContext;

		PG_TRY();
		{
			status = trace_all(tree, oracle, max_nodes, fn, ctx);
		}
		PG_CATCH();
		{
			pgw_take_error(here, error);
		}
		PG_END_TRY();
		if (status == PGW_RAW_TOO_COMPLEX)
			snprintf(error->message, sizeof(error->message),
					 "statement too complex to trace for masking (nested deeper than %d or more than %zu nodes)",
					 PGW_LINEAGE_MAX_DEPTH, max_nodes);
	}
	standard_conforming_strings = saved_conforming;
	escape_string_warning = saved_warning;
	pg_query_exit_memory_context(mem);
	return status;
}
