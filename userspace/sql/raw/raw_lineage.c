/*
 * The lineage tracer: for each statement, which output columns (and which
 * side effects) can carry a masked value. lineage.h has the model; in short,
 * names are tainted, not scopes:
 *
 *   pass 0   walks the whole tree once and collects what later passes need:
 *            whether a masked relation is read or a tainted function called
 *            at all (the "gate": without it no column name is masked), the
 *            aliases of masked relations, every FROM item with an alias,
 *            every FROM sub-select, CTE and FROM function, every filter
 *            clause, every write;
 *   fixpoint each FROM item, sub-select and CTE whose outputs carry a
 *            masked (or untraceable) value taints its output names, its
 *            column aliases and its own alias, until nothing changes (a
 *            sub-select can read another's outputs);
 *   final    the statement's outputs, and the filter and write verdicts.
 *
 * Every doubt (an unknown node type, a cycle that does not settle) goes to
 * tainted: masking a harmless value costs usefulness, missing one leaks.
 *
 * Expressions and the pass-0 walk use explicit stacks (a 100 000-term
 * "a || b || ..." costs heap, not C stack). Only the nesting of FROM
 * sub-selects and set operations recurses, bounded by
 * PGW_LINEAGE_MAX_DEPTH: deeper ends in an error, which the engine turns
 * into a refusal, never a guess.
 */
#include "raw_lineage.h"

#include <string.h>

#include "pg_backend.h"
#include "raw_copy_options.h"
#include "raw_functions.h"
#include "raw_node_children.h"
#include "raw_walk.h"

#define PGW_LINEAGE_MAX_DEPTH 1000
/* C stack the recursion may use, measured like PostgreSQL's own
 * check_stack_depth(): frame sizes differ between builds (-O0, sanitizers),
 * and the engine may call from a thread with a small stack (the tests use
 * 256 KiB). */
#define PGW_LINEAGE_STACK_BUDGET (96 * 1024)
/* Where the C stack is now. Not the address of a local: ASan's
 * detect_stack_use_after_return moves those into heap-allocated fake
 * frames, and two of them are any distance apart (every statement was then
 * "too deep" under scripts/fuzz). The frame address is always the real
 * stack. */
#define PGW_STACK_HERE() ((uintptr_t) __builtin_frame_address(0))
#define PGW_LINEAGE_MAX_ROUNDS 64
/* SQL in a string within SQL in a string ...: nesting deeper is an error.
 * Dollar quoting makes each level cost a few bytes, so without a bound a
 * 1 MiB statement could nest tens of thousands of levels. */
#define PGW_LINEAGE_MAX_SQL_DEPTH 8

/* A statement held in a string that a function of the traced statement
 * runs (query_to_xml, dblink, ...): traced on its own, its verdicts count
 * for the statement that runs it. */
typedef struct nested_sql
{
	const RawStmt *stmt;
	const char *runner; /* the function that runs it */
} nested_sql;

/* Names with the worst taint seen for each (open addressing: a statement
 * can name tens of thousands of columns). */
typedef struct taintset
{
	const char **names;
	uint8 *taints;
	uint32 cap; /* a power of two, or 0 */
	uint32 len;
	int worst;
} taintset;

typedef struct nodeset
{
	const Node **items;
	int len;
	int cap;
} nodeset;

typedef struct tracer
{
	const pgw_lineage_oracle *oracle;
	bool gate;				 /* a masked relation is read or a tainted function called */
	int from_function_taint; /* worst taint of a function (name or arguments) in FROM */
	taintset names;			 /* derived tainted column names */
	taintset rels;			 /* tainted relation names, aliases, CTE names */
	taintset range_names;	 /* every relation name and alias (plain_column must not be one) */
	taintset windows;		 /* WINDOW w AS (...) definitions that carry a masked value */
	nodeset subqueries;		 /* RangeSubselect, CommonTableExpr */
	nodeset aliased;		 /* other FROM items with an alias (RangeVar, JoinExpr, functions) */
	nodeset from_functions;	 /* RangeFunction, RangeTableFunc */
	nodeset filters;		 /* WHERE, GROUP BY, ... roots */
	nodeset named_windows;	 /* WindowDef of WINDOW clauses */
	nodeset joins;			 /* JoinExpr (USING names, NATURAL) */
	nodeset setops;			 /* set operations that compare rows (all but UNION ALL) */
	nodeset distincts;		 /* target lists of plain SELECT DISTINCT */
	nodeset writes;			 /* statements that store or send values */
	nodeset escapes;		 /* calls of functions that send their arguments away */
	nodeset stored;			 /* DDL with expressions later statements run (stored_expressions_label) */
	bool do_block;
	struct nested_sql *nested; /* SQL held in string literals (query_to_xml('...')) */
	int n_nested;
	int cap_nested;
	const char *sql_string_refusal; /* SQL in a computed string, or one that does not parse */
	int sql_depth;					/* SQL in a string within SQL in a string ... */
	bool only_plain_tables; /* no sub-select, CTE, set operation, FROM function or column alias list */
	const char *ddl_target;	/* DDL refused while masking is in force */
	bool answers_on_masked;	/* later statements will answer yes or no about masked values */
	bool writes_masked_table; /* INSERT, UPDATE, DELETE or MERGE into a masked table */
	int depth;
	uintptr_t stack_base; /* the entry point's stack frame (PGW_STACK_HERE) */
	bool too_deep;
	size_t visited;
	size_t max_nodes;
	bool changed;
} tracer;

/* ---- small sets ----------------------------------------------------------- */

static int
worst(int a, int b)
{
	return a > b ? a : b;
}

static uint32
name_hash(const char *s)
{
	uint32 h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 16777619u;
	return h;
}

static int
taintset_get(const taintset *s, const char *name)
{
	if (name == NULL || s->cap == 0)
		return PGW_TAINT_CLEAN;
	for (uint32 i = name_hash(name) & (s->cap - 1);; i = (i + 1) & (s->cap - 1))
	{
		if (s->names[i] == NULL)
			return PGW_TAINT_CLEAN;
		if (strcmp(s->names[i], name) == 0)
			return s->taints[i];
	}
}

static void taintset_put(tracer *t, taintset *s, const char *name, int taint);

static void
taintset_grow(tracer *t, taintset *s)
{
	taintset old = *s;

	s->cap = old.cap ? old.cap * 2 : 64;
	s->len = 0;
	s->names = palloc0(s->cap * sizeof(char *));
	s->taints = palloc0(s->cap);
	for (uint32 i = 0; i < old.cap; i++)
		if (old.names[i] != NULL)
			taintset_put(t, s, old.names[i], old.taints[i]);
	if (old.cap)
	{
		pfree(old.names);
		pfree(old.taints);
	}
}

