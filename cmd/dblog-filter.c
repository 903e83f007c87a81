/* dblog-filter - select, project, mask and rename dblog events. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dblog.h"

static const char usage_text[] =
	"Usage: dblog-filter [options] [EXPR]\n"
	"Read dblog events on stdin, write the ones that pass to stdout.\n"
	"\n"
	"Selection (of change events; control events pass):\n"
	"  -t, --table GLOB           keep tables matching GLOB (repeatable)\n"
	"  -T, --exclude-table GLOB   drop tables matching GLOB (repeatable); names as\n"
	"                             events write them, quoted when they hold a dot\n"
	"                             or a double quote: -t '\"a.b\".c'\n"
	"  -o, --op LIST              keep these ops (insert,update,delete,truncate,snapshot)\n"
	"  -w, --where EXPR           keep events for which EXPR is true (also the EXPR argument)\n"
	"  -v, --invert               keep the events the selection would drop\n"
	"\n"
	"Projection and privacy:\n"
	"  -c, --columns LIST         keep only these columns (key columns always kept)\n"
	"  -x, --exclude-columns LIST drop these columns (key columns always kept)\n"
	"      --mask LIST            replace these columns' values with a keyed hash\n"
	"      --mask-key KEY         the hash key (default: $DBLOG_MASK_KEY)\n"
	"      --mask-key-file FILE   read the hash key from FILE\n"
	"      --rename-table FROM=TO rename tables; FROM may be a glob, a '*' in TO\n"
	"                             takes what the '*' in FROM matched (repeatable)\n"
	"\n"
	"Common:\n"
	"      --dlq FILE             append bad input lines to FILE and go on\n"
	"  -u, --unbuffered           flush after every event\n"
	"  -h, --help                 show this help and exit\n"
	"  -V, --version              show the version and exit\n"
	"\n"
	"EXPR: comparisons (= != < <= > >=), AND, OR, NOT, parentheses, IN (...),\n"
	"IS [NOT] NULL, [NOT] LIKE, ILIKE over op, table, tx, pos, seq, commit_time,\n"
	"id, source.name, source.driver, key.COL, before.COL, after.COL and COL.\n"
	"\n"
	"Exit status: 0 ok, 1 bad input or write error, 2 usage.\n"
	"See dblog-filter(1) and dblog-event(5).\n";

enum { OPT_MASK = 256, OPT_MASK_KEY, OPT_MASK_KEY_FILE, OPT_RENAME, OPT_DLQ };

static const struct option longopts[] = {
	/* selection */
	{ "table", required_argument, NULL, 't' },
	{ "exclude-table", required_argument, NULL, 'T' },
	{ "op", required_argument, NULL, 'o' },
	{ "where", required_argument, NULL, 'w' },
	{ "invert", no_argument, NULL, 'v' },
	/* projection and privacy */
	{ "columns", required_argument, NULL, 'c' },
	{ "exclude-columns", required_argument, NULL, 'x' },
	{ "mask", required_argument, NULL, OPT_MASK },
	{ "mask-key", required_argument, NULL, OPT_MASK_KEY },
	{ "mask-key-file", required_argument, NULL, OPT_MASK_KEY_FILE },
	{ "rename-table", required_argument, NULL, OPT_RENAME },
	/* common */
	{ "dlq", required_argument, NULL, OPT_DLQ },
	{ "unbuffered", no_argument, NULL, 'u' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

struct rename {
	char *from, *to;
};

struct filter {
	struct dblog_list tables, xtables, cols, xcols, mask;
	unsigned ops;               /* bit per enum dblog_op; 0: all */
	struct dblog_expr *where;
	int invert, unbuffered, select;
	struct rename *renames;
	size_t nrenames;
	char *mask_key;
	size_t mask_keylen;
	const char *dlq_path;
	struct dblog_dlq dlq;
	/* per-transaction state */
	int in_tx, begin_out;
	struct dblog_buf begin;     /* held begin line */
	int64_t passed;             /* changes passed in this transaction */
	uint64_t lineno;            /* of the event at hand */
	/* scratch */
	struct dblog_buf out, tmp, name, name2, scratch, keys;
};

/* ------------------------------------------------------------ options */

static void
parse_ops(struct filter *fl, const char *s)
{
	struct dblog_list l = { 0 };
	dblog_list_split(&l, s);
	for (size_t i = 0; i < l.n; i++) {
		enum dblog_op op = dblog_op_parse(l.v[i], strlen(l.v[i]));
		if (op == DBLOG_OP_UNKNOWN)
			dblog_usage_error("--op: unknown op '%s' (use insert, update, delete, "
					  "truncate, snapshot)", l.v[i]);
		if (!DBLOG_OP_IS_CHANGE(op))
			dblog_usage_error("--op: '%s' is a control op; control events always pass",
					  l.v[i]);
		fl->ops |= 1u << op;
	}
	dblog_list_free(&l);
}

static void
add_rename(struct filter *fl, const char *s)
{
	fl->renames = dblog_xrealloc(fl->renames, (fl->nrenames + 1) * sizeof *fl->renames);
	struct rename *r = &fl->renames[fl->nrenames];
	if (dblog_split_pair(s, &r->from, &r->to))
		dblog_usage_error("--rename-table: expected FROM=TO, got '%s'", s);
	fl->nrenames++;
	struct dblog_buf a = { 0 }, b = { 0 };
	int has;
	if (dblog_table_split(r->to, strlen(r->to), &a, &b, &has))
		dblog_usage_error("--rename-table: '%s' is not a table name (a part holding a dot "
				  "or a double quote goes in double quotes, as in events: "
				  "'\"a.b\".c')", r->to);
	dblog_buf_free(&a);
	dblog_buf_free(&b);
}

static void
set_where(struct filter *fl, const char *src)
{
	char err[256];
	size_t col = 0;
	if (fl->where)
		dblog_usage_error("give the expression once (-w or the EXPR argument)");
	fl->where = dblog_expr_compile(src, err, sizeof err, &col);
	if (!fl->where)
		dblog_usage_error("expression: column %zu: %s: %s", col, err, src);
}

static void
read_key_file(struct filter *fl, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		dblog_die(DBLOG_EXIT_USAGE, "cannot open mask key file \"%s\": %m", path);
	struct dblog_buf b = { 0 };
	char chunk[512];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		dblog_buf_add(&b, chunk, n);
	fclose(f);
	while (b.len && (b.p[b.len - 1] == '\n' || b.p[b.len - 1] == '\r'))
		b.p[--b.len] = 0;
	free(fl->mask_key);
	fl->mask_key = b.p ? b.p : dblog_xstrdup("");
	fl->mask_keylen = b.len;
}

static void
parse_options(struct filter *fl, int argc, char **argv)
{
	int c;
	while ((c = getopt_long(argc, argv, "t:T:o:w:vc:x:uhV", longopts, NULL)) != -1) {
		switch (c) {
		case 't': dblog_table_list_split(&fl->tables, optarg); break;
		case 'T': dblog_table_list_split(&fl->xtables, optarg); break;
		case 'o': parse_ops(fl, optarg); break;
		case 'w': set_where(fl, optarg); break;
		case 'v': fl->invert = 1; break;
		case 'c': dblog_list_split(&fl->cols, optarg); break;
		case 'x': dblog_list_split(&fl->xcols, optarg); break;
		case OPT_MASK: dblog_list_split(&fl->mask, optarg); break;
		case OPT_MASK_KEY:
			free(fl->mask_key);
			fl->mask_key = dblog_xstrdup(optarg);
			fl->mask_keylen = strlen(optarg);
			break;
		case OPT_MASK_KEY_FILE: read_key_file(fl, optarg); break;
		case OPT_RENAME: add_rename(fl, optarg); break;
		case OPT_DLQ: fl->dlq_path = optarg; break;
		case 'u': fl->unbuffered = 1; break;
		case 'h': fputs(usage_text, stdout); exit(dblog_stdout_close());
		case 'V': dblog_version();
		default:
			fprintf(stderr, "Try 'dblog-filter --help'.\n");
			exit(DBLOG_EXIT_USAGE);
		}
	}
	if (optind < argc)
		set_where(fl, argv[optind++]);
	if (optind < argc)
		dblog_usage_error("unexpected argument '%s' (quote the expression as one argument)",
				  argv[optind]);
	if (fl->mask.n && !fl->mask_key) {
		const char *k = getenv("DBLOG_MASK_KEY");
		if (!k || !*k)
			dblog_usage_error("--mask needs a key: --mask-key, --mask-key-file or "
					  "DBLOG_MASK_KEY");
		fl->mask_key = dblog_xstrdup(k);
		fl->mask_keylen = strlen(k);
	}
	if (fl->mask.n && !fl->mask_keylen)
		dblog_usage_error("the mask key is empty: masked values could be guessed back");
	fl->select = fl->tables.n || fl->xtables.n || fl->ops || fl->where || fl->invert;
}

/* ---------------------------------------------------------- selection */

/* Does a glob of l match all of name[0..n) (a NUL in it included)? */
static int
glob_any(const struct dblog_list *l, const char *name, size_t n)
{
	for (size_t i = 0; i < l->n; i++)
		if (dblog_glob(l->v[i], name, n))
			return 1;
	return 0;
}

/* The decoded table name in fl->name (it may hold NUL characters). */
static void
table_name(struct filter *fl, const struct dblog_fields *f)
{
	dblog_json_unescape(f->table, &fl->name);
	dblog_buf_add(&fl->name, "", 0);
}

static int
table_ok(struct filter *fl, const struct dblog_fields *f)
{
	if (!fl->tables.n && !fl->xtables.n)
		return 1;
	table_name(fl, f);
	if (fl->tables.n && !glob_any(&fl->tables, fl->name.p, fl->name.len))
		return 0;
	return !glob_any(&fl->xtables, fl->name.p, fl->name.len);
}

static int
change_passes(struct filter *fl, const struct dblog_fields *f)
{
	int ok = table_ok(fl, f) && (!fl->ops || (fl->ops & (1u << f->op))) &&
		 (!fl->where || dblog_expr_eval(fl->where, f));
	return ok != fl->invert;
}

/* ------------------------------------------------------- rewriting */

/* What the single '*' of pattern matched in t[0..n): pattern = P*S, and
 * t splits into a part P matches, the star's part, and a part S matches
 * (the first split from the left). Sets *off and *len; 0, or -1 if there
 * is none. */
static int
star_part(const char *pattern, const char *t, size_t n, size_t *off, size_t *len)
{
	const char *star = strchr(pattern, '*');
	char *pre = dblog_xstrndup(pattern, (size_t)(star - pattern));
	int rc = -1;
	for (size_t i = 0; i <= n && rc; i++) {
		if (!dblog_glob(pre, t, i))
			continue;
		for (size_t j = i; j <= n; j++)
			if (dblog_glob(star + 1, t + j, n - j)) {
				*off = i;
				*len = j - i;
				rc = 0;
				break;
			}
	}
	free(pre);
	return rc;
}

/* The new name for table t[0..n) in fl->name2, or NULL if no
 * --rename-table applies. */
static const char *
renamed(struct filter *fl, const char *t, size_t n)
{
	for (size_t i = 0; i < fl->nrenames; i++) {
		const struct rename *r = &fl->renames[i];
		if (!dblog_glob(r->from, t, n))
			continue;
		const char *fs = strchr(r->from, '*'), *ts = strchr(r->to, '*');
		size_t off, len;
		dblog_buf_clear(&fl->tmp);
		if (fs && ts && !strchr(fs + 1, '*') && !star_part(r->from, t, n, &off, &len)) {
			dblog_buf_add(&fl->tmp, r->to, (size_t)(ts - r->to));
			dblog_buf_add(&fl->tmp, t + off, len);
			dblog_buf_adds(&fl->tmp, ts + 1);
		} else {
			dblog_buf_adds(&fl->tmp, r->to);
		}
		/* written as events write names: a"b as "a""b" */
		if (dblog_table_canon(&fl->name2, fl->tmp.p, fl->tmp.len))
			dblog_die(DBLOG_EXIT_FAIL, "line %llu: --rename-table '%s=%s' makes '%s' of table "
				  "'%.*s', which is not a table name (see dblog-event(5)); write TO without "
				  "'*' for this table", (unsigned long long)fl->lineno, r->from, r->to,
				  fl->tmp.p, (int)n, t);
		return fl->name2.p;
	}
	return NULL;
}

static void
mask_value(struct filter *fl, struct dblog_span v, struct dblog_buf *out)
{
	enum dblog_jtype t = dblog_json_type(v);
	if (t == DBLOG_J_NULL || t == DBLOG_J_TRUE || t == DBLOG_J_FALSE) {
		dblog_buf_add(out, v.p, v.n);
		return;
	}
	unsigned char h[32];
	dblog_buf_clear(&fl->scratch);
	int integer = t == DBLOG_J_NUMBER && !memchr(v.p, '.', v.n) && !memchr(v.p, 'e', v.n) &&
		      !memchr(v.p, 'E', v.n);
	if (t == DBLOG_J_STRING) {
		struct dblog_buf d = { 0 };
		dblog_json_unescape(v, &d);
		dblog_buf_addc(&fl->scratch, 's');
		dblog_buf_add(&fl->scratch, d.p, d.len);
		dblog_buf_free(&d);
	} else {
		dblog_buf_addc(&fl->scratch, integer ? 'n' : 'j');
		dblog_buf_add(&fl->scratch, v.p, v.n);
	}
	dblog_hmac_sha256(fl->mask_key, fl->mask_keylen, fl->scratch.p, fl->scratch.len, h);
	if (integer) {
		uint64_t x = 0;
		for (int i = 0; i < 8; i++)
			x = x << 8 | h[i];
		/* small integers stay small so masked keys still fit int4 columns */
		size_t digits = v.n - (v.p[0] == '-');
		x = digits <= 9 ? x % 2147483647u : x % (1ull << 53);
		dblog_buf_printf(out, "%llu", (unsigned long long)x);
		return;
	}
	static const char hex[] = "0123456789abcdef";
	char s[34];
	s[0] = '"';
	for (int i = 0; i < 16; i++) {
		s[1 + 2 * i] = hex[h[i] >> 4];
		s[2 + 2 * i] = hex[h[i] & 15];
	}
	s[33] = '"';
	dblog_buf_add(out, s, 34);
}

/* Is column k (a JSON string span) kept by -c/-x? Key columns always are. */
static int
col_kept(struct filter *fl, struct dblog_span k, int is_key)
{
	if (is_key || (!fl->cols.n && !fl->xcols.n))
		return 1;
	const char *s;
	size_t n;
	dblog_json_str(k, &fl->scratch, &s, &n);
	if (fl->cols.n && !dblog_list_has(&fl->cols, s, n))
		return 0;
	return !dblog_list_has(&fl->xcols, s, n);
}

static int
col_masked(struct filter *fl, struct dblog_span k)
{
	const char *s;
	size_t n;
	if (!fl->mask.n)
		return 0;
	dblog_json_str(k, &fl->scratch, &s, &n);
	return dblog_list_has(&fl->mask, s, n);
}

static int
is_key_col(const struct dblog_fields *f, struct dblog_span k, struct dblog_buf *scratch)
{
	const char *s;
	size_t n;
	if (dblog_json_type(f->key) != DBLOG_J_OBJECT)
		return 0;
	dblog_json_str(k, scratch, &s, &n);
	return dblog_json_member(f->key, s, n).p != NULL;
}

/* Write object obj (key/before/after) projected and masked into out. */
static void
put_columns(struct filter *fl, const struct dblog_fields *f, struct dblog_span obj,
	    struct dblog_buf *out)
{
	if (dblog_json_type(obj) != DBLOG_J_OBJECT) {
		dblog_buf_add(out, obj.p, obj.n);
		return;
	}
	struct dblog_span k, v;
	const char *it = NULL;
	int first = 1;
	dblog_buf_addc(out, '{');
	while (dblog_json_next(obj, &it, &k, &v)) {
		if (!col_kept(fl, k, is_key_col(f, k, &fl->keys)))
			continue;
		if (!first)
			dblog_buf_addc(out, ',');
		first = 0;
		dblog_buf_add(out, k.p, k.n);
		dblog_buf_addc(out, ':');
		if (col_masked(fl, k))
			mask_value(fl, v, out);
		else
			dblog_buf_add(out, v.p, v.n);
	}
	dblog_buf_addc(out, '}');
}

/* Write array arr keeping elements whose column name (the element itself,
 * or its "name" member for schema columns) is kept. */
static void
put_names(struct filter *fl, const struct dblog_fields *f, struct dblog_span arr,
	  int schema, struct dblog_buf *out)
{
	if (dblog_json_type(arr) != DBLOG_J_ARRAY) {
		dblog_buf_add(out, arr.p, arr.n);
		return;
	}
	struct dblog_span v;
	const char *it = NULL;
	int first = 1;
	dblog_buf_addc(out, '[');
	while (dblog_json_next_elem(arr, &it, &v)) {
		struct dblog_span name = schema ? dblog_json_member(v, "name", 4) : v;
		int key = schema ? dblog_json_type(dblog_json_member(v, "key", 3)) == DBLOG_J_TRUE
				 : is_key_col(f, name, &fl->keys);
		if (dblog_json_type(name) == DBLOG_J_STRING && !col_kept(fl, name, key))
			continue;
		if (!first)
			dblog_buf_addc(out, ',');
		first = 0;
		dblog_buf_add(out, v.p, v.n);
	}
	dblog_buf_addc(out, ']');
}

/* Rebuild the line with projection, masking, renaming and a new count
 * (count < 0: keep). Returns 1 if rebuilt into fl->out, 0 if unchanged. */
static int
rewrite(struct filter *fl, const char *line, size_t n, const struct dblog_fields *f,
	int64_t count)
{
	const char *newname = NULL;
	if (fl->nrenames && f->table.p) {
		table_name(fl, f);
		newname = renamed(fl, fl->name.p, fl->name.len);
	}
	int project = (fl->cols.n || fl->xcols.n || fl->mask.n) &&
		      (f->key.p || f->before.p || f->after.p || f->unchanged.p || f->columns.p);
	if (!newname && !project && count < 0)
		return 0;
	struct dblog_span obj = { dblog_json_ws(line, line + n), 0 }, k, v;
	obj.n = (size_t)(line + n - obj.p);
	const char *it = NULL;
	int first = 1;
	struct dblog_buf *out = &fl->out;
	dblog_buf_clear(out);
	dblog_buf_addc(out, '{');
	while (dblog_json_next(obj, &it, &k, &v)) {
		if (!first)
			dblog_buf_addc(out, ',');
		first = 0;
		dblog_buf_add(out, k.p, k.n);
		dblog_buf_addc(out, ':');
		if (v.p == f->table.p && newname)
			dblog_json_escape(out, newname, fl->name2.len);
		else if (project && (v.p == f->key.p || v.p == f->before.p || v.p == f->after.p))
			put_columns(fl, f, v, out);
		else if (project && v.p == f->unchanged.p)
			put_names(fl, f, v, 0, out);
		else if (project && v.p == f->columns.p && f->op == DBLOG_OP_SCHEMA)
			put_names(fl, f, v, 1, out);
		else if (count >= 0 && v.p == f->count.p)
			dblog_buf_printf(out, "%lld", (long long)count);
		else
			dblog_buf_add(out, v.p, v.n);
	}
	dblog_buf_addc(out, '}');
	return 1;
}

/* ------------------------------------------------------------ output */

static void
emit(struct filter *fl, const char *p, size_t n)
{
	if (dblog_write_line(stdout, p, n) || (fl->unbuffered && fflush(stdout)))
		dblog_die_write();
}

static void
emit_event(struct filter *fl, const char *line, size_t n, const struct dblog_fields *f,
	   int64_t count)
{
	if (rewrite(fl, line, n, f, count))
		emit(fl, fl->out.p, fl->out.len);
	else
		emit(fl, line, n);
}

static void
flush_begin(struct filter *fl)
{
	if (fl->in_tx && !fl->begin_out) {
		emit(fl, fl->begin.p, fl->begin.len);
		fl->begin_out = 1;
	}
}

/* A commit whose changes were all dropped goes on as a heartbeat. */
static void
emit_heartbeat(struct filter *fl, const struct dblog_fields *f)
{
	struct dblog_buf *out = &fl->out;
	dblog_buf_clear(out);
	dblog_buf_adds(out, "{\"op\":\"heartbeat\"");
	if (f->source.p) {
		dblog_buf_adds(out, ",\"source\":");
		dblog_buf_add(out, f->source.p, f->source.n);
	}
	if (f->pos.p) {
		dblog_buf_adds(out, ",\"pos\":");
		dblog_buf_add(out, f->pos.p, f->pos.n);
	}
	if (f->commit_time.p) {
		dblog_buf_adds(out, ",\"commit_time\":");
		dblog_buf_add(out, f->commit_time.p, f->commit_time.n);
	}
	dblog_buf_addc(out, '}');
	emit(fl, out->p, out->len);
}

static void
on_control(struct filter *fl, const char *line, size_t n, const struct dblog_fields *f)
{
	switch (f->op) {
	case DBLOG_OP_BEGIN:
		fl->in_tx = 1;
		fl->begin_out = 0;
		fl->passed = 0;
		dblog_buf_clear(&fl->begin);
		dblog_buf_add(&fl->begin, line, n);
		if (!fl->select)
			flush_begin(fl);
		break;
	case DBLOG_OP_COMMIT:
		if (fl->in_tx && !fl->begin_out) {
			emit_heartbeat(fl, f);
		} else {
			int64_t count = -1;
			/* only a transaction that lost changes gets a new count */
			if (fl->in_tx && fl->select && f->count.p &&
			    strtoll(f->count.p, NULL, 10) != fl->passed)
				count = fl->passed;
			emit_event(fl, line, n, f, count);
		}
		fl->in_tx = 0;
		break;
	case DBLOG_OP_SCHEMA:
		if (!fl->invert && !table_ok(fl, f))
			break;
		flush_begin(fl);
		emit_event(fl, line, n, f, -1);
		break;
	default:
		emit(fl, line, n);
	}
}

static void
on_event(struct filter *fl, const char *line, size_t n, const struct dblog_fields *f)
{
	if (!DBLOG_OP_IS_CHANGE(f->op)) {
		on_control(fl, line, n, f);
		return;
	}
	if (fl->select && !change_passes(fl, f))
		return;
	flush_begin(fl);
	fl->passed++;
	emit_event(fl, line, n, f, -1);
}

static int
run(struct filter *fl)
{
	struct dblog_reader r;
	struct dblog_fields f;
	struct dblog_jerr e;
	const char *line;
	size_t n;
	int rc, status = DBLOG_EXIT_OK;
	char why[300];
	dblog_reader_init(&r, 0);
	r.flush_before_read = stdout;
	r.stop = &dblog_stop;
	while ((rc = dblog_read_line(&r, &line, &n)) == 1) {
		int s = dblog_event_scan(line, n, &f, &e, &fl->scratch);
		if (s == 1)
			continue;
		if (s < 0 && r.unterminated && e.col) {
			dblog_warn_cut(r.lineno);
			break;
		}
		if (s < 0) {
			if (e.col)
				snprintf(why, sizeof why, "malformed JSON at column %zu: %s", e.col, e.why);
			else
				snprintf(why, sizeof why, "%s", e.why);
			if (dblog_bad_line(&fl->dlq, r.lineno, line, n, why)) {
				status = DBLOG_EXIT_FAIL;
				break;
			}
			continue;
		}
		fl->lineno = r.lineno;
		on_event(fl, line, n, &f);
	}
	if (rc < 0) {
		dblog_err("cannot read standard input: %m");
		status = DBLOG_EXIT_FAIL;
	}
	dblog_reader_free(&r);
	return status;
}

static void
filter_free(struct filter *fl)
{
	dblog_list_free(&fl->tables);
	dblog_list_free(&fl->xtables);
	dblog_list_free(&fl->cols);
	dblog_list_free(&fl->xcols);
	dblog_list_free(&fl->mask);
	dblog_expr_free(fl->where);
	for (size_t i = 0; i < fl->nrenames; i++) {
		free(fl->renames[i].from);
		free(fl->renames[i].to);
	}
	free(fl->renames);
	free(fl->mask_key);
	struct dblog_buf *bufs[] = { &fl->begin, &fl->out, &fl->tmp, &fl->name, &fl->name2,
				     &fl->scratch, &fl->keys };
	for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
		dblog_buf_free(bufs[i]);
}

int
main(int argc, char **argv)
{
	struct filter fl = { 0 };
	dblog_init(argv);
	parse_options(&fl, argc, argv);
	if (fl.dlq_path && dblog_dlq_open(&fl.dlq, fl.dlq_path))
		return DBLOG_EXIT_FAIL;
	dblog_stdout_init(fl.unbuffered);
	dblog_catch_stop();
	int status = run(&fl);
	if (dblog_dlq_close(&fl.dlq) && !status)
		status = DBLOG_EXIT_FAIL;
	if (dblog_stdout_close() && !status)
		status = DBLOG_EXIT_FAIL;
	filter_free(&fl);
	return status;
}
