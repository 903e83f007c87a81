/* dblog_ctl.h - the stream management of dblogctl(1) (ctl_*.c).
 * Same ownership rule as dblog.h. */
#ifndef DBLOG_CTL_H
#define DBLOG_CTL_H

#include "dblog.h"

/* -------------------------------------------- ctl_state.c (dblogctl(1)) */

/* dblogctl keeps one directory per stream under HOME/streams/NAME: spec.json
 * (what upsert declared), checkpoint.json (written by dblog-apply -c),
 * status.json (written by the supervisor), log, archive/, lock and pid.
 * Every file is written with dblog_atomic_write(). */
struct dblog_ctl {
	char *home, *dir, *spec, *checkpoint, *status, *log, *archive, *lock, *pid;
	const char *name;    /* borrowed */
};
/* The state directory: home if given, else $DBLOG_HOME, else
 * $XDG_STATE_HOME/dblog, else $HOME/.local/state/dblog (owned). NULL with a
 * message in err when none can be found. */
char *dblog_ctl_home(const char *home, char *err, size_t errlen);
/* Stream names: 1 to 40 of [a-z0-9_-], starting with a letter. 1 or 0. */
int dblog_ctl_name_valid(const char *name);
/* Fill c with the paths of stream name (borrowed) under home (copied). */
void dblog_ctl_paths(struct dblog_ctl *c, const char *home, const char *name);
void dblog_ctl_paths_free(struct dblog_ctl *c);
/* Create the stream's directory and archive/ (mode 0700). 0 or -1. */
int dblog_ctl_mkdirs(const struct dblog_ctl *c, char *err, size_t errlen);
/* Load a file holding one JSON object: 0 (new reference in *out), 1 when
 * it does not exist, -1 with a message in err. */
int dblog_ctl_load(const char *path, json_t **out, char *err, size_t errlen);
/* Write obj (borrowed) to path atomically, mode 0600. 0 or -1. */
int dblog_ctl_save(const char *path, const json_t *obj, char *err, size_t errlen);
/* The names of the streams under home, sorted, appended to out. 0 or -1. */
int dblog_ctl_names(const char *home, struct dblog_list *out, char *err, size_t errlen);
/* Is uri a PostgreSQL URI or conninfo string (not sqlite:)? */
int dblog_ctl_is_pg(const char *uri);
/* The PostgreSQL uri rewritten as a conninfo string without its password
 * (owned), the password (if any) appended to pgpass as a line of a
 * password file for the connection's host, port, database and user; NULL
 * when uri does not parse. */
char *dblog_ctl_take_password(const char *uri, struct dblog_buf *pgpass);
/* Does a PostgreSQL URI or conninfo carry a password? 1 or 0. */
int dblog_ctl_has_password(const char *uri);
/* uri with any password shown as *** (owned). */
char *dblog_ctl_redact(const char *uri);
/* The SQLite file of "sqlite:PATH" or "sqlite://PATH" (borrowed), or NULL. */
const char *dblog_ctl_sqlite_path(const char *uri);
/* Check an auth reference, "env:VAR" or "file:PATH". 0 or -1 with err. */
int dblog_ctl_auth_check(const char *ref, char *err, size_t errlen);
/* Make the credentials of ref (NULL: none) reach libpq and every child
 * through the environment: env:VAR sets PGPASSWORD to $VAR, file:PATH sets
 * PGPASSFILE. 0, or -1 with err (VAR unset, PATH unreadable). */
int dblog_ctl_auth_apply(const char *ref, char *err, size_t errlen);
/* The spec's string member (borrowed), or NULL. */
const char *dblog_ctl_str(const json_t *spec, const char *key);

/* --------------------------------------------------------- ctl_spec.c */

/* Check a declaration (upsert): source and dest URIs without a password,
 * mode, conflict, the durations checkpoint_interval and archive, auth_ref,
 * filter, and replica_identity_full (true only for a PostgreSQL source in
 * a mode with a setup). 0, or -1 with a message for the user in err. */
int dblog_ctl_spec_check(const json_t *spec, char *err, size_t errlen);
/* uri with a relative SQLite path made absolute against the current
 * directory; any other uri as it is (owned). */
char *dblog_ctl_absolute(const char *uri);

/* --------------------------------------------------------- ctl_lock.c */