/* Raises name to taint (never lowers); a change is noted for the fixpoint. */
static void
taintset_put(tracer *t, taintset *s, const char *name, int taint)
{
	uint32 i;

	if (name == NULL || name[0] == '\0' || taint == PGW_TAINT_CLEAN)
		return;
	if ((s->len + 1) * 2 > s->cap)
		taintset_grow(t, s);
	for (i = name_hash(name) & (s->cap - 1); s->names[i] != NULL; i = (i + 1) & (s->cap - 1))
	{
		if (strcmp(s->names[i], name) == 0)
		{
			if (taint > s->taints[i])
			{
				s->taints[i] = (uint8) taint;
				s->worst = worst(s->worst, taint);
				t->changed = true;
			}
			return;
		}
	}
	s->names[i] = name;
	s->taints[i] = (uint8) taint;
	s->len++;
	s->worst = worst(s->worst, taint);
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

/* An explicit stack of nodes still to visit. Pending nodes never outnumber
 * the nodes of the tree, so max_nodes bounds it too. */
typedef struct nodestack
{
	tracer *t;
	const Node **items;
	size_t len;
	size_t cap;
} nodestack;

static void
nodestack_push(nodestack *s, const Node *node)
{
	if (node == NULL || s->t->too_deep)
		return;
	if (s->len == s->cap)
	{
		if (s->cap >= s->t->max_nodes)
		{
			s->t->too_deep = true;
			return;
		}
		s->cap = s->cap ? s->cap * 2 : 32;
		s->items = s->items ? repalloc(s->items, s->cap * sizeof(Node *)) : palloc(s->cap * sizeof(Node *));
	}
	s->items[s->len++] = node;
}

static void
nodestack_push_child(void *ctx, const Node *child)
{
	nodestack_push(ctx, child);
}

/* Pushes what is below node; false for a node type this build does not know. */
static bool
nodestack_push_children(nodestack *s, const Node *node)
{
	switch (nodeTag(node))
	{
		case T_List:
		{
			const ListCell *lc;

			foreach(lc, (const List *) node)
				nodestack_push(s, lfirst(lc));
			return true;
		}
		case T_IntList:
		case T_OidList:
			return true;
		default:
			return pgw_node_children(node, nodestack_push_child, s);
	}
}

static void
nodestack_free(nodestack *s)
{
	if (s->items != NULL)
		pfree(s->items);
}

/* Counts a visit; false (and too_deep) past max_nodes. */
static bool
count_visit(tracer *t)
{
	if (++t->visited > t->max_nodes)
		t->too_deep = true;
	return !t->too_deep;
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
static int
rel_taint(tracer *t, const char *name)
{
	if (name == NULL)
		return PGW_TAINT_CLEAN;
	if (t->gate && relation_masked(t, NULL, name))
		return PGW_TAINT_TAINTED;
	return taintset_get(&t->rels, name);
}

static int
column_taint(tracer *t, const char *name)
{
	if (name == NULL)
		return PGW_TAINT_CLEAN;
	if (t->gate && t->oracle->column_is_masked(t->oracle->ctx, name))
		return PGW_TAINT_TAINTED;
	return taintset_get(&t->names, name);
}

static int
function_taint(tracer *t, const List *funcname)
{
	const char *schema, *name;

	split_name(funcname, &schema, &name);
	if (name == NULL)
		return PGW_TAINT_TAINTED;
	/* query_to_xml, table_to_xml, cursor_to_xml, dblink, ...: they return
	 * what SQL, a table or a cursor named in a string reads, which no parse
	 * tree of this statement shows. The tracer only runs while masking is
	 * in force: tainted, whatever the oracle says. */
	if (pgw_string_kind_of(name) != PGW_STRING_NONE)
		return PGW_TAINT_TAINTED;
	return t->oracle->function_taint(t->oracle->ctx, schema ? schema : "", name);
}

/* x.f or (x).f as the call f(x) it may be (raw_functions.h): what a
 * function named f returns, clean when there is none (f is a column). */
static int
field_call_taint(tracer *t, const char *name)
{
	if (name == NULL)
		return PGW_TAINT_CLEAN;
	if (pgw_string_kind_of(name) != PGW_STRING_NONE)
		return PGW_TAINT_TAINTED;
	return t->oracle->field_call_taint(t->oracle->ctx, name);
}

/* The worst of the calls the names of an A_Indirection or a qualified
 * ColumnRef may be (not what they are called on). */
static int
field_names_taint(tracer *t, const Node *node)
{
	const ListCell *lc;
	int taint = PGW_TAINT_CLEAN;

	if (IsA(node, A_Indirection))
	{
		foreach(lc, ((const A_Indirection *) node)->indirection)
			if (IsA(lfirst(lc), String))
				taint = worst(taint, field_call_taint(t, strVal(lfirst(lc))));
	}
	else if (IsA(node, ColumnRef) && list_length(((const ColumnRef *) node)->fields) >= 2)
		taint = field_call_taint(t, str_or_null(llast(((const ColumnRef *) node)->fields)));
	return taint;
}

/* A built-in that stores or sends its arguments where a later statement
 * reads them back unmasked (raw_functions.c lists them): the name as
 * called, or NULL. */
static const char *
escape_function_name(const FuncCall *call)
{
	const char *schema, *name;

	split_name(call->funcname, &schema, &name);
	return pgw_is_escape_function(name) ? name : NULL;
}

/* ---- expression taint ------------------------------------------------------ */

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
		/* A bare * inside an expression (EXISTS (SELECT * ...), a row
		 * comparison): whatever any FROM item of the statement carries. */
		if (n == 1)
			return t->gate ? PGW_TAINT_TAINTED : worst(taint, t->rels.worst);
		return worst(taint, rel_taint(t, str_or_null(list_nth(ref->fields, n - 2))));
	}
	taint = worst(taint, column_taint(t, str_or_null(last)));
	/* A single name may be a whole row: SELECT c FROM customers c, row_to_json(c). */
	if (n == 1)
		taint = worst(taint, rel_taint(t, str_or_null(last)));
	else if (IsA(last, String))
	{
		/* t.f may be the call f(t): what f returns and, when some function
		 * f takes a row (c.row_to_json), every column of t. */
		taint = worst(taint, field_names_taint(t, (const Node *) ref));
		if (t->oracle->takes_a_row(t->oracle->ctx, strVal(last)))
			taint = worst(taint, rel_taint(t, str_or_null(list_nth(ref->fields, n - 2))));
	}
	return taint;
}

/* The worst taint anywhere in node's subtree (sub-selects included whole). */
static int
taint_of(tracer *t, const Node *root)
{
	nodestack stack = {t, NULL, 0, 0};
	int result = PGW_TAINT_CLEAN;

	nodestack_push(&stack, root);
	while (stack.len > 0 && result != PGW_TAINT_TAINTED && count_visit(t))
	{
		const Node *node = stack.items[--stack.len];

		switch (nodeTag(node))
		{
			case T_ColumnRef:
				result = worst(result, columnref_taint(t, (const ColumnRef *) node));
				break;
			case T_FuncCall:
				result = worst(result, function_taint(t, ((const FuncCall *) node)->funcname));
				nodestack_push_children(&stack, node);
				break;
			case T_A_Indirection:
				/* (x).f may be f(x); x itself is a child. */
				result = worst(result, field_names_taint(t, node));
				nodestack_push_children(&stack, node);
				break;
			case T_WindowDef:
			{
				/* OVER w, OVER (w ORDER BY ...): what the named window orders by. */
				const WindowDef *w = (const WindowDef *) node;

				result = worst(result, worst(taintset_get(&t->windows, w->name), taintset_get(&t->windows, w->refname)));
				nodestack_push_children(&stack, node);
				break;
			}
			default:
				if (!nodestack_push_children(&stack, node))
					result = PGW_TAINT_TAINTED; /* a node this build does not know */
				break;
		}
	}
	nodestack_free(&stack);
	return t->too_deep ? PGW_TAINT_TAINTED : result;
}

/* ---- outputs of a query ------------------------------------------------------ */

typedef struct outputs
{
	pgw_lineage_output *items;
	int len;
	int cap;
} outputs;

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

static void
outputs_add(outputs *o, const char *name, bool star, int taint)
{
	outputs_add_plain(o, name, star, taint, NULL);
}

