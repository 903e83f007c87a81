/*
 * dblog.h - the one header of libdblog, prototypes grouped by source file.
 *
 * Ownership rule: a function returning a pointer gives the caller ownership
 * unless its comment says "borrowed"; spans (struct dblog_span) always borrow
 * the bytes of the line they were found in and live as long as that line.
 * Functions taking a json_t * borrow it unless they say they steal it.
 * Library functions report errors by return value and message buffer; only
 * out-of-memory exits (status 1).
 */
#ifndef DBLOG_H
#define DBLOG_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#define DBLOG_VERSION "0.1.0"

/* ---------------------------------------------------------------- err.c */

/* Exit statuses shared by every command (documented in dblog(7)). */
enum dblog_exit {
	DBLOG_EXIT_OK = 0,      /* success */
	DBLOG_EXIT_FAIL = 1,    /* runtime or data error: fix the input or setup */
	DBLOG_EXIT_USAGE = 2,   /* bad options or arguments */
	DBLOG_EXIT_RETRY = 3,   /* temporary: a server was unreachable or the
	                           connection was lost; running again resumes */
};

extern const char *dblog_prog;  /* set by dblog_init() */
/* Set by SIGINT or SIGTERM once dblog_catch_stop() was called. */
extern volatile sig_atomic_t dblog_stop;

/* Set the program name used in messages (basename of argv[0]; argv[0] is
 * replaced by it so getopt's messages use it too). */
