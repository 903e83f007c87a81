/* ctl_state.c - dblogctl's state directory: where it is, the paths of a
 * stream's files, JSON state files, stream names, URIs and credentials. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libpq-fe.h>

#include "dblog.h"
#include "dblog_ctl.h"

char *
dblog_ctl_home(const char *home, char *err, size_t errlen)
{
	const char *e;
	if (home && *home)
		return dblog_xstrdup(home);
	if ((e = getenv("DBLOG_HOME")) && *e)
		return dblog_xstrdup(e);
	struct dblog_buf b = { 0 };
	if ((e = getenv("XDG_STATE_HOME")) && *e == '/') {
		dblog_buf_printf(&b, "%s/dblog", e);
		return b.p;
	}
	if ((e = getenv("HOME")) && *e) {
		dblog_buf_printf(&b, "%s/.local/state/dblog", e);
		return b.p;
	}
	snprintf(err, errlen, "no state directory: set --home DIR, DBLOG_HOME or HOME");
	return NULL;
}

int
dblog_ctl_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n < 1 || n > 40 || name[0] < 'a' || name[0] > 'z')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789_-", name[i]))
			return 0;
	return 1;
}

static char *
join(const char *a, const char *b)
{
	struct dblog_buf s = { 0 };
	dblog_buf_printf(&s, "%s/%s", a, b);
	return s.p;
}

void
dblog_ctl_paths(struct dblog_ctl *c, const char *home, const char *name)
{
	struct dblog_buf d = { 0 };
	dblog_buf_printf(&d, "%s/streams/%s", home, name);
	c->home = dblog_xstrdup(home);
	c->name = name;
	c->dir = d.p;
	c->spec = join(c->dir, "spec.json");
	c->checkpoint = join(c->dir, "checkpoint.json");
	c->status = join(c->dir, "status.json");
	c->log = join(c->dir, "log");
	c->archive = join(c->dir, "archive");
	c->lock = join(c->dir, "lock");
	c->pid = join(c->dir, "pid");
}

void
dblog_ctl_paths_free(struct dblog_ctl *c)
{
	char **v[] = { &c->home, &c->dir, &c->spec, &c->checkpoint, &c->status, &c->log,
		       &c->archive, &c->lock, &c->pid };
	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		free(*v[i]);
		*v[i] = NULL;
	}
}

/* mkdir -p with mode 0700 for what it creates. */
static int
mkdir_p(const char *path, char *err, size_t errlen)
{
	char *p = dblog_xstrdup(path);
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = 0;
		if (mkdir(p, 0700) && errno != EEXIST) {
			snprintf(err, errlen, "cannot create directory \"%s\": %s", p, strerror(errno));
			free(p);
			return -1;
		}
		if (!c)
			break;
		*s = c;
	}
	free(p);
	return 0;
}

int
dblog_ctl_mkdirs(const struct dblog_ctl *c, char *err, size_t errlen)
{
	return mkdir_p(c->dir, err, errlen) || mkdir_p(c->archive, err, errlen) ? -1 : 0;
}

int
dblog_ctl_load(const char *path, json_t **out, char *err, size_t errlen)
{
	json_error_t je;
	*out = NULL;
	if (access(path, F_OK) && errno == ENOENT)
		return 1;
	json_t *j = json_load_file(path, 0, &je);
	if (!j || !json_is_object(j)) {
		snprintf(err, errlen, "\"%s\" is not a JSON object: %s", path, j ? "wrong type" : je.text);
		json_decref(j);
		return -1;
	}
	*out = j;
	return 0;
}

int
dblog_ctl_save(const char *path, const json_t *obj, char *err, size_t errlen)
{
	char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!s)
		dblog_die(DBLOG_EXIT_FAIL, "out of memory");
	struct dblog_buf b = { 0 };
	dblog_buf_adds(&b, s);
	dblog_buf_addc(&b, '\n');
	free(s);
	mode_t old = umask(077);
	int rc = dblog_atomic_write(path, b.p, b.len, err, errlen);
	umask(old);
	dblog_buf_free(&b);
	return rc;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
