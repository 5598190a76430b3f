/*
 * COPY's options read exactly as PostgreSQL 15 reads them: ProcessCopyOptions()
 * of src/backend/commands/copy.c, with defGetString() and defGetBoolean() of
 * commands/define.c and defGetCopyHeaderChoice() of copy.c.
 *
 * The masker splits the rows the server sends with these options: a header
 * it expects but the server does not send lets the first row through
 * unmasked, a delimiter it does not know splits values wrongly. So every
 * spelling the server accepts must mean here what it means there
 * (HEADER 'OFF', HEADER (false), HEADER 0, DELIMITER 1, FORMAT (csv), ...),
 * and options the server would refuse are reported as such rather than
 * guessed at.
 */
#include "raw_copy_options.h"

#include <stdio.h>
#include <string.h>

#include "lib/stringinfo.h"
#include "raw_walk.h"

/* NameListToString() of namespace.c: the items joined with '.', as written. */
static const char *
name_list_string(const List *names)
{
	StringInfoData out;
	const ListCell *lc;

	initStringInfo(&out);
	foreach(lc, names)
	{
		const Node *item = lfirst(lc);

		if (lc != list_head(names))
			appendStringInfoChar(&out, '.');
		if (IsA(item, String))
			appendStringInfoString(&out, strVal(item));
		else if (IsA(item, A_Star))
			appendStringInfoChar(&out, '*');
		else
			return NULL; /* "unexpected node type in name list" */
	}
	return out.data;
}

/* defGetString(): the option's argument as text; NULL where the server
 * raises an error (no argument, a node it does not read). */
static const char *
def_string(const DefElem *def)
{
	if (def->arg == NULL)
		return NULL;
	switch (nodeTag(def->arg))
	{
		case T_Integer:
			return psprintf("%ld", (long) intVal(def->arg));
		case T_Float:
			return ((const Float *) def->arg)->fval;
		case T_Boolean:
			return boolVal(def->arg) ? "true" : "false";
		case T_String:
			return strVal(def->arg);
		case T_List:
			return name_list_string((const List *) def->arg);
		case T_A_Star:
			return "*";
		default:
			return NULL;
	}
}

/* defGetBoolean() (and defGetCopyHeaderChoice() without "match"): 1, 0,
 * or -1 where the server raises an error. */
static int
def_boolean(const DefElem *def)
{
	const char *s;

	if (def->arg == NULL)
		return 1;
	if (IsA(def->arg, Integer))
	{
		switch (intVal(def->arg))
		{
			case 0:
				return 0;
			case 1:
				return 1;
			default:
				return -1;
		}
	}
	s = def_string(def);
	if (s == NULL)
		return -1;
	if (pgw_ascii_casecmp(s, "true") == 0 || pgw_ascii_casecmp(s, "on") == 0)
		return 1;
	if (pgw_ascii_casecmp(s, "false") == 0 || pgw_ascii_casecmp(s, "off") == 0)
		return 0;
	return -1;
}

#define REFUSE(why)          \
	do                       \
	{                        \
		out->error = (why);  \
		return;              \
	} while (0)

