/* sql.c - quoting for SQL text built by dblog (identifiers and literals);
 * values themselves are always bound as parameters. */
#include <string.h>

#include "dblog.h"

void
dblog_sql_ident(struct dblog_buf *b, const char *s)
{
	dblog_buf_addc(b, '"');
	for (; *s; s++) {
		if (*s == '"')
			dblog_buf_addc(b, '"');
		dblog_buf_addc(b, *s);
	}
	dblog_buf_addc(b, '"');
}

void
dblog_sql_string(struct dblog_buf *b, const char *s, size_t n)
{
	dblog_buf_addc(b, '\'');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\'')
			dblog_buf_addc(b, '\'');
		dblog_buf_addc(b, s[i]);
	}
	dblog_buf_addc(b, '\'');
}

void
dblog_sql_literal_e(struct dblog_buf *b, const char *s)
{
	/* PostgreSQL: E'' when the text holds backslashes */
	int esc = strchr(s, '\\') != NULL;
	dblog_buf_adds(b, esc ? "E'" : "'");
	for (; *s; s++) {
		if (*s == '\'' || (esc && *s == '\\'))
			dblog_buf_addc(b, *s);
		dblog_buf_addc(b, *s);
	}
	dblog_buf_addc(b, '\'');
}