dblog_ctl_names(const char *home, struct dblog_list *out, char *err, size_t errlen)
{
	char *dir = join(home, "streams");
	DIR *d = opendir(dir);
	if (!d) {
		int e = errno;
		free(dir);
		if (e == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot read \"%s/streams\": %s", home, strerror(e));
		return -1;
	}
	struct dirent *de;
	size_t first = out->n;
	while ((de = readdir(d))) {
		if (!dblog_ctl_name_valid(de->d_name))
			continue;
		struct dblog_buf p = { 0 };
		dblog_buf_printf(&p, "%s/%s/spec.json", dir, de->d_name);
		if (!access(p.p, F_OK))
			dblog_list_split(out, de->d_name);
		dblog_buf_free(&p);
	}
	closedir(d);
	free(dir);
	if (out->n > first)
		qsort(out->v + first, out->n - first, sizeof *out->v, cmp_str);
	return 0;
}

int
dblog_ctl_is_pg(const char *uri)
{
	if (!strncmp(uri, "sqlite:", 7))
		return 0;
	return !strncmp(uri, "postgres://", 11) || !strncmp(uri, "postgresql://", 13) ||
	       strchr(uri, '=') != NULL;
}

const char *
dblog_ctl_sqlite_path(const char *uri)
{
	if (strncmp(uri, "sqlite:", 7))
		return NULL;
	uri += 7;
	if (!strncmp(uri, "//", 2))
		uri += 2;
	return *uri ? uri : NULL;
}

int
dblog_ctl_has_password(const char *uri)
{
	if (!dblog_ctl_is_pg(uri))
		return 0;
	char *e = NULL;
	PQconninfoOption *opts = PQconninfoParse(uri, &e);
	if (!opts) {
		PQfreemem(e);
		return 0;
	}
	int has = 0;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (!strcmp(o->keyword, "password") && o->val && *o->val)
			has = 1;
	PQconninfoFree(opts);
	return has;
}

/* A URI: the password of user:password@ becomes ***. */
static void
redact_uri(struct dblog_buf *b, const char *uri)
{
	const char *auth = strstr(uri, "://") + 3;
	const char *end = auth + strcspn(auth, "/?");
	const char *at = NULL;
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (!colon) {
		dblog_buf_adds(b, uri);
	} else {
		dblog_buf_add(b, uri, (size_t)(colon + 1 - uri));
		dblog_buf_adds(b, "***");
		dblog_buf_adds(b, at);
	}
	/* ?password=... in the query */
	char *q = strstr(b->p, "password=");
	if (q && q > b->p && (q[-1] == '?' || q[-1] == '&')) {
		size_t vlen = strcspn(q + 9, "&");
		memmove(q + 12, q + 9 + vlen, strlen(q + 9 + vlen) + 1);
		memcpy(q + 9, "***", 3);
	}
}

/* A conninfo: password=VALUE (quoted or not) becomes password=***. */
static void
redact_conninfo(struct dblog_buf *b, const char *s)
{
	while (*s) {
		const char *k = strstr(s, "password");
		if (!k) {
			dblog_buf_adds(b, s);
			return;
		}
		const char *p = k + 8;
		while (*p == ' ')
			p++;
		int word = (k == s || strchr(" \t", k[-1])) && *p == '=';
		if (!word) {
			dblog_buf_add(b, s, (size_t)(p - s));
			s = p;
			continue;
		}
		dblog_buf_add(b, s, (size_t)(p + 1 - s));
		p++;
		while (*p == ' ')
			p++;
		if (*p == '\'') {
			for (p++; *p && *p != '\''; p++)
				if (*p == '\\' && p[1])
					p++;
			if (*p)
				p++;
		} else {
			while (*p && !strchr(" \t", *p))
				p++;
		}
		dblog_buf_adds(b, "***");
		s = p;
	}
}