void
pgw_read_copy_options(const List *options, bool is_from, pgw_copy_format *out)
{
	bool format_specified = false, freeze_specified = false, header_specified = false;
	bool force_quote = false, force_notnull = false, force_null = false, convert_selectively = false;
	const char *delim = NULL, *null_print = NULL, *quote = NULL, *escape = NULL;
	const ListCell *lc;

	memset(out, 0, sizeof(*out));
	foreach(lc, options)
	{
		const DefElem *def = lfirst(lc);
		const char *name = def->defname;

		if (!IsA(def, DefElem))
			REFUSE("an option pgwarden cannot read");
		if (strcmp(name, "format") == 0)
		{
			const char *fmt = def_string(def);

			if (fmt == NULL)
				REFUSE("FORMAT without a value");
			if (format_specified)
				REFUSE("FORMAT given twice");
			format_specified = true;
			/* Compared as written: FORMAT 'CSV' is refused by the server. */
			if (strcmp(fmt, "text") == 0)
				;
			else if (strcmp(fmt, "csv") == 0)
				out->csv = true;
			else if (strcmp(fmt, "binary") == 0)
				out->binary = true;
			else
				REFUSE("an unknown FORMAT");
		}
		else if (strcmp(name, "freeze") == 0)
		{
			if (freeze_specified)
				REFUSE("FREEZE given twice");
			freeze_specified = true;
			if (def_boolean(def) < 0)
				REFUSE("FREEZE needs a Boolean value");
		}
		else if (strcmp(name, "delimiter") == 0)
		{
			if (delim != NULL)
				REFUSE("DELIMITER given twice");
			if ((delim = def_string(def)) == NULL)
				REFUSE("DELIMITER without a value");
		}
		else if (strcmp(name, "null") == 0)
		{
			if (null_print != NULL)
				REFUSE("NULL given twice");
			if ((null_print = def_string(def)) == NULL)
				REFUSE("NULL without a value");
		}
		else if (strcmp(name, "header") == 0)
		{
			int header;

			if (header_specified)
				REFUSE("HEADER given twice");
			header_specified = true;
			header = def_boolean(def);
			if (header < 0)
			{
				const char *s = def->arg != NULL && !IsA(def->arg, Integer) ? def_string(def) : NULL;

				/* defGetCopyHeaderChoice(): "match" is for COPY FROM only. */
				if (s == NULL || pgw_ascii_casecmp(s, "match") != 0 || !is_from)
					REFUSE("HEADER needs a Boolean value (or MATCH for COPY FROM)");
				header = 1;
			}
			out->header = header == 1;
		}
		else if (strcmp(name, "quote") == 0)
		{
			if (quote != NULL)
				REFUSE("QUOTE given twice");
			if ((quote = def_string(def)) == NULL)
				REFUSE("QUOTE without a value");
		}
		else if (strcmp(name, "escape") == 0)
		{
			if (escape != NULL)
				REFUSE("ESCAPE given twice");
			if ((escape = def_string(def)) == NULL)
				REFUSE("ESCAPE without a value");
		}
		else if (strcmp(name, "force_quote") == 0)
		{
			if (force_quote)
				REFUSE("FORCE_QUOTE given twice");
			if (def->arg == NULL || !(IsA(def->arg, A_Star) || IsA(def->arg, List)))
				REFUSE("FORCE_QUOTE needs a list of columns");
			force_quote = true;
		}
		else if (strcmp(name, "force_not_null") == 0 || strcmp(name, "force_null") == 0)
		{
			bool *given = strcmp(name, "force_null") == 0 ? &force_null : &force_notnull;

			if (*given)
				REFUSE("FORCE_NOT_NULL or FORCE_NULL given twice");
			if (def->arg == NULL || !IsA(def->arg, List))
				REFUSE("FORCE_NOT_NULL and FORCE_NULL need a list of columns");
			*given = true;
		}
		else if (strcmp(name, "convert_selectively") == 0)
		{
			if (convert_selectively)
				REFUSE("CONVERT_SELECTIVELY given twice");
			if (def->arg != NULL && !IsA(def->arg, List))
				REFUSE("CONVERT_SELECTIVELY needs a list of columns");
			convert_selectively = true;
		}
		else if (strcmp(name, "encoding") == 0)
		{
			if (out->encoding != NULL)
				REFUSE("ENCODING given twice");
			if ((out->encoding = def_string(def)) == NULL)
				REFUSE("ENCODING without a value");
		}
		else
			REFUSE("an unknown option");
	}

	if (out->binary && delim != NULL)
		REFUSE("DELIMITER in BINARY mode");
	if (out->binary && null_print != NULL)
		REFUSE("NULL in BINARY mode");
	if (delim == NULL)
		delim = out->csv ? "," : "\t";
	if (null_print == NULL)
		null_print = out->csv ? "" : "\\N";
	if (out->csv)
	{
		if (quote == NULL)
			quote = "\"";
		if (escape == NULL)
			escape = quote;
	}
	if (strlen(delim) != 1)
		REFUSE("a DELIMITER that is not one single-byte character");
	if (strchr(delim, '\r') != NULL || strchr(delim, '\n') != NULL)
		REFUSE("a newline DELIMITER");
	if (strchr(null_print, '\r') != NULL || strchr(null_print, '\n') != NULL)
		REFUSE("a newline in NULL");
	if (!out->csv && strchr("\\.abcdefghijklmnopqrstuvwxyz0123456789", delim[0]) != NULL)
		REFUSE("a DELIMITER the text format does not allow");
	if (out->binary && out->header)
		REFUSE("HEADER in BINARY mode");
	if (!out->csv && quote != NULL)
		REFUSE("QUOTE outside CSV mode");
	if (out->csv && strlen(quote) != 1)
		REFUSE("a QUOTE that is not one single-byte character");
	if (out->csv && delim[0] == quote[0])
		REFUSE("the same DELIMITER and QUOTE");
	if (!out->csv && escape != NULL)
		REFUSE("ESCAPE outside CSV mode");
	if (out->csv && strlen(escape) != 1)
		REFUSE("an ESCAPE that is not one single-byte character");
	if (force_quote && (!out->csv || is_from))
		REFUSE("FORCE_QUOTE outside CSV COPY TO");
	if (force_notnull && (!out->csv || !is_from))
		REFUSE("FORCE_NOT_NULL outside CSV COPY FROM");
	if (force_null && (!out->csv || !is_from))
		REFUSE("FORCE_NULL outside CSV COPY FROM");
	if (strchr(null_print, delim[0]) != NULL)
		REFUSE("the DELIMITER inside NULL");
	if (out->csv && strchr(null_print, quote[0]) != NULL)
		REFUSE("the QUOTE inside NULL");

	out->delimiter = delim[0];
	out->quote = out->csv ? quote[0] : 0;
	out->escape = out->csv ? escape[0] : 0;
	out->null_print = null_print;
	out->force_quote = force_quote;
}
