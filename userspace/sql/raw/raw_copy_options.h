/*
 * COPY options as PostgreSQL 15 reads them (raw_copy_options.c).
 */
#ifndef PGW_SQL_RAW_COPY_OPTIONS_H
#define PGW_SQL_RAW_COPY_OPTIONS_H

#include "pg_backend.h"

typedef struct pgw_copy_format
{
	bool binary;
	bool csv;
	bool header;			/* a header line comes first (text and CSV; COPY FROM: also MATCH) */
	char delimiter;			/* resolved: the format's default when not given */
	char quote, escape;		/* CSV only; 0 in text */
	const char *null_print; /* resolved */
	const char *encoding;	/* ENCODING as written; NULL when not given */
	bool force_quote;		/* FORCE_QUOTE: some (or all, *) columns always quoted */
	const char *error;		/* why the server would refuse these options; NULL when it accepts them */
} pgw_copy_format;

void pgw_read_copy_options(const List *options, bool is_from, pgw_copy_format *out);

#endif