/* Take the stream's lock: flock(LOCK_EX|LOCK_NB) on path (created 0600),
 * held as long as the returned descriptor (close-on-exec) is open. Returns
 * the descriptor, -2 when another process holds it, -1 with err. */
int dblog_ctl_lock(const char *path, char *err, size_t errlen);
/* Is the lock at path held by a process? 1, 0. */
int dblog_ctl_locked(const char *path);
/* The pid in a pid file, or 0. */
long dblog_ctl_pid_read(const char *path);
/* Wait up to ms for the lock at path to be free: 0 when free, -1. */
int dblog_ctl_wait_unlocked(const char *path, int64_t ms);
/* The pid of the process holding the lock at path, from /proc/locks, or 0
 * when it is free or the kernel does not tell. */
long dblog_ctl_lock_holder(const char *path);

/* ----------------------------------------------------------- ctl_bg.c */

/* Write this process's pid to the stream's pid file. 0 or -1 with err. */
int dblog_ctl_pid_write(const struct dblog_ctl *c, char *err, size_t errlen);
/* Run fn(arg, lockfd) in the background, in a session of its own with
 * stdin and stdout on /dev/null and stderr on the stream's log, holding
 * the stream's lock and with its pid in the pid file; fn's result is the
 * daemon's exit status. Returns once it runs: 0, or DBLOG_EXIT_RETRY (the
 * lock is held by another run) or DBLOG_EXIT_FAIL with err. */
int dblog_ctl_daemon(const struct dblog_ctl *c, int (*fn)(void *arg, int lockfd), void *arg,
		     char *err, size_t errlen);
/* Stop the stream's run, if any: SIGTERM to the process holding the lock
 * (the supervisor, which ends its pipeline at a transaction boundary),
 * then wait up to ms for the lock to be free. 0 (stopped or not running),
 * or -1 with err. */
int dblog_ctl_stop(const struct dblog_ctl *c, int64_t ms, char *err, size_t errlen);

/* ---------------------------------------------------------- ctl_run.c */

/* How a stream is run. */
struct dblog_ctl_run {
	const struct dblog_ctl *c;      /* borrowed */
	const json_t *spec;             /* borrowed */
	int once;                       /* until caught up, no restarts */
	int echo;                       /* copy the stages' messages to stderr */
	int lockfd;                     /* the held lock (closed in children) */
	volatile sig_atomic_t *stop;    /* set by SIGTERM/SIGINT */
};
/* Run the stream's pipeline (see dblogctl(1)): once, or supervised with
 * restarts and backoff after retryable failures, until *stop or a
 * permanent failure. Keeps status.json up to date. Returns the exit status
 * (0, 1 failed, 3 retryable). */
int dblog_ctl_run(struct dblog_ctl_run *r);
/* The path of a dblog program: beside this executable when it is there,
 * else the bare name for a PATH search (owned). */
char *dblog_ctl_bin(const char *name);
/* Run argv (argv[0] a dblog program name) with stdin in_fd (-1: /dev/null),
 * stdout out_fd (-1: inherited) and stderr inherited; wait. Returns its
 * exit status, 128+signal when killed, -1 when it could not be started. */
int dblog_ctl_spawn_wait(const char *const *argv, int in_fd, int out_fd);
/* The same without waiting: the child's pid, or -1 (fork failed). The
 * child keeps no descriptor but 0, 1 and 2. */
long dblog_ctl_spawn(const char *const *argv, int in_fd, int out_fd);
/* Wait for a child: its exit status, 128+signal, or -1. */
int dblog_ctl_wait(long pid);
/* Record state (and an error message, or NULL) in the stream's status.json,
 * with pid; an error is also counted for errors_last_hour. 0 or -1. */
int dblog_ctl_record(const struct dblog_ctl *c, const char *state, const char *error, long pid);

/* ------------------------------------------------------ ctl_archive.c */

/* Copy in_fd to out_fd and into NDJSON segments under dir (a new segment
 * per run, and after 64 MiB or an hour, cut at a line end), deleting
 * segments older than keep_ms. Returns 0 at end of input, 1 on an error
 * (message printed). */
int dblog_ctl_archive_tee(int in_fd, int out_fd, const char *dir, int64_t keep_ms);
/* Delete the segments of dir last written more than keep_ms ago. */
void dblog_ctl_archive_prune(const char *dir, int64_t keep_ms);
/* The segment files of dir in order, appended to out (full paths). 0/-1. */
int dblog_ctl_archive_segments(const char *dir, struct dblog_list *out);
/* Change events in the archive after (pos, seq) of checkpoint cp
 * (borrowed), or -1 when it cannot tell. */