void dblog_init(char **argv);
/* Catch SIGINT and SIGTERM into dblog_stop (reads are interrupted). */
void dblog_catch_stop(void);
/* Print "prog: message\n" on stderr. */
void dblog_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "prog: warning: message\n" on stderr. */
void dblog_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* dblog_err() then exit(status). */
_Noreturn void dblog_die(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Usage error: message, then "Try 'prog --help'.", exit 2. */
_Noreturn void dblog_usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* Print "prog (dblog) VERSION" and exit 0. */
_Noreturn void dblog_version(void);

/* --------------------------------------------------------------- util.c */

/* Allocation that exits with status 1 on out-of-memory. */
void *dblog_xmalloc(size_t n);
void *dblog_xrealloc(void *p, size_t n);
char *dblog_xstrdup(const char *s);
char *dblog_xstrndup(const char *s, size_t n);

/* A growable byte buffer; always NUL-terminated after any append. */
struct dblog_buf {
	char *p;
	size_t len, cap;
};
void dblog_buf_reserve(struct dblog_buf *b, size_t extra);
void dblog_buf_add(struct dblog_buf *b, const void *p, size_t n);
void dblog_buf_adds(struct dblog_buf *b, const char *s);
void dblog_buf_addc(struct dblog_buf *b, char c);
void dblog_buf_printf(struct dblog_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Append an unsigned number in decimal. */
void dblog_buf_addu(struct dblog_buf *b, uint64_t v);
static inline void dblog_buf_clear(struct dblog_buf *b) { b->len = 0; if (b->p) b->p[0] = 0; }
void dblog_buf_free(struct dblog_buf *b);

/* Parse "500ms", "10s", "5m", "2h", "1d" or plain seconds into
 * milliseconds. Returns 0, or -1 if malformed. */
int dblog_parse_duration(const char *s, int64_t *ms);
/* Parse "4096", "512K", "16M", "1G", "2T" (binary units, optional "B" or
 * "iB") into bytes. Returns 0, or -1 if malformed. */
int dblog_parse_size(const char *s, uint64_t *bytes);
/* Parse a non-negative decimal integer that fits in int64. 0 or -1. */
int dblog_parse_count(const char *s, int64_t *v);

/* A comma-separated list split into owned strings. */
struct dblog_list {
	char **v;
	size_t n;
};
/* Append the items of "a,b,c" (empty items dropped) to l. */
void dblog_list_split(struct dblog_list *l, const char *s);
int dblog_list_has(const struct dblog_list *l, const char *s, size_t n);
void dblog_list_free(struct dblog_list *l);

/* Split "FROM=TO" (both non-empty) into owned strings. 0 or -1. */
int dblog_split_pair(const char *s, char **from, char **to);

/* Monotonic clock in milliseconds. */
int64_t dblog_now_ms(void);

/* --------------------------------------------------------------- time.c */

/* Times are microseconds since the Unix epoch, UTC. */
int64_t dblog_time_now(void);
/* Parse RFC 3339 ("2026-11-22T10:00:00.123456Z", "+02:00" offsets, a space
 * for "T", date only "2026-11-22" meaning midnight UTC). 0 or -1. */
int dblog_time_parse(const char *s, size_t n, int64_t *us);
/* Parse an RFC 3339 time or a relative one ("2h", "90m ago", "-1d"),
 * relative to now. 0 or -1. */
int dblog_time_parse_arg(const char *s, int64_t *us);
/* Format as "2026-11-22T10:00:00.123456Z" into out (>= 32 bytes). */
void dblog_time_format(int64_t us, char *out, size_t n);

/* --------------------------------------------------------------- json.c */

/* A borrowed piece of a line: a JSON value's bytes (p == NULL: absent). */
struct dblog_span {
	const char *p;
	size_t n;
};

enum dblog_jtype {
	DBLOG_J_NONE, DBLOG_J_OBJECT, DBLOG_J_ARRAY, DBLOG_J_STRING,
	DBLOG_J_NUMBER, DBLOG_J_TRUE, DBLOG_J_FALSE, DBLOG_J_NULL,
};

/* Where and why a JSON text is malformed. */
struct dblog_jerr {
	size_t col;         /* 1-based byte column */
	const char *why;    /* static string */
};

#define DBLOG_JSON_MAX_DEPTH 2048

/* Type of the value a span holds (by its first byte). */
enum dblog_jtype dblog_json_type(struct dblog_span v);
/* Validate the JSON value starting at s (RFC 8259, UTF-8, no lone
 * surrogates, depth <= DBLOG_JSON_MAX_DEPTH). Returns the end of the value,
 * or NULL with *e filled (col relative to base). */
const char *dblog_json_skip(const char *s, const char *end, const char *base,
                            struct dblog_jerr *e);
/* Skip JSON whitespace. */
const char *dblog_json_ws(const char *s, const char *end);
/* Iterate the members of a validated object: *it starts at NULL; each call
 * sets *k (the key's string span, quotes included) and *v and returns 1, or
 * returns 0 at the end. */
int dblog_json_next(struct dblog_span obj, const char **it,
                    struct dblog_span *k, struct dblog_span *v);
/* Iterate the elements of a validated array the same way. */
int dblog_json_next_elem(struct dblog_span arr, const char **it,
                         struct dblog_span *v);
/* The value of member name in a validated object (last one wins, as in
 * jq), or an absent span. */
struct dblog_span dblog_json_member(struct dblog_span obj, const char *name,
                                    size_t len);
/* Does the JSON string span (quotes included) equal the bytes s[0..n)? */
int dblog_json_streq(struct dblog_span str, const char *s, size_t n);
/* Decode a validated JSON string span (quotes included) into out
 * (cleared first); returns out->p. */
const char *dblog_json_unescape(struct dblog_span str, struct dblog_buf *out);
/* The string's contents without decoding when it has no escapes (sets
 * *p,*n and returns 1); otherwise decodes into scratch and returns 1 too.
 * Returns 0 if v is not a string. */
int dblog_json_str(struct dblog_span v, struct dblog_buf *scratch,
                   const char **p, size_t *n);
/* Is s[0..n) valid UTF-8 (no overlongs, no surrogates)? */
int dblog_utf8_valid(const char *s, size_t n);
/* Append s[0..n) as a JSON string (quotes, escapes) to out. */
void dblog_json_escape(struct dblog_buf *out, const char *s, size_t n);

/* --------------------------------------------------------------- pos.c */

/* A source position: a PostgreSQL LSN or a SQLite changelog sequence. */
enum dblog_pos_kind { DBLOG_POS_NONE, DBLOG_POS_LSN, DBLOG_POS_SEQ };
struct dblog_pos {
	enum dblog_pos_kind kind;
	uint64_t v;
};
/* Parse "16/B374D848" (LSN) or "12345" (sequence). 0 or -1. */
int dblog_pos_parse(const char *s, size_t n, struct dblog_pos *pos);
/* Parse a JSON pos value: a string LSN or an integer. 0 or -1. */
int dblog_pos_from_span(struct dblog_span v, struct dblog_pos *pos);
int dblog_pos_from_json(const json_t *v, struct dblog_pos *pos);
/* The JSON value for pos (new reference): a string LSN or an integer. */
json_t *dblog_pos_to_json(const struct dblog_pos *pos);
/* Text form ("0/16B3748" or "42") into out (>= 24 bytes). */
void dblog_pos_format(const struct dblog_pos *pos, char *out, size_t n);
/* Order two positions of the same kind: <0, 0, >0. Positions of different
 * kinds are incomparable: returns 0 and sets *bad (if bad != NULL). */
int dblog_pos_cmp(const struct dblog_pos *a, const struct dblog_pos *b, int *bad);
const char *dblog_pos_kind_name(enum dblog_pos_kind k);

/* -------------------------------------------------------------- event.c */

/* Event ops; changes first, then control ops. */
enum dblog_op {
	DBLOG_OP_UNKNOWN = 0,
	DBLOG_OP_INSERT, DBLOG_OP_UPDATE, DBLOG_OP_DELETE, DBLOG_OP_TRUNCATE,
	DBLOG_OP_SNAPSHOT,
	DBLOG_OP_BEGIN, DBLOG_OP_COMMIT, DBLOG_OP_SCHEMA, DBLOG_OP_HEARTBEAT,
};
#define DBLOG_OP_IS_CHANGE(o) ((o) >= DBLOG_OP_INSERT && (o) <= DBLOG_OP_SNAPSHOT)

enum dblog_op dblog_op_parse(const char *s, size_t n);
const char *dblog_op_name(enum dblog_op op);

/* The top-level fields of one event line, found by one validating scan. */
struct dblog_fields {
	enum dblog_op op;
	struct dblog_span op_raw, table, source, tx, pos, seq, commit_time, id,
		key, before, after, unchanged, count, columns, origin, cursor;
};
/* Validate line[0..n) as one JSON object and index its known fields.
 * Returns 0; 1 for a blank line; -1 with why set (and e->col for syntax)
 * for malformed JSON, a non-object, a missing or unknown op, or a known
 * field of the wrong JSON type. */
int dblog_event_scan(const char *line, size_t n, struct dblog_fields *f,
                     struct dblog_jerr *e, struct dblog_buf *scratch);
/* Merge an event's "cursor" object (a span) into the "cursor" object of
 * position pos (created if missing): the incremental mode's state. */
void dblog_cursor_merge(json_t *pos, struct dblog_span cursor);
/* Deterministic event id (name-based UUID, SHA-1) from the source name,
 * position text and seq; out gets 37 bytes. */
void dblog_event_id(const char *source_name, const char *pos, int64_t seq,
                    char out[37]);

/* ------------------------------------------------------------- ndjson.c */

/* A line reader over a file descriptor with one reused buffer. */
struct dblog_reader {
	int fd;
	char *buf;
	size_t cap, start, end;
	uint64_t lineno;      /* number of the line last returned */
	int eof;
	FILE *flush_before_read;   /* fflush()ed before every read(2) */
	int64_t idle_ms;           /* >0: dblog_read_line returns 2 after this
	                              long without input */
	volatile sig_atomic_t *stop;  /* set by a signal handler: read returns 3 */
};
void dblog_reader_init(struct dblog_reader *r, int fd);
void dblog_reader_free(struct dblog_reader *r);
/* Next line without its '\n' into *line,*n (borrowed until the next call).
 * Returns 1 for a line, 0 at end of input, 2 on idle timeout, 3 when *stop
 * was set, -1 on a read error (errno set). */
int dblog_read_line(struct dblog_reader *r, const char **line, size_t *n);

/* Write n bytes and a '\n' to f; -1 on a write error. */
int dblog_write_line(FILE *f, const char *p, size_t n);
/* Give stdout a large buffer (full buffering); call before any output. */
void dblog_stdout_init(int unbuffered);
/* Flush and close stdout; on error print a message and return 1. */
int dblog_stdout_close(void);
/* Exit status 1 with a message if a write to stdout failed. */
_Noreturn void dblog_die_write(void);

/* A dead-letter queue: bad input lines appended with an error record. */
struct dblog_dlq {
	FILE *f;
	const char *path;
	uint64_t count;
};
/* Open path for appending. 0, or -1 with a message printed. */
int dblog_dlq_open(struct dblog_dlq *q, const char *path);
/* Append one record: {"program","line","error","time", "event"|"raw"}.
 * The line is embedded as JSON if it is a valid JSON value, else as a
 * string. Returns 0 or -1 (message printed). */
int dblog_dlq_put(struct dblog_dlq *q, uint64_t lineno, const char *line,
                  size_t n, const char *why);
/* The same with one more member: "key": json (raw JSON text, or null). */
int dblog_dlq_put_extra(struct dblog_dlq *q, uint64_t lineno, const char *line,
                        size_t n, const char *why, const char *key, const char *json);
/* fsync and close; 0 or -1 (message printed). */
int dblog_dlq_close(struct dblog_dlq *q);
/* Report a bad input line: with a DLQ, park it and return 0 (go on);
 * without, print "prog: line N: why" and return -1 (stop). */
int dblog_bad_line(struct dblog_dlq *q, uint64_t lineno, const char *line,
                   size_t n, const char *why);

/* ---------------------------------------------------------- checkpoint.c */

/* A checkpoint is a JSON object (see dblog-event(5)). Load validates its
 * shape. Returns 0 and a new reference in *out, 1 if the file does not
 * exist (*out NULL), -1 with a message in err for any other failure
 * (unreadable, empty, half-written, wrong shape). */
int dblog_checkpoint_load(const char *path, json_t **out, char *err, size_t errlen);
/* Write cp (borrowed; "written" and "version" are set in it) atomically:
 * temp file in the same directory, fsync, rename, fsync of the directory.
 * 0, or -1 with a message in err. */
int dblog_checkpoint_save(const char *path, json_t *cp, char *err, size_t errlen);
/* Position and optional seq of a loaded checkpoint (has_seq 0 means every
 * event at pos is covered). */
void dblog_checkpoint_pos(const json_t *cp, struct dblog_pos *pos, int64_t *seq,
                          int *has_seq);
/* Is the event (pos, seq) after the checkpoint position (cpos, cseq)?
 * has_seq/cseq as above; eseq < 0 means the event has no seq. Returns 1,
 * 0, or -1 if the kinds are incomparable. */
int dblog_pos_after(const struct dblog_pos *epos, int64_t eseq,
                    const struct dblog_pos *cpos, int64_t cseq, int c_has_seq);
/* Write all of p[0..n) to fd (retrying short writes and EINTR). 0, or -1
 * with errno set. */
int dblog_write_all(int fd, const char *p, size_t n);
/* Write data to path atomically (the checkpoint primitive, also used for
 * other state files). 0 or -1 with message. */
int dblog_atomic_write(const char *path, const char *data, size_t n,
                       char *err, size_t errlen);

/* --------------------------------------------------------------- expr.c */

/* A compiled filter expression over event fields. */
struct dblog_expr;
/* Compile; NULL with *errcol (1-based) and a message in err on failure. */
struct dblog_expr *dblog_expr_compile(const char *src, char *err, size_t errlen,
                                      size_t *errcol);
/* Evaluate against an event scanned by dblog_event_scan. 1 true, 0 false. */
int dblog_expr_eval(struct dblog_expr *x, const struct dblog_fields *f);
void dblog_expr_free(struct dblog_expr *x);

/* Value comparison shared by expressions and other filters. */
/* Compare two decimal numbers written as text (JSON number syntax, or
 * numeric strings with optional sign/exponent). 0 ok, -1 if not numbers. */
int dblog_dec_cmp(const char *a, size_t an, const char *b, size_t bn, int *res);
/* Is s[0..n) a decimal number (JSON number syntax, leading '+' allowed)? */
int dblog_dec_valid(const char *s, size_t n);
/* SQL LIKE with % and _ (one UTF-8 character) and backslash escapes;
 * icase folds ASCII letters. */
int dblog_like(const char *s, size_t sn, const char *pat, size_t pn, int icase);

/* ---------------------------------------------------------------- sql.c */

/* Append name as a quoted SQL identifier ("a""b"). */
void dblog_sql_ident(struct dblog_buf *b, const char *name);
/* Append s[0..n) as a quoted SQL string literal ('it''s'). */
void dblog_sql_string(struct dblog_buf *b, const char *s, size_t n);
/* Append s as a PostgreSQL literal, E'...' when it holds backslashes. */
void dblog_sql_literal_e(struct dblog_buf *b, const char *s);

/* ------------------------------------------------------------- sha256.c */

void dblog_hmac_sha256(const void *key, size_t keylen, const void *msg,
                       size_t msglen, unsigned char out[32]);

/* -------------------------------------------------------------- scanq.c */

/* A line of input, scanned on the reading thread. */
struct dblog_scanned {
	const char *line;       /* without its '\n'; borrowed until the next call */
	size_t n;
	uint64_t lineno;
	int status;             /* dblog_event_scan: 0 event, 1 blank, -1 bad */
	struct dblog_fields f;  /* status 0: the event's fields */
	size_t col;             /* status -1: where, 0 for a data error */
	const char *why;        /* status -1: why */
	size_t why_off;         /* (inside scanq.c) */
};
struct dblog_scanq;
/* Start reading fd on a thread of its own (which takes no signals). */
struct dblog_scanq *dblog_scanq_start(int fd);
/* The next scanned line in *out: 1; 0 at end of input; 2 after idle_ms
 * without input; 3 when *stop was set (once the lines at hand are done);
 * -1 on a read error (errno set). flush (if not NULL) is flushed before
 * waiting for input. */
int dblog_scanq_next(struct dblog_scanq *q, int64_t idle_ms, FILE *flush,
		     volatile sig_atomic_t *stop, const struct dblog_scanned **out);
/* Stop the thread and free everything. */
void dblog_scanq_free(struct dblog_scanq *q);

/* ------------------------------------------------------------- txline.c */

/* If line[0..n) is a transaction line ({"op":"tx", ..., "changes":[...]},
 * as dblog-txbuf --as-tx writes), write the events it stands for into out,
 * each followed by a NUL: a begin (its members but count, delivery, batch
 * and changes), the changes as they are, a commit (its members but
 * changes). Returns how many, 0 when the line is not a transaction line,
 * -1 with *why (static) when it is one but malformed. */
int dblog_txline_expand(const char *line, size_t n, struct dblog_buf *out, const char **why);

/* ----------------------------------------------------------- progress.c */

/* The position a stream has applied (dblog-apply): committed, and
 * complete in the open batch. */
struct dblog_progress {
	json_t *applied;          /* the last committed position, or NULL */
	json_t *pending;          /* the batch's, once built (see below) */
	struct dblog_buf lazy;    /* the event that completed the batch's */
	int lazy_seq, lazy_set;
	/* what dblog_progress_is_new compares with */
	int ref_set, ref_has_seq, ref_src_set;
	struct dblog_pos ref_pos;
	int64_t ref_seq;
	struct dblog_buf ref_src, scratch;
};
/* Start from the committed position applied (stolen; NULL: none). */
void dblog_progress_init(struct dblog_progress *p, json_t *applied);
void dblog_progress_free(struct dblog_progress *p);
/* Is the event after the last position completed or committed? 1, 0; -1
 * when the positions are of incomparable kinds, -2 when the event comes
 * from another source (by name). */
int dblog_progress_is_new(struct dblog_progress *p, const struct dblog_fields *f);
/* The event f (scanned from line[0..n)) completed a position: a commit,
 * a heartbeat, or a change outside a transaction (with_seq). Copies the
 * line; no JSON is built unless the event carries a cursor. */
void dblog_progress_complete(struct dblog_progress *p, const struct dblog_fields *f, const char *line,
			     size_t n, int with_seq);
/* The batch's position object (borrowed), built now if needed; NULL when
 * no event completed one since the last commit. */
json_t *dblog_progress_pending(struct dblog_progress *p);
/* The batch was committed: its position becomes the applied one. Returns
 * 1 if there was one, else 0. */
int dblog_progress_commit(struct dblog_progress *p);
/* The batch was rolled back: forget its position. */
void dblog_progress_drop(struct dblog_progress *p);

/* -------------------------------------------------------------- txbuf.c */

/* The transaction buffer of dblog-txbuf(1): events in, whole transactions
 * out in commit order. It borrows the lines and fields it is given (it
 * copies what it keeps) and owns everything it allocates; it writes to the
 * FILE it was given. Functions returning int give 0, 1 for a bad input
 * line (the reason in dblog_txbuf_error; nothing was kept of it) or -1 for
 * a write or spill-file error (message in dblog_txbuf_error). */
enum dblog_txbuf_reason {
	DBLOG_TXB_COMMIT, DBLOG_TXB_COMMIT_TIME, DBLOG_TXB_POLL_INTERVAL,
	DBLOG_TXB_TIMEOUT, DBLOG_TXB_BATCH_LIMIT, DBLOG_TXB_FLUSH,
	DBLOG_TXB_NREASONS,
};
struct dblog_txbuf_opts {
	int64_t poll_interval_ms;   /* 0: no poll-interval gating */
	int64_t max_wait_ms;        /* 0: no timeout */
	int64_t batch_rows, batch_ms;   /* 0: one transaction per batch */
	int64_t max_tx;             /* 0: no limit */
	uint64_t max_bytes;         /* 0: no limit */
	uint64_t max_memory;        /* spill above this */
	const char *spill_dir;
	int as_tx, flush_incomplete, unbuffered;
};
struct dblog_txbuf_stats {
	uint64_t delivered[DBLOG_TXB_NREASONS];
	uint64_t batches, pending_tx, pending_bytes, spills, spilled_bytes;
	uint64_t incomplete, discarded, memory, peak_memory;
};
struct dblog_txbuf;
/* A new buffer writing to out (borrowed). Never NULL. */
struct dblog_txbuf *dblog_txbuf_new(const struct dblog_txbuf_opts *o, FILE *out);
/* Take one event that dblog_event_scan accepted (line without '\n'). */
int dblog_txbuf_event(struct dblog_txbuf *b, const char *line, size_t n,
                      const struct dblog_fields *f);
/* Time has passed (or input is idle): run the timers and wall-clock gates. */
int dblog_txbuf_tick(struct dblog_txbuf *b);
/* end_of_input 1: deliver everything, report incomplete transactions on
 * stderr. 0 (a signal): write the complete ones, count the rest as
 * discarded. */
int dblog_txbuf_finish(struct dblog_txbuf *b, int end_of_input);
/* The message of the last error (borrowed). */
const char *dblog_txbuf_error(const struct dblog_txbuf *b);
void dblog_txbuf_get_stats(const struct dblog_txbuf *b, struct dblog_txbuf_stats *st);
const char *dblog_txbuf_reason_name(enum dblog_txbuf_reason r);
/* Free everything; spill files go with their descriptors. */
void dblog_txbuf_free(struct dblog_txbuf *b);

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
 * mode, conflict, the durations checkpoint_interval and archive, auth_ref
 * and filter. 0, or -1 with a message for the user in err. */
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
 * (borrowed), with stream name's slot and publication; its messages go to
 * stderr. Returns its exit status (1 when it could not be run). */
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

/* ------------------------------------------------------ flashback*.c */

/* dblog-flashback(1): the compensating events that undo a window of
 * changes. The engine borrows the lines and fields it is given (it copies
 * what it keeps), owns everything it allocates, and writes to the FILE it
 * was given; what it cannot undo it reports, it never skips silently. */

/* flashback_store.c: records kept for reading back newest first, in
 * memory up to a bound and in an unlinked temporary file beyond it. */
struct dblog_fbstore;
/* A store keeping at most max_memory bytes in memory; spill files go to
 * dir (NULL: $TMPDIR or /tmp). Never NULL. */
struct dblog_fbstore *dblog_fbstore_new(uint64_t max_memory, const char *dir);
/* Append a record of type (a byte) and data[0..n). 0, or -1 with a
 * message (dblog_fbstore_error) when the spill file cannot be written. */
int dblog_fbstore_put(struct dblog_fbstore *s, char type, const void *data, size_t n);
/* Read the records back, last first: 1 with *type, *data, *n (borrowed
 * until the next call), 0 after the first, -1 on a read error. Once
 * started, no more records can be put. */
int dblog_fbstore_prev(struct dblog_fbstore *s, char *type, const char **data, size_t *n);
const char *dblog_fbstore_error(const struct dblog_fbstore *s);
/* Bytes written to the spill file so far. */
uint64_t dblog_fbstore_spilled(const struct dblog_fbstore *s);
void dblog_fbstore_free(struct dblog_fbstore *s);

/* flashback_invert.c: the compensating change of one change. */
/* What is known of a table: its columns from schema events (NULL: no
 * schema seen), and the most columns an after-image of it had. */
struct dblog_fbtable {
	char *name;              /* decoded "schema.table" */
	char *columns;           /* the raw "columns" array of its last schema */
	struct dblog_list cols, types;   /* visible column names and types */
	size_t max_after;
	int has_rows;            /* --check-later: rows of it were touched */
};
struct dblog_fbtables {
	struct dblog_fbtable **v;
	size_t n, cap;
};
/* The entry of table (a decoded name), created when missing (borrowed). */
struct dblog_fbtable *dblog_fbtables_get(struct dblog_fbtables *t, const char *name);
void dblog_fbtables_free(struct dblog_fbtables *t);
/* Take a schema event's columns into t. Returns 1 when they differ from
 * the columns known before (a schema change), else 0. */
int dblog_fbtable_schema(struct dblog_fbtable *t, struct dblog_span columns);
/* The type of column name (NULL: unknown; borrowed). */
const char *dblog_fbtable_type(const struct dblog_fbtable *t, const char *name, size_t n);

/* Why a change cannot be undone: why and fix are static or point into
 * the struct's buffer; fix may name a SQL statement. */
struct dblog_fbrefusal {
	const char *why;
	struct dblog_buf fix;
};
/* Write into out the key, before and after members of the change that
 * undoes f (from ',"key":' on), into *op its op, and the canonical text of
 * the row's key before and after f into key_old/key_new (for --check-later).
 * driver is the source's driver ("postgres", "sqlite" or NULL), or
 * "flashback" for compensating events, whose old rows hold what their
 * inverse needs. Returns 1
 * when there is something to undo, 0 for an update that changed nothing,
 * -1 with r filled when f cannot be undone. */
int dblog_fb_invert(const struct dblog_fields *f, struct dblog_fbtable *t, const char *driver,
		    enum dblog_op *op, struct dblog_buf *out, struct dblog_buf *key_old,
		    struct dblog_buf *key_new, struct dblog_fbrefusal *r);
/* The canonical text of a key object ({"a":1,"b":"x"}, no white space),
 * into out (cleared first). */
void dblog_fb_key_text(struct dblog_span key, struct dblog_buf *out);

/* flashback_rows.c: the rows a window touched (--check-later). */
struct dblog_fbrows;
struct dblog_fbrows *dblog_fbrows_new(void);
/* The row number of (table, key text), or 0 when not known. */
uint64_t dblog_fbrows_find(struct dblog_fbrows *r, const char *table, const char *key, size_t n);
/* Add (table, key text) as row number row (0: a new row); returns it. */
uint64_t dblog_fbrows_add(struct dblog_fbrows *r, const char *table, const char *key, size_t n,
			  uint64_t row);
/* Mark row as changed after the window; is it marked? */
void dblog_fbrows_mark(struct dblog_fbrows *r, uint64_t row);
int dblog_fbrows_marked(const struct dblog_fbrows *r, uint64_t row);
/* Mark every row of table. */
void dblog_fbrows_mark_table(struct dblog_fbrows *r, const char *table);
void dblog_fbrows_free(struct dblog_fbrows *r);

/* flashback_sql.c: compensating transactions as SQL. */
enum dblog_fb_dialect { DBLOG_FB_POSTGRES, DBLOG_FB_SQLITE };
/* The preamble of a script (a guard table, comments). */
void dblog_fbsql_preamble(struct dblog_buf *out, enum dblog_fb_dialect d);
/* Append to body one guarded statement for the compensating change c
 * (scanned), of table (decoded name) with schema info t (may be NULL);
 * what (one line) names it in error messages. */
void dblog_fbsql_change(struct dblog_buf *body, enum dblog_fb_dialect d,
			const struct dblog_fields *c, const char *table,
			const struct dblog_fbtable *t, const char *what);
/* Append to out one compensating transaction holding body, preceded by
 * the comment (one line). */
void dblog_fbsql_tx(struct dblog_buf *out, enum dblog_fb_dialect d, const char *comment,
		    const struct dblog_buf *body);

/* flashback.c: the engine. */
struct dblog_fb_opts {
	int since_is_pos, until_is_pos, has_since, has_until;
	struct dblog_pos since_pos, until_pos;
	int64_t since_time, until_time;
	struct dblog_list txs;          /* --tx: transaction ids as text */
	struct dblog_list tables;       /* -t: globs */
	unsigned ops;                   /* bit per enum dblog_op; 0: all */
	struct dblog_expr *where;
	int allow_partial, check_later, cascade, nonconflict_only;
	int plan, unbuffered;
	int sql;                        /* 0: events; else 1 + enum dblog_fb_dialect */
	uint64_t max_memory;
	const char *spill_dir;
};
struct dblog_fb;
/* A new engine writing to out (borrowed); o is copied (its lists and
 * expression stay the caller's). Never NULL. */
struct dblog_fb *dblog_fb_new(const struct dblog_fb_opts *o, FILE *out);
/* Take one input line (without '\n'), number lineno. 0, or -1 with a
 * message printed (bad line, mixed sources, spill error). */
int dblog_fb_line(struct dblog_fb *fb, const char *line, size_t n, uint64_t lineno);
/* End of input: report, then write the plan, the events or the SQL.
 * Returns the exit status (0, or 1 when refused or on a write error). */
int dblog_fb_finish(struct dblog_fb *fb);
void dblog_fb_free(struct dblog_fb *fb);

#endif