static int
outputs_worst(const outputs *o)
{
	int w = PGW_TAINT_CLEAN;

	for (int i = 0; i < o->len; i++)
		w = worst(w, o->items[i].taint);
	return w;
}

static const SelectStmt *
leftmost_arm(const Node *query)
{
	const SelectStmt *s = query != NULL && IsA(query, SelectStmt) ? (const SelectStmt *) query : NULL;

	while (s != NULL && s->op != SETOP_NONE)
		s = s->larg;
	return s;
}

/*
 * FigureColnameInternal() of PostgreSQL 15's parse_target.c, on the raw
 * tree: the column name the server gives an output with no alias, and how
 * sure it is (2: a real name, 1: a fallback like "case", 0: none). Names
 * must match the server's: an outer query reads a sub-select's column by
 * that name, and a name the tracer got wrong would not be tainted there.
 *
 * The server recurses through casts, COLLATE, CASE ... ELSE and
 * indirection; this walks the same chain in a loop, because the chain is
 * as long as the input makes it ("1::int::int..." of 175 000 casts is one
 * statement), and recursion on it would overrun the C stack:
 *   - a TypeCast or CaseExpr whose inner name is weaker than 2 gives its own
 *     fallback (the type name, "case") at strength 1; the outermost one of
 *     the chain wins, since each overrides what is below it;
 *   - an EXPR sub-link gives its sub-select's first output name at strength
 *     2, whatever that name's own strength: past one, nothing outside it
 *     changes the result, so the walk goes on into the sub-select with a
 *     fresh chain and the default "?column?".
 */
static int
figure_colname(const Node *node, const char **name)
{
	const char *fallback = NULL; /* the outermost TypeCast / CaseExpr fallback of the current chain */
	bool in_sublink = false;	 /* the result is a sub-select's first output name */
	const char *found = NULL;
	int strength = 0;

	while (node != NULL && found == NULL)
	{
		const ListCell *lc;
		const char *fname = NULL;
		const Node *next = NULL;

		switch (nodeTag(node))
		{
			case T_ColumnRef:
				foreach(lc, ((const ColumnRef *) node)->fields)
					if (IsA(lfirst(lc), String))
						fname = strVal(lfirst(lc));
				if (fname != NULL)
					found = fname;
				break;
			case T_A_Indirection:
				foreach(lc, ((const A_Indirection *) node)->indirection)
					if (IsA(lfirst(lc), String))
						fname = strVal(lfirst(lc));
				if (fname != NULL)
					found = fname;
				else
					next = ((const A_Indirection *) node)->arg;
				break;
			case T_FuncCall:
			{
				const char *schema, *fn;

				split_name(((const FuncCall *) node)->funcname, &schema, &fn);
				found = fn;
				break;
			}
			case T_A_Expr:
				if (((const A_Expr *) node)->kind == AEXPR_NULLIF)
					found = "nullif";
				break;
			case T_TypeCast:
			{
				const TypeCast *c = (const TypeCast *) node;

				if (fallback == NULL && c->typeName != NULL && str_or_null(llast(c->typeName->names)) != NULL)
					fallback = strVal(llast(c->typeName->names));
				next = c->arg;
				break;
			}
			case T_CollateClause:
				next = ((const CollateClause *) node)->arg;
				break;
			case T_GroupingFunc:
				found = "grouping";
				break;
			case T_SubLink:
			{
				const SubLink *link = (const SubLink *) node;

				if (link->subLinkType == EXISTS_SUBLINK)
					found = "exists";
				else if (link->subLinkType == ARRAY_SUBLINK)
					found = "array";
				else if (link->subLinkType == EXPR_SUBLINK)
				{
					/* The name of the sub-select's first output, as the
					 * server set it when it transformed the sub-select. */
					const SelectStmt *arm = leftmost_arm(link->subselect);

					in_sublink = true;
					fallback = NULL;
					if (arm == NULL || (arm->valuesLists == NIL && list_length(arm->targetList) < 1))
						found = "?column?";
					else if (arm->valuesLists != NIL)
						found = "column1";
					else if (((const ResTarget *) linitial(arm->targetList))->name != NULL)
						found = ((const ResTarget *) linitial(arm->targetList))->name;
					else
						next = ((const ResTarget *) linitial(arm->targetList))->val;
				}
				break;
			}
			case T_CaseExpr:
				if (fallback == NULL)
					fallback = "case";
				next = (const Node *) ((const CaseExpr *) node)->defresult;
				break;
			case T_A_ArrayExpr:
				if (fallback == NULL)
					fallback = "array";
				break;
			case T_RowExpr:
				if (fallback == NULL)
					fallback = "row";
				break;
			case T_CoalesceExpr:
				found = "coalesce";
				break;
			case T_MinMaxExpr:
				found = ((const MinMaxExpr *) node)->op == IS_GREATEST ? "greatest" : "least";
				break;
			case T_SQLValueFunction:
				switch (((const SQLValueFunction *) node)->op)
				{
					case SVFOP_CURRENT_DATE: found = "current_date"; break;
					case SVFOP_CURRENT_TIME:
					case SVFOP_CURRENT_TIME_N: found = "current_time"; break;
					case SVFOP_CURRENT_TIMESTAMP:
					case SVFOP_CURRENT_TIMESTAMP_N: found = "current_timestamp"; break;
					case SVFOP_LOCALTIME:
					case SVFOP_LOCALTIME_N: found = "localtime"; break;
					case SVFOP_LOCALTIMESTAMP:
					case SVFOP_LOCALTIMESTAMP_N: found = "localtimestamp"; break;
					case SVFOP_CURRENT_ROLE: found = "current_role"; break;
					case SVFOP_CURRENT_USER: found = "current_user"; break;
					case SVFOP_USER: found = "user"; break;
					case SVFOP_SESSION_USER: found = "session_user"; break;
					case SVFOP_CURRENT_CATALOG: found = "current_catalog"; break;
					case SVFOP_CURRENT_SCHEMA: found = "current_schema"; break;
				}
				break;
			case T_XmlExpr:
				switch (((const XmlExpr *) node)->op)
				{
					case IS_XMLCONCAT: found = "xmlconcat"; break;
					case IS_XMLELEMENT: found = "xmlelement"; break;
					case IS_XMLFOREST: found = "xmlforest"; break;
					case IS_XMLPARSE: found = "xmlparse"; break;
					case IS_XMLPI: found = "xmlpi"; break;
					case IS_XMLROOT: found = "xmlroot"; break;
					case IS_XMLSERIALIZE: found = "xmlserialize"; break;
					case IS_DOCUMENT: break;
				}
				break;
			case T_XmlSerialize:
				found = "xmlserialize";
				break;
			default:
				break;
		}
		if (found == NULL && next == NULL)
			break; /* the chain ends without a name of strength 2 */
		node = next;
	}
	if (found != NULL)
	{
		*name = found;
		strength = 2;
	}
	else if (fallback != NULL)
	{
		*name = fallback;
		strength = 1;
	}
	if (in_sublink)
	{
		/* The sub-select's output was named "?column?" when nothing named it. */
		if (strength == 0)
			*name = "?column?";
		strength = 2;
	}
	return strength;
}

static const char *
figure_name(const Node *node)
{
	const char *name = "?column?";

	figure_colname(node, &name);
	return name;
}

static void query_outputs(tracer *t, const Node *query, outputs *out);

/* One level of recursion (sub-selects and joins in FROM, nested set
 * operations); false (and too_deep) past the depth or stack budget. The
 * caller decrements depth either way. */