int64_t dblog_ctl_archive_after(const char *dir, const json_t *cp);

/* ---------------------------------------------------------- ctl_dest.c */

/* Set the applied position of stream in dest (a sqlite: or PostgreSQL
 * URI) to pos (borrowed; its "pos" replaces the recorded one, and "seq",
 * "tx", "commit_time" and "snapshot" are removed), or delete the stream's
 * row when pos is NULL. 0, or -1 with err. */
int dblog_ctl_dest_set_applied(const char *dest, const char *stream, const json_t *pos,
			       char *err, size_t errlen);
/* The conflicts that stream parked in dest, as an array of {id, time,
 * reason, event, dest_row} (new reference); NULL with err. */
json_t *dblog_ctl_dest_conflicts(const char *dest, const char *stream, char *err, size_t errlen);
/* Delete conflict id of stream from dest: 0, 1 when there is none, -1. */
int dblog_ctl_dest_conflict_delete(const char *dest, const char *stream, int64_t id,
				   char *err, size_t errlen);

/* ----------------------------------------------------------- ctl_ops.c */

/* Replay the stream's archive from a point (a checkpoint file, a position
 * or a time) into its destination, whose applied position for the stream
 * is deleted first. The caller holds the lock. Returns the exit status,
 * with a message in err when it is not 0. */
int dblog_ctl_replay(const struct dblog_ctl *c, const json_t *spec, const char *from,
		     char *err, size_t errlen);
/* Run dblog-capture WHAT (--setup or --teardown) for the source of spec
 * (borrowed), with stream name's slot and publication, and for --setup
 * --replica-identity-full when the spec says replica_identity_full; its
 * messages go to stderr. Returns its exit status (1 when it could not be run). */
int dblog_ctl_capture_admin(const char *name, const json_t *spec, const char *what);
/* Set the stream's checkpoint position to pos_arg (dblog-checkpoint set)
 * and its applied position in the destination with it. The caller holds
 * the lock. 0, or -1 with err. */
int dblog_ctl_checkpoint_set(const struct dblog_ctl *c, const json_t *spec, const char *pos_arg,
			     char *err, size_t errlen);
/* Remove the stream's directory and everything in it. 0 or -1 with err. */
int dblog_ctl_remove(const struct dblog_ctl *c, char *err, size_t errlen);

/* ----------------------------------------------------- ctl_conflicts.c */

/* Print conflicts (as dblog_ctl_dest_conflicts returns them) as a table. */
void dblog_ctl_conflicts_table(FILE *f, const json_t *arr);
/* Resolve conflict id that stream parked in dest: with retry, apply the
 * change after all (with source_wins, under the stream "STREAM.retry.ID",
 * whose position is then forgotten); then remove it from the list.
 * Returns the exit status, with a message in err when it is not 0 (1 also
 * when there is no such conflict). */
int dblog_ctl_conflict_resolve(const char *dest, const char *stream, int64_t id, int retry,
			       char *err, size_t errlen);

/* -------------------------------------------------------- ctl_status.c */

/* The status object of a stream (new reference) with the members of
 * dblogctl(1) STATUS: figures from the checkpoint, status.json, the lock,
 * and the source (SQLite changelog, PostgreSQL slot); a source that cannot
 * be asked leaves its figures null. */
json_t *dblog_ctl_status(const struct dblog_ctl *c, const json_t *spec);
/* The status objects of stream name, or of every stream under home when
 * name is NULL, as an array (new reference), each figured with the
 * stream's own credentials (the environment's PGPASSWORD and PGPASSFILE are
 * restored afterwards); NULL with err when name is not a stream or home
 * cannot be read. */
json_t *dblog_ctl_statuses(const char *home, const char *name, char *err, size_t errlen);
/* Print status objects as a table, one line each. */
void dblog_ctl_status_table(FILE *f, const json_t *arr);
/* Print status objects as the table of list: name, state, and from the
 * specs under home, mode and region; source and destination redacted. */
void dblog_ctl_list_table(FILE *f, const char *home, const json_t *arr);
/* The PostgreSQL slot name of stream name (owned): dblog_ and the name
 * with '-' as '_'. */
char *dblog_ctl_slot(const char *name);

#endif
