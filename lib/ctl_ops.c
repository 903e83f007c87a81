/* ctl_ops.c - dblogctl operations that run other dblog commands once: the
 * setup and teardown of a source, a replay from the archive; and removing
 * a stream. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dblog.h"
#include "dblog_ctl.h"

/* Write the segments of dir, in order, to fd; runs in a child. */
static _Noreturn void
cat_segments(const char *dir, int fd)
{
	struct dblog_list segs = { 0 };
	char buf[1 << 16];
	signal(SIGPIPE, SIG_DFL);
	if (dblog_ctl_archive_segments(dir, &segs))
		_exit(DBLOG_EXIT_FAIL);
	for (size_t i = 0; i < segs.n; i++) {
		int in = open(segs.v[i], O_RDONLY | O_CLOEXEC);
		if (in < 0)
			continue;   /* deleted by the retention meanwhile */
		ssize_t n;
		while ((n = read(in, buf, sizeof buf)) > 0)
			for (ssize_t off = 0; off < n;) {
				ssize_t w = write(fd, buf + off, (size_t)(n - off));
				if (w < 0)
					_exit(DBLOG_EXIT_FAIL);
				off += w;
			}
		close(in);
	}
	_exit(DBLOG_EXIT_OK);
}

/* The arguments of dblog-checkpoint since for a replay point. */
static int
since_args(const char *from, const char **argv, int *n, char *err, size_t errlen)
{
	struct dblog_pos pos;
	int64_t t;
	struct stat st;
	argv[(*n)++] = "dblog-checkpoint";
	argv[(*n)++] = "since";
	if (!stat(from, &st) && S_ISREG(st.st_mode)) {
		argv[(*n)++] = from;
	} else if (!dblog_pos_parse(from, strlen(from), &pos)) {
		argv[(*n)++] = "--pos";
		argv[(*n)++] = from;
	} else if (!dblog_time_parse_arg(from, &t)) {
		argv[(*n)++] = "--time";
		argv[(*n)++] = from;
	} else {
		snprintf(err, errlen, "--from: '%s' is not a checkpoint file, a position (0/16B3748, "
			 "42) or a time (2026-11-22T10:00:00Z, 2h)", from);
		return -1;
	}
	argv[*n] = NULL;
	return 0;
}

int
dblog_ctl_replay(const struct dblog_ctl *c, const json_t *spec, const char *from,
		 char *err, size_t errlen)
{
	const char *since[8], *apply[12];
	int ns = 0, na = 0;
	struct dblog_list segs = { 0 };
	if (since_args(from, since, &ns, err, errlen))
		return DBLOG_EXIT_USAGE;
	if (dblog_ctl_archive_segments(c->archive, &segs) || !segs.n) {
		dblog_list_free(&segs);
		snprintf(err, errlen, "stream \"%s\" has no archive to replay from (upsert it with "
			 "--archive DUR)", c->name);
		return DBLOG_EXIT_FAIL;
	}
	dblog_list_free(&segs);
	const char *dest = dblog_ctl_str(spec, "dest");
	/* the destination forgets the stream's position: everything replayed
	 * is applied, idempotently (upserts, deletes of what is there) */
	if (dblog_ctl_dest_set_applied(dest, c->name, NULL, err, errlen))
		return DBLOG_EXIT_FAIL;
	const char *a[] = { "dblog-apply", "--stream", c->name, "--checkpoint", c->checkpoint,
			    "--conflict", dblog_ctl_str(spec, "conflict"), "--create-tables" };
	for (size_t i = 0; i < sizeof a / sizeof *a; i++)
		apply[na++] = a[i];
	if (!dblog_ctl_is_pg(dblog_ctl_str(spec, "source")) && dblog_ctl_is_pg(dest)) {
		apply[na++] = "--map-schema";
		apply[na++] = "main=public";
	}
	apply[na++] = dest;
	apply[na] = NULL;
	int p1[2], p2[2];
	if (pipe2(p1, O_CLOEXEC) || pipe2(p2, O_CLOEXEC)) {
		snprintf(err, errlen, "cannot make a pipe: %s", strerror(errno));
		return DBLOG_EXIT_FAIL;
	}
	pid_t cat = fork();
	if (cat == 0) {
		close(p1[0]);
		cat_segments(c->archive, p1[1]);
	}
	close(p1[1]);
	long sp = dblog_ctl_spawn(since, p1[0], p2[1]);
	close(p1[0]);
	close(p2[1]);
	long ap = dblog_ctl_spawn(apply, p2[0], -1);
	close(p2[0]);
	int s_ap = dblog_ctl_wait(ap), s_sp = dblog_ctl_wait(sp), s_cat = dblog_ctl_wait(cat);
	if (s_ap || s_sp || s_cat) {
		snprintf(err, errlen, "replay failed (dblog-checkpoint since %d, dblog-apply %d)", s_sp,
			 s_ap);
		return s_ap == DBLOG_EXIT_RETRY ? DBLOG_EXIT_RETRY : DBLOG_EXIT_FAIL;
	}
	return DBLOG_EXIT_OK;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) && errno != ENOENT ? -1 : 0;
}

int
dblog_ctl_remove(const struct dblog_ctl *c, char *err, size_t errlen)
{
	if (nftw(c->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove \"%s\": %s", c->dir, strerror(errno));
		return -1;
	}
	return 0;
}

int
dblog_ctl_capture_admin(const char *name, const json_t *spec, const char *what)
{
	const char *src = dblog_ctl_str(spec, "source"), *tables = dblog_ctl_str(spec, "tables");
	const char *argv[12];
	int n = 0;
	char *slot = dblog_ctl_slot(name);
	argv[n++] = "dblog-capture";
	argv[n++] = what;
	if (!strcmp(what, "--setup") && json_is_true(json_object_get(spec, "replica_identity_full")))
		argv[n++] = "--replica-identity-full";
	if (dblog_ctl_is_pg(src)) {
		argv[n++] = "--slot";
		argv[n++] = slot;
		argv[n++] = "--publication";
		argv[n++] = slot;
	}
	if (tables) {
		argv[n++] = "--tables";
		argv[n++] = tables;
	}
	argv[n++] = src;
	argv[n] = NULL;
	int rc = dblog_ctl_spawn_wait(argv, -1, 2);
	free(slot);
	return rc < 0 ? DBLOG_EXIT_FAIL : rc;
}

int
dblog_ctl_checkpoint_set(const struct dblog_ctl *c, const json_t *spec, const char *pos_arg,
			 char *err, size_t errlen)
{
	struct dblog_pos pos;
	if (dblog_pos_parse(pos_arg, strlen(pos_arg), &pos)) {
		snprintf(err, errlen, "not a position: '%s'", pos_arg);
		return -1;
	}
	const char *argv[] = { "dblog-checkpoint", "set", c->checkpoint, "--pos", pos_arg, NULL };
	if (dblog_ctl_spawn_wait(argv, -1, -1)) {
		snprintf(err, errlen, "cannot set the checkpoint of stream \"%s\"", c->name);
		return -1;
	}
	/* the destination skips what its applied position covers: move it too */
	char e[400];
	json_t *p = json_pack("{so}", "pos", dblog_pos_to_json(&pos));
	int rc = dblog_ctl_dest_set_applied(dblog_ctl_str(spec, "dest"), c->name, p, e, sizeof e);
	if (rc)
		snprintf(err, errlen, "the checkpoint is set, the destination's position is not: %s", e);
	json_decref(p);
	return rc ? -1 : 0;
}
