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

/* Append s[0..n) as a double-quoted element of an array literal. */
static void
array_elem(struct dblog_buf *out, const char *s, size_t n)
{
	dblog_buf_addc(out, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			dblog_buf_addc(out, '\\');
		dblog_buf_addc(out, s[i]);
	}
	dblog_buf_addc(out, '"');
}

/* Does the JSON array v hold only strings, nulls and such arrays? Inside
 * a json[] value that is a dimension of the array (its json values are
 * strings); anything else is a JSON value embedded (events written before
 * json values were strings). */
static int
json_dimension(struct dblog_span v)
{
	struct dblog_span e;
	const char *it = NULL;
	while (dblog_json_next_elem(v, &it, &e)) {
		enum dblog_jtype t = dblog_json_type(e);
		if (t != DBLOG_J_STRING && t != DBLOG_J_NULL && !(t == DBLOG_J_ARRAY && json_dimension(e)))
			return 0;
	}
	return 1;
}

void
dblog_sql_pg_array(struct dblog_buf *out, struct dblog_span v, int json_elems, struct dblog_buf *tmp)
{
	struct dblog_span e;
	const char *it = NULL;
	int first = 1;
	dblog_buf_addc(out, '{');
	while (dblog_json_next_elem(v, &it, &e)) {
		if (!first)
			dblog_buf_addc(out, ',');
		first = 0;
		enum dblog_jtype t = dblog_json_type(e);
		if (t == DBLOG_J_NULL) {
			dblog_buf_adds(out, "NULL");
		} else if (t == DBLOG_J_ARRAY && (!json_elems || json_dimension(e))) {
			dblog_sql_pg_array(out, e, json_elems, tmp);
		} else if (t == DBLOG_J_STRING) {   /* json[]: the element's JSON text */
			dblog_json_unescape(e, tmp);
			array_elem(out, tmp->p, tmp->len);
		} else {
			array_elem(out, e.p, e.n);   /* numbers, booleans, JSON texts */
		}
	}
	dblog_buf_addc(out, '}');
}