static bool
enter(tracer *t)
{
	uintptr_t at = PGW_STACK_HERE();
	uintptr_t used = at < t->stack_base ? t->stack_base - at : at - t->stack_base;

	if (++t->depth > PGW_LINEAGE_MAX_DEPTH || used > PGW_LINEAGE_STACK_BUDGET)
		t->too_deep = true;
	return !t->too_deep;
}

/* What a FROM item can show: the worst taint of anything it yields. */
static int
from_item_taint(tracer *t, const Node *item)
{
	int result = PGW_TAINT_CLEAN;

	if (item == NULL)
		return PGW_TAINT_CLEAN;
	if (!enter(t)) /* joins nest too: a JOIN (b JOIN (c ...)) */
	{
		t->depth--;
		return PGW_TAINT_TAINTED;
	}
	switch (nodeTag(item))
	{
		case T_RangeVar:
		{
			const RangeVar *rv = (const RangeVar *) item;

			if (relation_masked(t, rv->schemaname, rv->relname))
				result = PGW_TAINT_TAINTED;
			else if (rv->schemaname == NULL)
				result = taintset_get(&t->rels, rv->relname); /* a CTE */
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
		case T_RangeTableSample:
		{
			const RangeTableSample *s = (const RangeTableSample *) item;

			result = worst(from_item_taint(t, s->relation),
						   worst(taint_of(t, (const Node *) s->args), taint_of(t, s->repeatable)));
			break;
		}
		default:
			/* Functions in FROM, XMLTABLE: what their names and arguments carry. */
			result = worst(t->from_function_taint, taint_of(t, item));
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
 * when the statement reads nothing but tables under their own column names
 * (no sub-select, CTE, set operation, function in FROM or column alias
 * list): `SELECT s.ssn FROM (SELECT reverse(ssn) AS ssn ...) s` names ssn
 * too, and partial() of that would show digits the rule hides. Never a
 * whole-row reference (`SELECT c FROM customers c`). */
static const char *
plain_column_of(tracer *t, const Node *val)
{
	const List *fields;
	const char *last;

	if (!t->only_plain_tables || val == NULL || !IsA(val, ColumnRef))
		return NULL;
	fields = ((const ColumnRef *) val)->fields;
	last = str_or_null(llast(fields));
	if (last == NULL || (list_length(fields) == 1 && taintset_get(&t->range_names, last) != PGW_TAINT_CLEAN))
		return NULL;
	return last;
}

static bool
ends_in_star(const List *names)
{
	return names != NIL && IsA(llast(names), A_Star);
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

		if (val != NULL && IsA(val, ColumnRef) && ends_in_star(((const ColumnRef *) val)->fields))
		{
			int taint;

			if (list_length(((const ColumnRef *) val)->fields) == 1)
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
		/* (c).* and (f(x)).* expand to columns too. */
		if (val != NULL && IsA(val, A_Indirection) && ends_in_star(((const A_Indirection *) val)->indirection))
		{
			outputs_add(out, NULL, true, taint_of(t, val));
			continue;
		}
		outputs_add_plain(out, rt->name ? rt->name : figure_name(val), false, taint_of(t, val),
						  plain_column_of(t, val));
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
	if (!enter(t))
	{
		t->depth--;
		outputs_add(out, NULL, true, PGW_TAINT_TAINTED);
		return;
	}
	switch (nodeTag(query))
	{
		case T_SelectStmt:
		{
			const SelectStmt *s = (const SelectStmt *) query;

			if (s->op != SETOP_NONE)
			{
				/* `a UNION b UNION c ...` nests to the left: walk the chain
				 * in a loop, so generated unions of thousands of arms do not
				 * count as nesting. */
				const SelectStmt **arms;
				int n = 0;
				outputs acc = {0};

				for (const SelectStmt *a = s; a->op != SETOP_NONE && a->larg != NULL; a = a->larg)
					n++;
				arms = palloc(sizeof(*arms) * n);
				n = 0;
				for (const SelectStmt *a = s; a->op != SETOP_NONE && a->larg != NULL; a = a->larg)
					arms[n++] = a;
				query_outputs(t, (const Node *) arms[n - 1]->larg, &acc);
				for (int k = n - 1; k >= 0; k--)
				{
					outputs r = {0}, merged = {0};

					query_outputs(t, (const Node *) arms[k]->rarg, &r);
					merge_setop(&acc, &r, &merged);
					acc = merged;
				}
				for (int k = 0; k < acc.len; k++)
					outputs_add(out, acc.items[k].name, acc.items[k].star, acc.items[k].taint);
				pfree(arms);
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

static void
add_filter(tracer *t, const Node *node)
{
	nodeset_add(&t->filters, node);
}

static void
note_alias(tracer *t, const Node *item, const Alias *alias)
{
	if (alias == NULL)
		return;
	nodeset_add(&t->aliased, item);
	taintset_put(t, &t->range_names, alias->aliasname, PGW_TAINT_TAINTED);
	if (alias->colnames != NIL)
		t->only_plain_tables = false; /* columns under other names */
}

/* ORDER BY 2, GROUP BY x where x is an output alias, DISTINCT ON (1): the
 * output they name is what rows are sorted or grouped by. */
static void
add_output_reference(tracer *t, const List *targets, const Node *item)
{
	const ListCell *lc;

	if (item != NULL && IsA(item, SortBy))
		item = ((const SortBy *) item)->node;
	if (item == NULL)
		return;
	if (IsA(item, A_Const) && !((const A_Const *) item)->isnull && IsA(&((const A_Const *) item)->val, Integer))
	{
		int k = intVal(&((const A_Const *) item)->val);

		if (k >= 1 && k <= list_length(targets))
			add_filter(t, ((const ResTarget *) list_nth(targets, k - 1))->val);
		return;
	}
	if (IsA(item, ColumnRef) && list_length(((const ColumnRef *) item)->fields) == 1)
	{
		const char *name = str_or_null(linitial(((const ColumnRef *) item)->fields));

		foreach(lc, targets)
		{
			const ResTarget *rt = lfirst(lc);

			if (name != NULL && rt->name != NULL && strcmp(rt->name, name) == 0)
				add_filter(t, rt->val);
		}
	}
}

static void
add_output_references(tracer *t, const List *targets, const List *items)
{
	const ListCell *lc;

	foreach(lc, items)
		add_output_reference(t, targets, lfirst(lc));
}

static void
collect_select(tracer *t, const SelectStmt *s)
{
	const ListCell *lc;

	add_filter(t, s->whereClause);
	add_filter(t, (const Node *) s->groupClause);
	add_filter(t, s->havingClause);
	add_filter(t, (const Node *) s->sortClause);
	add_filter(t, s->limitOffset);
	add_filter(t, s->limitCount);
	add_filter(t, (const Node *) s->windowClause);
	foreach(lc, s->windowClause)
		nodeset_add(&t->named_windows, lfirst(lc));
	/* Plain DISTINCT is a list holding one NULL: it groups by the whole
	 * target list. DISTINCT ON lists the expressions it groups by. */
	if (s->distinctClause != NIL && linitial(s->distinctClause) == NULL)
		nodeset_add(&t->distincts, (const Node *) s->targetList);
	else if (s->distinctClause != NIL)
	{
		add_filter(t, (const Node *) s->distinctClause);
		add_output_references(t, s->targetList, s->distinctClause);
	}
	add_output_references(t, s->targetList, s->sortClause);
	add_output_references(t, s->targetList, s->groupClause);
	/* INTERSECT, EXCEPT and UNION compare rows: `SELECT '123-45-6789'
	 * INTERSECT SELECT ssn ...` answers by its row count. UNION ALL does not. */
	if (s->op != SETOP_NONE && !(s->op == SETOP_UNION && s->all))
		nodeset_add(&t->setops, (const Node *) s);
	/* ORDER BY over a set operation names its outputs (by name or number),
	 * whose taint comes from every arm. */
	else if (s->op != SETOP_NONE && s->sortClause != NIL)
		nodeset_add(&t->setops, (const Node *) s);
	if (s->op != SETOP_NONE || s->withClause != NULL)
		t->only_plain_tables = false;
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
	nodeset_add(&t->from_functions, (const Node *) rf);
	note_alias(t, (const Node *) rf, rf->alias);
	t->only_plain_tables = false;
}

static bool
rangevar_masked(tracer *t, const RangeVar *rv)
{
	return rv != NULL && relation_masked(t, rv->schemaname, rv->relname);
}

/* An index's columns on a masked relation: a masked one, or an expression. */
static bool
index_params_masked(tracer *t, const List *params)
{
	const ListCell *lc;

	foreach(lc, params)
	{
		const IndexElem *e = lfirst(lc);

		if (!IsA(e, IndexElem) || e->expr != NULL || e->name == NULL ||
			t->oracle->column_is_masked(t->oracle->ctx, e->name))
			return true;
	}
	return false;
}

/* Column names of a masked relation (a foreign key's referenced columns):
 * any masked, or none given (the primary key, whatever it is). */
static bool
names_masked(tracer *t, const List *names)
{
	const ListCell *lc;

	if (names == NIL)
		return true;
	foreach(lc, names)
	{
		const char *name = str_or_null(lfirst(lc));

		if (name == NULL || t->oracle->column_is_masked(t->oracle->ctx, name))
			return true;
	}
	return false;
}

typedef struct sql_string_visit
{
	tracer *t;
	const char *runner;
	pgw_string_kind kind;
} sql_string_visit;

static void
visit_sql_string(void *ctx, const Node *arg)
{
	sql_string_visit *v = ctx;
	tracer *t = v->t;
	const char *text = arg != NULL ? pgw_literal_text(arg) : NULL;
	List *parsed = NIL;
	pgw_raw_error error;
	const ListCell *lc;

	if (text == NULL)
	{
		if (t->sql_string_refusal == NULL)
			t->sql_string_refusal = psprintf("%s of SQL in a computed string while masking is in force", v->runner);
		return;
	}
	if (!pgw_try_raw_parse(text, RAW_PARSE_DEFAULT, &parsed, &error))
	{
		/* dblink's other text arguments (connections, cursor names) do not
		 * parse; SQL that does not parse fails when it runs, but pgwarden
		 * cannot tell what the server will make of it. */
		if (v->kind == PGW_STRING_SQL && t->sql_string_refusal == NULL)
			t->sql_string_refusal = psprintf("%s of SQL pgwarden cannot parse while masking is in force", v->runner);
		return;
	}
	foreach(lc, parsed)
	{
		if (t->n_nested == t->cap_nested)
		{
			t->cap_nested = t->cap_nested ? t->cap_nested * 2 : 4;
			t->nested = t->nested ? repalloc(t->nested, t->cap_nested * sizeof(nested_sql))
								  : palloc(t->cap_nested * sizeof(nested_sql));
		}
		t->nested[t->n_nested].stmt = lfirst(lc);
		t->nested[t->n_nested].runner = v->runner;
		t->n_nested++;
	}
}

/* SQL held in a string a call runs (query_to_xml('SELECT ...'), dblink):
 * a literal is queued to be traced as a statement of its own; a computed
 * one cannot be read, and is refused. */
static void
collect_sql_strings(tracer *t, const FuncCall *call)
{
	const char *schema, *name;
	sql_string_visit v = {t, NULL, PGW_STRING_NONE};

	split_name(call->funcname, &schema, &name);
	v.kind = pgw_string_kind_of(name);
	if (v.kind != PGW_STRING_SQL && v.kind != PGW_STRING_MAYBE_SQL)
		return;
	v.runner = name;
	pgw_string_args(call, visit_sql_string, &v);
}

/* CREATE OPERATOR's and CREATE AGGREGATE's options that name a function
 * the server runs on the operands or rows (the selectivity estimators
 * return only numbers). */
static bool
is_function_option(const char *name)
{
	static const char *const options[] = {"function", "procedure", "sfunc", "sfunc1", "finalfunc", "combinefunc",
										  "serialfunc", "deserialfunc", "msfunc", "minvfunc", "mfinalfunc", NULL};

	for (const char *const *o = options; *o != NULL; o++)
		if (name != NULL && strcmp(name, *o) == 0)
			return true;
	return false;
}

/* The worst taint of the functions an operator or aggregate definition
 * names (FUNCTION = public.f is a TypeName in the raw tree). */
static int
defined_functions_taint(tracer *t, const List *definition)
{
	const ListCell *lc;
	int taint = PGW_TAINT_CLEAN;

	foreach(lc, definition)
	{
		const DefElem *d = lfirst(lc);
		const Node *arg;

		if (!IsA(d, DefElem) || !is_function_option(d->defname))
			continue;
		arg = d->arg;
		if (arg != NULL && IsA(arg, TypeName))
			taint = worst(taint, function_taint(t, ((const TypeName *) arg)->names));
		else if (arg != NULL && IsA(arg, List))
			taint = worst(taint, function_taint(t, (const List *) arg));
		else if (arg != NULL && IsA(arg, String))
			taint = worst(taint, function_taint(t, list_make1((Node *) arg)));
		else
			taint = PGW_TAINT_TAINTED;
	}
	return taint;
}

/* A call (written f(x), or x.f as pgw_field_call reads it) whose function
 * returns `taint`: it opens the gate, may send its arguments away, may run
 * SQL held in a string. */
static void
collect_call(tracer *t, const FuncCall *call, int taint)
{
	if (taint == PGW_TAINT_TAINTED)
		t->gate = true;
	if (escape_function_name(call) != NULL)
		nodeset_add(&t->escapes, (const Node *) call);
	collect_sql_strings(t, call);
}

/*
 * DDL whose expressions later statements run where their text shows none
 * of it: defaults, generated columns, CHECK constraints (a domain's too),
 * ALTER COLUMN ... USING, index expressions and predicates, row security
 * quals, statistics expressions. What they compute is stored, or comes back
 * in an error ("invalid input syntax for type integer: ...") or as a yes or
 * no: refused when it is masked (the verdict's label), like INSERT ...
 * SELECT ssn.
 */
static const char *
stored_expressions_label(const Node *node)
{
	switch (nodeTag(node))
	{
		case T_CreateStmt:
			return "create table computing masked values";
		case T_AlterTableStmt:
			return "alter table computing masked values";
		case T_CreateDomainStmt:
			return "create domain computing masked values";
		case T_AlterDomainStmt:
			return "alter domain computing masked values";
		case T_IndexStmt:
			return "create index computing masked values";
		case T_CreatePolicyStmt:
		case T_AlterPolicyStmt:
			return "policy computing masked values";
		case T_CreateStatsStmt:
			return "create statistics computing masked values";
		default:
			return NULL;
	}
}

/*
 * A write into a masked table reads its stored rows (UPDATE, DELETE, MERGE,
 * ON CONFLICT) and runs its constraints and triggers, whose errors and
 * notices print rows: `Failing row contains (1, null, ..., 488-34-9571)`
 * when an UPDATE breaks a NOT NULL, an audit trigger's RAISE NOTICE of
 * OLD.ssn. Its messages are those of a statement that reads masked values.
 */
static void
note_write_target(tracer *t, const RangeVar *rv)
{
	if (rv != NULL && relation_masked(t, rv->schemaname, rv->relname))
		t->writes_masked_table = true;
}

/* What one node of pass 0 records; its children are walked by collect(). */
static void
collect_node(tracer *t, const Node *node)
{
	if (stored_expressions_label(node) != NULL)
		nodeset_add(&t->stored, node);
	switch (nodeTag(node))
	{
		case T_RangeVar:
		{
			const RangeVar *rv = (const RangeVar *) node;

			taintset_put(t, &t->range_names, rv->relname, PGW_TAINT_TAINTED);
			if (rangevar_masked(t, rv))
			{
				t->gate = true;
				taintset_put(t, &t->rels, rv->relname, PGW_TAINT_TAINTED);
			}
			note_alias(t, node, rv->alias);
			break;
		}
		case T_FuncCall:
			collect_call(t, (const FuncCall *) node, function_taint(t, ((const FuncCall *) node)->funcname));
			break;
		case T_A_Indirection:
		{
			/* (x).f.g: each name may call a function of what stands before it. */
			const Node *arg = ((const A_Indirection *) node)->arg;
			const ListCell *lc;

			foreach(lc, ((const A_Indirection *) node)->indirection)
			{
				if (IsA(lfirst(lc), String))
				{
					const char *name = strVal(lfirst(lc));

					collect_call(t, pgw_field_call(name, arg), field_call_taint(t, name));
				}
				arg = node;
			}
			break;
		}
		case T_ColumnRef:
		{
			const FuncCall *call = pgw_column_ref_call((const ColumnRef *) node);

			if (call != NULL)
				collect_call(t, call, field_names_taint(t, node));
			break;
		}
		case T_RangeFunction:
			collect_range_function(t, (const RangeFunction *) node);
			break;
		case T_RangeTableFunc:
			nodeset_add(&t->from_functions, node);
			note_alias(t, node, ((const RangeTableFunc *) node)->alias);
			t->only_plain_tables = false;
			break;
		case T_RangeSubselect:
			nodeset_add(&t->subqueries, node);
			if (((const RangeSubselect *) node)->alias != NULL)
				taintset_put(t, &t->range_names, ((const RangeSubselect *) node)->alias->aliasname, PGW_TAINT_TAINTED);
			break;
		case T_CommonTableExpr:
			nodeset_add(&t->subqueries, node);
			taintset_put(t, &t->range_names, ((const CommonTableExpr *) node)->ctename, PGW_TAINT_TAINTED);
			break;
		case T_SelectStmt:
			collect_select(t, (const SelectStmt *) node);
			break;
		case T_JoinExpr:
		{
			const JoinExpr *j = (const JoinExpr *) node;

			add_filter(t, j->quals);
			nodeset_add(&t->joins, node);
			note_alias(t, node, j->alias);
			if (j->alias == NULL)
				note_alias(t, node, j->join_using_alias);
			else if (j->join_using_alias != NULL)
				taintset_put(t, &t->range_names, j->join_using_alias->aliasname, PGW_TAINT_TAINTED);
			break;
		}
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
			note_write_target(t, ((const UpdateStmt *) node)->relation);
			break;
		case T_DeleteStmt:
			add_filter(t, ((const DeleteStmt *) node)->whereClause);
			note_write_target(t, ((const DeleteStmt *) node)->relation);
			break;
		case T_MergeStmt:
			add_filter(t, ((const MergeStmt *) node)->joinCondition);
			nodeset_add(&t->writes, node);
			note_write_target(t, ((const MergeStmt *) node)->relation);
			break;
		case T_MergeWhenClause:
			add_filter(t, ((const MergeWhenClause *) node)->condition);
			break;
		case T_InsertStmt:
			nodeset_add(&t->writes, node);
			note_write_target(t, ((const InsertStmt *) node)->relation);
			break;
		case T_CreateTableAsStmt:
		case T_ViewStmt:
		case T_CallStmt:
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
		/* New names for calls of existing functions (@@@ 1 runs the
		 * operator's function, an aggregate its state and final functions,
		 * a cast its function) that no later statement shows as calls:
		 * refused over a function that may return masked values, or whose
		 * body pgwarden cannot trace. */
		case T_DefineStmt:
		{
			const DefineStmt *d = (const DefineStmt *) node;

			if ((d->kind == OBJECT_OPERATOR || d->kind == OBJECT_AGGREGATE) &&
				defined_functions_taint(t, d->definition) != PGW_TAINT_CLEAN)
				t->ddl_target = d->kind == OBJECT_OPERATOR ? "create operator over a function that may return masked values"
														   : "create aggregate over a function that may return masked values";
			break;
		}
		case T_CreateCastStmt:
		{
			const CreateCastStmt *c = (const CreateCastStmt *) node;

			/* An implicit cast from a row type to text makes reverse(c),
			 * and so c.reverse, pass all of c's columns. */
			if (c->context == COERCION_IMPLICIT)
				t->ddl_target = "create implicit cast while masking is in force";
			else if (c->func != NULL && function_taint(t, c->func->objname) != PGW_TAINT_CLEAN)
				t->ddl_target = "create cast over a function that may return masked values";
			break;
		}
		/* Logical replication ships rows as they are stored. */
		case T_CreatePublicationStmt:
		case T_AlterPublicationStmt:
			t->ddl_target = "publication while masking is in force";
			break;
		/* Renaming a masked table, column or schema would move it out of its rule. */
		case T_RenameStmt:
		{
			const RenameStmt *r = (const RenameStmt *) node;

			if (rangevar_masked(t, r->relation))
				t->ddl_target = "rename in a masked relation";
			else if (r->renameType == OBJECT_SCHEMA)
				t->ddl_target = "rename of a schema while masking is in force";
			break;
		}
		case T_AlterObjectSchemaStmt:
			if (rangevar_masked(t, ((const AlterObjectSchemaStmt *) node)->relation))
				t->ddl_target = "alter of a masked relation";
			break;
		case T_AlterTableStmt:
		{
			const AlterTableStmt *a = (const AlterTableStmt *) node;
			const ListCell *lc;

			if (rangevar_masked(t, a->relation))
				t->ddl_target = "alter of a masked relation";
			/* A masked table attached under a parent of the client's own
			 * would be read through that parent. */
			foreach(lc, a->cmds)
			{
				const AlterTableCmd *cmd = lfirst(lc);

				if (IsA(cmd, AlterTableCmd) && cmd->subtype == AT_AttachPartition && cmd->def != NULL &&
					IsA(cmd->def, PartitionCmd) && rangevar_masked(t, ((const PartitionCmd *) cmd->def)->name))
					t->ddl_target = "attach of a masked relation";
			}
			break;
		}
		/* A foreign key to masked columns, an index on them: each later
		 * INSERT that passes or fails a key answers "is this value one of
		 * theirs?", and a scan the planner serves from the index returns
		 * rows in the masked column's order, where the text shows no masked
		 * column. (The planner settings that steer a scan onto an existing
		 * index are the policy's: decision.cpp, check_planner_settings.) */
		case T_Constraint:
		{
			const Constraint *c = (const Constraint *) node;

			if (c->contype == CONSTR_FOREIGN && rangevar_masked(t, c->pktable) && names_masked(t, c->pk_attrs))
				t->answers_on_masked = true;
			break;
		}
		case T_IndexStmt:
		{
			const IndexStmt *i = (const IndexStmt *) node;

			if (rangevar_masked(t, i->relation) && index_params_masked(t, i->indexParams))
				t->answers_on_masked = true;
			break;
		}
		/* A row security policy on a masked column answers by row counts
		 * (what strict: true denies); extended statistics keep sample values
		 * of their columns (pg_stats_ext). */
		case T_CreatePolicyStmt:
			if (rangevar_masked(t, ((const CreatePolicyStmt *) node)->table))
				t->ddl_target = "policy on a masked relation";
			break;
		case T_AlterPolicyStmt:
			if (rangevar_masked(t, ((const AlterPolicyStmt *) node)->table))
				t->ddl_target = "policy on a masked relation";
			break;
		case T_CreateStatsStmt:
		{
			const ListCell *lc;

			foreach(lc, ((const CreateStatsStmt *) node)->relations)
				if (IsA(lfirst(lc), RangeVar) && rangevar_masked(t, lfirst(lc)))
					t->ddl_target = "statistics on a masked relation";
			break;
		}
		default:
			break;
	}
}

/* Pass 0: every node once, with an explicit stack. */
static void
collect(tracer *t, const Node *root)
{
	nodestack stack = {t, NULL, 0, 0};

	nodestack_push(&stack, root);
	while (stack.len > 0 && count_visit(t))
	{
		const Node *node = stack.items[--stack.len];

		size_t first = stack.len;

		collect_node(t, node);
		nodestack_push_children(&stack, node);
		/* Children in reverse, so they pop in the order they are written:
		 * "the first write found" is the first in the text. */
		for (size_t a = first, b = stack.len; a + 1 < b; a++, b--)
		{
			const Node *swap = stack.items[a];

			stack.items[a] = stack.items[b - 1];
			stack.items[b - 1] = swap;
		}
	}
	nodestack_free(&stack);
}

/* ---- the fixpoint ------------------------------------------------------------ */

/* A sub-select or CTE: its tainted outputs taint their names, its column
 * aliases (by position) and its own alias. */
/* SEARCH ... SET o and CYCLE ... USING path add columns that hold the
 * searched columns' values (o is an array of them, path a row array): as
 * tainted as the CTE's worst output. */
static void
taint_cte_added_columns(tracer *t, const CommonTableExpr *c)
{
	outputs out = {0};
	int all;

	if (c->search_clause == NULL && c->cycle_clause == NULL)
		return;
	query_outputs(t, c->ctequery, &out);
	all = outputs_worst(&out);
	if (all == PGW_TAINT_CLEAN)
		return;
	if (c->search_clause != NULL)
		taintset_put(t, &t->names, c->search_clause->search_seq_column, all);
	if (c->cycle_clause != NULL)
	{
		taintset_put(t, &t->names, c->cycle_clause->cycle_path_column, all);
		taintset_put(t, &t->names, c->cycle_clause->cycle_mark_column, all);
	}
}

static void
taint_names_of(tracer *t, const Node *query, const char *alias, const List *colnames)
{
	outputs out = {0};
	bool stars = false;
	const ListCell *lc;
	int i = 0;
	int all;

	query_outputs(t, query, &out);
	all = outputs_worst(&out);
	if (all == PGW_TAINT_CLEAN)
		return;
	for (int k = 0; k < out.len; k++)
	{
		stars |= out.items[k].star;
		taintset_put(t, &t->names, out.items[k].name, out.items[k].taint);
	}
	taintset_put(t, &t->rels, alias, all);
	/* Column aliases rename outputs by position; past a * the positions are
	 * unknown, so every alias takes the worst. */
	foreach(lc, colnames)
	{
		int taint = stars || i >= out.len ? all : out.items[i].taint;

		taintset_put(t, &t->names, str_or_null(lfirst(lc)), taint);
		i++;
	}
}

static void
taint_alias_names(tracer *t, const Alias *alias, int taint)
{
	const ListCell *lc;

	if (alias == NULL)
		return;
	taintset_put(t, &t->rels, alias->aliasname, taint);
	foreach(lc, alias->colnames)
		taintset_put(t, &t->names, str_or_null(lfirst(lc)), taint);
}

/* A FROM item with an alias (`customers c(a, b)`, `cte AS x`, a join, a
 * function): the alias is a whole row of what the item shows, and column
 * aliases (positions unknown without the catalog) take its worst. */
static void
taint_aliased_item(tracer *t, const Node *item)
{
	int taint = from_item_taint(t, item);
	const ListCell *lc;

	if (taint == PGW_TAINT_CLEAN)
		return;
	switch (nodeTag(item))
	{
		case T_RangeVar:
			taint_alias_names(t, ((const RangeVar *) item)->alias, taint);
			break;
		case T_JoinExpr:
			taint_alias_names(t, ((const JoinExpr *) item)->alias, taint);
			taint_alias_names(t, ((const JoinExpr *) item)->join_using_alias, taint);
			break;
		case T_RangeFunction:
			taint_alias_names(t, ((const RangeFunction *) item)->alias, taint);
			foreach(lc, ((const RangeFunction *) item)->coldeflist)
				if (IsA(lfirst(lc), ColumnDef))
					taintset_put(t, &t->names, ((const ColumnDef *) lfirst(lc))->colname, taint);
			break;
		case T_RangeTableFunc:
			taint_alias_names(t, ((const RangeTableFunc *) item)->alias, taint);
			foreach(lc, ((const RangeTableFunc *) item)->columns)
				if (IsA(lfirst(lc), RangeTableFuncCol))
					taintset_put(t, &t->names, ((const RangeTableFuncCol *) lfirst(lc))->colname, taint);
			break;
		default:
			break;
	}
}

static bool
settle(tracer *t)
{
	for (int round = 0; round < PGW_LINEAGE_MAX_ROUNDS && !t->too_deep; round++)
	{
		t->changed = false;
		/* A function in FROM whose arguments carry a masked value returns
		 * columns under names nothing here knows (`jsonb_each_text(to_jsonb(c))`
		 * gives key and value): every column reference takes its taint. */
		for (int i = 0; i < t->from_functions.len; i++)
		{
			int taint = taint_of(t, t->from_functions.items[i]);

			if (taint > t->from_function_taint)
			{
				t->from_function_taint = taint;
				t->changed = true;
			}
		}
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
				taint_cte_added_columns(t, c);
			}
		}
		for (int i = 0; i < t->aliased.len; i++)
			taint_aliased_item(t, t->aliased.items[i]);
		for (int i = 0; i < t->named_windows.len; i++)
		{
			const WindowDef *w = (const WindowDef *) t->named_windows.items[i];

			if (IsA(w, WindowDef))
				taintset_put(t, &t->windows, w->name, taint_of(t, (const Node *) w));
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
	if (t->answers_on_masked)
		return true;
	for (int i = 0; i < t->filters.len; i++)
		if (taint_of(t, t->filters.items[i]) == PGW_TAINT_TAINTED)
			return true;
	for (int i = 0; i < t->distincts.len; i++)
		if (taint_of(t, t->distincts.items[i]) == PGW_TAINT_TAINTED)
			return true;
	for (int i = 0; i < t->setops.len; i++)
	{
		outputs out = {0};

		query_outputs(t, t->setops.items[i], &out);
		if (outputs_worst(&out) == PGW_TAINT_TAINTED)
			return true;
	}
	for (int i = 0; i < t->joins.len; i++)
	{
		const JoinExpr *j = (const JoinExpr *) t->joins.items[i];
		const ListCell *lc;

		foreach(lc, j->usingClause)
			if (column_taint(t, str_or_null(lfirst(lc))) == PGW_TAINT_TAINTED)
				return true;
		/* NATURAL joins on every common name: a masked column may be one. */
		if (j->isNatural &&
			worst(from_item_taint(t, j->larg), from_item_taint(t, j->rarg)) == PGW_TAINT_TAINTED)
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
			case T_CallStmt:
			{
				/* A procedure can store its arguments anywhere. */
				const FuncCall *call = ((const CallStmt *) n)->funccall;

				if (call != NULL && taint_of(t, (const Node *) call->args) == PGW_TAINT_TAINTED)
					return "call with masked arguments";
				break;
			}
			default:
				break;
		}
	}
	for (int i = 0; i < t->escapes.len; i++)
	{
		const FuncCall *call = (const FuncCall *) t->escapes.items[i];

		if (taint_of(t, (const Node *) call->args) == PGW_TAINT_TAINTED)
			return psprintf("%s of masked values", escape_function_name(call));
	}
	for (int i = 0; i < t->stored.len; i++)
		if (taint_of(t, t->stored.items[i]) == PGW_TAINT_TAINTED)
			return stored_expressions_label(t->stored.items[i]);
	return t->sql_string_refusal;
}

/* The worst taint of the functions a statement calls (not of its columns). */
static int
functions_taint(tracer *t, const Node *root)
{
	nodestack stack = {t, NULL, 0, 0};
	int result = PGW_TAINT_CLEAN;

	nodestack_push(&stack, root);
	while (stack.len > 0 && count_visit(t))
	{
		const Node *node = stack.items[--stack.len];

		if (IsA(node, FuncCall))
			result = worst(result, function_taint(t, ((const FuncCall *) node)->funcname));
		else
			result = worst(result, field_names_taint(t, node));
		nodestack_push_children(&stack, node);
	}
	nodestack_free(&stack);
	return t->too_deep ? PGW_TAINT_TAINTED : result;
}

/* ---- COPY options ------------------------------------------------------------ */

/* The format the server will send the rows in (raw_copy_options.c reads
 * the options as PostgreSQL 15 does). */
static void
copy_options(const CopyStmt *c, pgw_statement_lineage *out)
{
	pgw_copy_format f;

	pgw_read_copy_options(c->options, c->is_from, &f);
	out->copy_binary = f.binary;
	out->copy_csv = f.csv;
	out->copy_header = f.header;
	out->copy_delimiter = f.delimiter;
	out->copy_quote = f.quote;
	out->copy_escape = f.escape;
	out->copy_null = f.null_print;
	out->copy_encoding = f.encoding;
	out->copy_options_error = f.error;
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
			copy_options(c, st);
			if (c->query != NULL)
			{
				query_outputs(t, c->query, &out);
				set_outputs(st, &out, PGW_ROWS_COPY_QUERY);
				return;
			}
			foreach(lc, c->attlist)
			{
				const char *name = str_or_null(lfirst(lc));

				outputs_add(&out, name, false, column_taint(t, name));
			}
			set_outputs(st, &out, PGW_ROWS_COPY_TABLE);
			st->copy_schema = c->relation->schemaname;
			st->copy_table = c->relation->relname;
			return;
		}
		case T_ExplainStmt:
			/* A plan shows no table values, but the planner folds calls of
			 * immutable functions with constant arguments into constants it
			 * prints: a tainted function's result would be one. */
			st->source = PGW_ROWS_OTHER;
			st->taint_other = functions_taint(t, ((const ExplainStmt *) stmt)->query);
			return;
		case T_VariableShowStmt:
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

static void judge_statement(tracer *t, const RawStmt *raw, pgw_statement_lineage *st);

/* A statement held in a string of this one runs with its effects: what it
 * writes, filters on or touches counts as this statement's doing. */
static void
judge_nested(tracer *t, pgw_statement_lineage *st)
{
	for (int i = 0; i < t->n_nested && !t->too_deep; i++)
	{
		tracer inner;
		pgw_statement_lineage in;

		if (t->sql_depth + 1 > PGW_LINEAGE_MAX_SQL_DEPTH)
		{
			t->too_deep = true;
			return;
		}
		memset(&inner, 0, sizeof(inner));
		inner.stack_base = t->stack_base;
		inner.oracle = t->oracle;
		inner.max_nodes = t->max_nodes;
		inner.sql_depth = t->sql_depth + 1;
		judge_statement(&inner, t->nested[i].stmt, &in);
		if (inner.too_deep)
		{
			t->too_deep = true;
			return;
		}
		st->touches_masked |= in.touches_masked;
		st->filters_on_masked |= in.filters_on_masked;
		if (in.writes_masked && !st->writes_masked)
		{
			st->writes_masked = true;
			st->write_target = psprintf("%s (in SQL run by %s)", in.write_target, t->nested[i].runner);
		}
	}
}

/* Everything about one statement (nested SQL strings included). */
static void
judge_statement(tracer *t, const RawStmt *raw, pgw_statement_lineage *st)
{
	const Node *stmt = raw->stmt;
	uintptr_t here = PGW_STACK_HERE();

	memset(st, 0, sizeof(*st));
	/* Nested SQL strings recurse: each level costs C stack. */
	if (here < t->stack_base && t->stack_base - here > PGW_LINEAGE_STACK_BUDGET)
	{
		t->too_deep = true;
		return;
	}
	t->only_plain_tables = true;
	collect(t, stmt);
	if (t->subqueries.len > 0)
		t->only_plain_tables = false;
	if (!t->too_deep && !settle(t))
		t->too_deep = true; /* did not settle: refuse rather than guess */
	describe_rows(t, stmt, st);
	st->touches_masked = taint_of(t, stmt) != PGW_TAINT_CLEAN || t->writes_masked_table ||
		(st->source == PGW_ROWS_COPY_TABLE && relation_masked(t, st->copy_schema, st->copy_table));
	st->filters_on_masked = filters_on_masked(t);
	st->write_target = write_of_masked(t);
	st->writes_masked = st->write_target != NULL;
	judge_nested(t, st);
}

static int
trace_all(const List *tree, const pgw_lineage_oracle *oracle, size_t max_nodes, pgw_lineage_fn fn, void *ctx)
{
	const ListCell *lc;

	foreach(lc, tree)
	{
		tracer t;
		pgw_statement_lineage st;

		memset(&t, 0, sizeof(t));
		t.stack_base = PGW_STACK_HERE();
		t.oracle = oracle;
		t.max_nodes = max_nodes;
		judge_statement(&t, lfirst(lc), &st);
		if (t.too_deep)
			return PGW_RAW_TOO_COMPLEX;
		fn(ctx, &st);
	}
	return PGW_RAW_OK;
}

int
pgw_raw_lineage_parsed(const pgw_parsed *parsed, size_t max_nodes, const pgw_lineage_oracle *oracle,
					   pgw_lineage_fn fn, void *ctx, pgw_raw_error *error)
{
	pgw_parsed_use use;
	MemoryContext here;
	volatile int status = PGW_RAW_INTERNAL_ERROR;

	error->message[0] = '\0';
	error->cursor_pos = 0;
	pgw_parsed_enter(parsed, &use);
	here = CurrentMemoryContext;
	PG_TRY();
	{
		status = trace_all(pgw_parsed_tree(parsed), oracle, max_nodes, fn, ctx);
	}
	PG_CATCH();
	{
		pgw_take_error(here, error);
	}
	PG_END_TRY();
	if (status == PGW_RAW_TOO_COMPLEX)
		snprintf(error->message, sizeof(error->message),
				 "statement too complex to trace for masking (sub-selects or SQL in strings nested too deep, or more "
				 "than %zu nodes visited)",
				 max_nodes);
	pgw_parsed_leave(&use);
	return status;
}
