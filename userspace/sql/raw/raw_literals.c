/*
 * Small readers of parse tree literals, and ASCII case helpers that do not
 * depend on the process locale (PostgreSQL folds identifiers in ASCII).
 */
#include "raw_walk.h"

#include <stdio.h>

int
pgw_ascii_casecmp(const char *a, const char *b)
{
	for (;; a++, b++)
	{
		unsigned char ca = (unsigned char) *a, cb = (unsigned char) *b;

		if (ca >= 'A' && ca <= 'Z')
			ca += 'a' - 'A';
		if (cb >= 'A' && cb <= 'Z')
			cb += 'a' - 'A';
		if (ca != cb || ca == 0)
			return ca - cb;
	}
}

/* GUC names are case-insensitive: report them lower-cased. */
char *
pgw_ascii_lower_copy(const char *s)
{
	size_t n = strlen(s);
	char *out = palloc(n + 1);

	for (size_t i = 0; i <= n; i++)
		out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? s[i] + ('a' - 'A') : s[i];
	return out;
}

/* The text of a value node (String, Integer, ...), as in DefElem arguments. */
static const char *
value_text(const Node *value)
{
	char *buf;

	switch (nodeTag(value))
	{
		case T_String:
			return strVal(value);
		case T_Float:
			return ((const Float *) value)->fval;
		case T_BitString:
			return ((const BitString *) value)->bsval;
		case T_Boolean:
			return ((const Boolean *) value)->boolval ? "true" : "false";
		case T_Integer:
			buf = palloc(16);
			snprintf(buf, 16, "%d", intVal(value));
			return buf;
		default:
			return NULL;
	}
}

/* The text of a literal: 'x', 'x'::type, 42, 4.2, true. NULL otherwise. */
const char *
pgw_literal_text(const Node *node)
{
	if (node && IsA(node, TypeCast))
		node = ((const TypeCast *) node)->arg;
	if (node == NULL)
		return NULL;
	if (IsA(node, A_Const))
		return ((const A_Const *) node)->isnull ? NULL : value_text(&((const A_Const *) node)->val.node);
	return value_text(node);
}

bool
pgw_is_null_literal(const Node *node)
{
	if (node && IsA(node, TypeCast))
		node = ((const TypeCast *) node)->arg;
	return node && IsA(node, A_Const) && ((const A_Const *) node)->isnull;
}

/* PostgreSQL's parse_bool() spellings; anything unrecognized is "unknown". */
int
pgw_literal_bool(const Node *node)
{
	static const char *const truths[] = {"t", "true", "y", "yes", "on", "1"};
	static const char *const lies[] = {"f", "false", "n", "no", "off", "0"};
	const char *text = pgw_literal_text(node);

	if (!text)
		return -1;
	for (size_t i = 0; i < lengthof(truths); i++)
		if (pgw_ascii_casecmp(text, truths[i]) == 0)
			return 1;
	for (size_t i = 0; i < lengthof(lies); i++)
		if (pgw_ascii_casecmp(text, lies[i]) == 0)
			return 0;
	return -1;
}
