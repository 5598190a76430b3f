/*
 * Facts about session settings: SET, RESET, SET TRANSACTION, DISCARD ALL and
 * set_config(). The policy layer tracks search_path, role and the settings
 * that change how SQL parses from these.
 */
#include "raw_walk.h"

#include <stdio.h>
#include <string.h>

#define CLS(c) PGW_CLASS_BIT(c)

static bool
is_role_setting(const char *name)
{
	return name && (strcmp(name, "role") == 0 || strcmp(name, "session_authorization") == 0);
}

/*
 * may_not_run: the statement can succeed without making the change. A SET
 * in a DO body may sit in an IF branch not taken; a set_config() the walker
 * did not see called exactly when its statement runs (PGW_MODE_SURELY_RUN)
 * may not be called at all (WHERE false, CASE, LIMIT 0).
 */
static void
emit_setting(pgw_walker *w, const pgw_walk_item *item, const char *name, int action, bool is_local,
			 bool via_function, bool value_known, const char *const *values, size_t n_values)
{
	bool		may_not_run = item->do_depth > 0 || (via_function && !(item->mode & PGW_MODE_SURELY_RUN));
	pgw_raw_setting setting = {name, action, is_local, via_function, may_not_run, value_known, values, n_values};

	w->sink->setting(w->sink->ctx, &setting);
}

/* SET TRANSACTION / SET SESSION CHARACTERISTICS AS TRANSACTION: one setting per option. */
static void
emit_transaction_settings(pgw_walker *w, const pgw_walk_item *item, const VariableSetStmt *stmt, bool session)
{
	ListCell *lc;

	foreach(lc, stmt->args)
	{
		const DefElem *opt = lfirst(lc);
		const char *value;
		char *name;

		if (!IsA(opt, DefElem))
			continue;
		value = pgw_literal_text(opt->arg);
		name = palloc(strlen(opt->defname) + sizeof("default_"));
		snprintf(name, strlen(opt->defname) + sizeof("default_"), "%s%s",
				 session ? "default_" : "", opt->defname);
		emit_setting(w, item, name, PGW_SETTING_SET, false, false, value != NULL, &value,
					 value ? 1 : 0);
	}
}

/*
 * SET/RESET. Only a statement of its own changes this session: the SET
 * inside ALTER ROLE ... SET or ALTER SYSTEM configures an object, and its
 * parent statement carries the class.
 */
void
pgw_visit_variable_set(pgw_walker *w, const pgw_walk_item *item, const VariableSetStmt *stmt)
{
	char *name = stmt->name ? pgw_ascii_lower_copy(stmt->name) : NULL;
	const char **values;
	size_t n = 0;
	bool known = true;
	ListCell *lc;

	if (!(item->mode & PGW_MODE_TOP) || (item->mode & PGW_MODE_NOT_EXECUTED))
		return;
	switch (stmt->kind)
	{
		case VAR_SET_VALUE:
			values = palloc(sizeof(char *) * (list_length(stmt->args) + 1));
			foreach(lc, stmt->args)
			{
				const char *text = pgw_literal_text(lfirst(lc));

				if (text)
					values[n++] = text;
				else
					known = false;
			}
			emit_setting(w, item, name, PGW_SETTING_SET, stmt->is_local, false, known, values, n);
			break;
		case VAR_SET_DEFAULT:
		case VAR_RESET:
			emit_setting(w, item, name, PGW_SETTING_RESET, stmt->is_local, false, true, NULL, 0);
			break;
		case VAR_SET_CURRENT:
			emit_setting(w, item, name, PGW_SETTING_FROM_CURRENT, stmt->is_local, false, false, NULL,
						 0);
			break;
		case VAR_RESET_ALL:
			emit_setting(w, item, NULL, PGW_SETTING_RESET_ALL, false, false, true, NULL, 0);
			break;
		case VAR_SET_MULTI:
			pgw_walker_classes(w, CLS(TRANSACTION));
			if (name && strcmp(name, "transaction") == 0)
				emit_transaction_settings(w, item, stmt, false);
			else if (name && strcmp(name, "session characteristics") == 0)
			{
				pgw_walker_classes(w, CLS(SET));
				emit_transaction_settings(w, item, stmt, true);
			}
			return;
	}
	pgw_walker_classes(w, is_role_setting(name) ? CLS(ROLE) : CLS(SET));
}

/* DISCARD ALL = SET SESSION AUTHORIZATION DEFAULT + RESET ALL + DEALLOCATE ALL + CLOSE ALL + UNLISTEN * + ... */
void
pgw_visit_discard(pgw_walker *w, const pgw_walk_item *item, const DiscardStmt *stmt)
{
	if (item->mode & PGW_MODE_NOT_EXECUTED)
		return;
	pgw_walker_classes(w, CLS(SET));
	if (stmt->target != DISCARD_ALL)
		return;
	pgw_walker_classes(w, CLS(ROLE) | CLS(DEALLOCATE) | CLS(LISTEN));
	emit_setting(w, item, "session_authorization", PGW_SETTING_RESET, false, false, true, NULL, 0);
	emit_setting(w, item, "role", PGW_SETTING_RESET, false, false, true, NULL, 0);
	emit_setting(w, item, NULL, PGW_SETTING_RESET_ALL, false, false, true, NULL, 0);
	w->sink->name(w->sink->ctx, PGW_NAME_DEALLOCATE, NULL);
	w->sink->name(w->sink->ctx, PGW_NAME_CLOSE, NULL);
	w->sink->name(w->sink->ctx, PGW_NAME_UNLISTEN, NULL);
}

/* set_config(name, value, is_local): a SET by function call. */
void
pgw_report_set_config(pgw_walker *w, const pgw_walk_item *item, const FuncCall *call)
{
	const char *name = NULL;
	const char *value = NULL;
	int action = PGW_SETTING_SET;
	bool known = false;
	int is_local = 0;

	if (list_length(call->args) == 3)
	{
		name = pgw_literal_text(linitial(call->args));
		value = pgw_literal_text(lsecond(call->args));
		/* A NULL value resets the setting; an unknown is_local is taken as
		 * session-wide, the effect that lasts longer. */
		if (pgw_is_null_literal(lsecond(call->args)))
			action = PGW_SETTING_RESET;
		known = value != NULL || action == PGW_SETTING_RESET;
		is_local = pgw_literal_bool(lthird(call->args)) == 1;
	}
	if (name == NULL)
	{
		/*
		 * Could be 'role': the engine asks the server what the role and the
		 * search_path are right after it runs (policy/settings_confirmation.h).
		 */
		pgw_walker_flags(w, PGW_FLAG_UNKNOWN_SETTING);
		pgw_walker_classes(w, CLS(SET));
		emit_setting(w, item, NULL, action, is_local, true, false, NULL, 0);
		return;
	}
	name = pgw_ascii_lower_copy(name);
	pgw_walker_classes(w, is_role_setting(name) ? CLS(ROLE) : CLS(SET));
	emit_setting(w, item, name, action, is_local, true, known, &value, value ? 1 : 0);
}