char *
dblog_ctl_redact(const char *uri)
{
	struct dblog_buf b = { 0 };
	if (!strncmp(uri, "postgres://", 11) || !strncmp(uri, "postgresql://", 13))
		redact_uri(&b, uri);
	else if (dblog_ctl_is_pg(uri))
		redact_conninfo(&b, uri);
	else
		dblog_buf_adds(&b, uri);
	if (!b.p)
		dblog_buf_adds(&b, "");
	return b.p;
}

int
dblog_ctl_auth_check(const char *ref, char *err, size_t errlen)
{
	if (!strncmp(ref, "env:", 4) && ref[4]) {
		for (const char *p = ref + 4; *p; p++)
			if (!(*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			      (*p >= '0' && *p <= '9'))) {
				snprintf(err, errlen, "--auth-ref: \"%s\" is not a variable name", ref + 4);
				return -1;
			}
		return 0;
	}
	if (!strncmp(ref, "file:", 5) && ref[5] == '/')
		return 0;
	snprintf(err, errlen, "--auth-ref: expected env:VAR or file:/ABSOLUTE/PATH, got '%s'", ref);
	return -1;
}

int
dblog_ctl_auth_apply(const char *ref, char *err, size_t errlen)
{
	if (!ref)
		return 0;
	if (dblog_ctl_auth_check(ref, err, errlen))
		return -1;
	if (!strncmp(ref, "env:", 4)) {
		const char *v = getenv(ref + 4);
		if (!v) {
			snprintf(err, errlen, "auth ref %s: the variable %s is not set", ref, ref + 4);
			return -1;
		}
		setenv("PGPASSWORD", v, 1);
		return 0;
	}
	if (access(ref + 5, R_OK)) {
		snprintf(err, errlen, "auth ref %s: cannot read the file: %s", ref, strerror(errno));
		return -1;
	}
	setenv("PGPASSFILE", ref + 5, 1);
	return 0;
}

const char *
dblog_ctl_str(const json_t *spec, const char *key)
{
	return json_string_value(json_object_get(spec, key));
}

/* Append s as a pgpass field (':' and '\' escaped), or * when empty. */
static void
pgpass_field(struct dblog_buf *b, const char *s)
{
	if (!s || !*s) {
		dblog_buf_addc(b, '*');
		return;
	}
	for (; *s; s++) {
		if (*s == ':' || *s == '\\')
			dblog_buf_addc(b, '\\');
		dblog_buf_addc(b, *s);
	}
}

char *
dblog_ctl_take_password(const char *uri, struct dblog_buf *pgpass)
{
	char *msg = NULL;
	PQconninfoOption *opts = PQconninfoParse(uri, &msg);
	if (!opts) {
		PQfreemem(msg);
		return NULL;
	}
	const char *f[5] = { NULL, NULL, NULL, NULL, NULL };   /* host port dbname user password */
	static const char *const keys[5] = { "host", "port", "dbname", "user", "password" };
	struct dblog_buf out = { 0 };
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val || !*o->val)
			continue;
		for (int i = 0; i < 5; i++)
			if (!strcmp(o->keyword, keys[i]))
				f[i] = o->val;
		if (!strcmp(o->keyword, "password"))
			continue;
		/* keyword='value', quotes and backslashes escaped */
		dblog_buf_printf(&out, "%s%s='", out.len ? " " : "", o->keyword);
		for (const char *v = o->val; *v; v++) {
			if (*v == '\'' || *v == '\\')
				dblog_buf_addc(&out, '\\');
			dblog_buf_addc(&out, *v);
		}
		dblog_buf_addc(&out, '\'');
	}
	if (f[4]) {
		for (int i = 0; i < 5; i++) {
			pgpass_field(pgpass, f[i]);
			dblog_buf_addc(pgpass, i < 4 ? ':' : '\n');
		}
	}
	PQconninfoFree(opts);
	if (!out.p)
		dblog_buf_adds(&out, "");
	return out.p;
}
