/*
 * PostgreSQL's server headers, as the C side of pgw_sql sees them.
 *
 * libpg_query compiles PostgreSQL's parser with its backend globals made
 * thread-local (__thread), so that every thread parses with its own memory
 * contexts and error state. Debian's server headers declare the same globals
 * as ordinary externs. Code that touched CurrentMemoryContext or
 * PG_exception_stack through those declarations would read the wrong storage
 * and corrupt the parser's error handling. So the header declarations of the
 * globals used here are renamed out of the way, and the globals are then
 * declared the way libpg_query defines them. Any header inline that still
 * refers to a renamed declaration fails at link time rather than at run time.
 *
 * Include this only from C translation units: PostgreSQL's headers are C.
 */
#ifndef PGW_SQL_PG_BACKEND_H
#define PGW_SQL_PG_BACKEND_H

#define CurrentMemoryContext pgw_hdr_CurrentMemoryContext
#define PG_exception_stack pgw_hdr_PG_exception_stack
#define error_context_stack pgw_hdr_error_context_stack
#define standard_conforming_strings pgw_hdr_standard_conforming_strings
#define escape_string_warning pgw_hdr_escape_string_warning

#include "postgres.h"
#include "nodes/nodes.h"
#include "nodes/parsenodes.h"
#include "nodes/pg_list.h"
#include "nodes/value.h"
#include "parser/parser.h"
#include "storage/lockdefs.h"
#include "utils/elog.h"
#include "utils/memutils.h"
#ifdef PGW_WITH_PLPGSQL
#include "plpgsql.h"
#endif

#undef CurrentMemoryContext
#undef PG_exception_stack
#undef error_context_stack
#undef standard_conforming_strings
#undef escape_string_warning

extern __thread MemoryContext CurrentMemoryContext;
extern __thread sigjmp_buf *PG_exception_stack;
extern __thread ErrorContextCallback *error_context_stack;
extern __thread bool standard_conforming_strings;
extern __thread bool escape_string_warning;

#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 160000
#error "pgw_sql walks PostgreSQL 15 parse trees: build against postgresql-server-dev-15 (libpg_query 15)"
#endif

/* From libpg_query (pg_query.h and pg_query_internal.h, which cannot be
 * included next to pg_config.h). pg_query_init() sets up the calling
 * thread's memory and error state once. */
void pg_query_init(void);
MemoryContext pg_query_enter_memory_context(void);
void pg_query_exit_memory_context(MemoryContext ctx);

/* palloc.h's MemoryContextSwitchTo() refers to the renamed declaration. */
static inline MemoryContext pgw_switch_context(MemoryContext context)
{
	MemoryContext old = CurrentMemoryContext;

	CurrentMemoryContext = context;
	return old;
}

#endif
