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
	DBLOG_EXIT_INCOMPLETE = 4,  /* not all of the input was applied: stopped
	                           by a signal, or the input ended inside a
	                           transaction; what was applied is whole */
};

extern const char *dblog_prog;  /* set by dblog_init() */
/* Set to the signal's number by SIGINT or SIGTERM once dblog_catch_stop()
 * was called. */
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
/* Sleep ms milliseconds (less when a signal arrives). */
void dblog_sleep_ms(long ms);

/* --------------------------------------------------------------- time.c */

/* Times are microseconds since the Unix epoch, UTC. */
int64_t dblog_time_now(void);
/* Parse RFC 3339 ("2026-11-22T10:00:00.123456Z", "+02:00" offsets, a space
 * for "T", date only "2026-11-22" meaning midnight UTC) between the years
 * 0000 and 9999 in UTC. 0 or -1. */
int dblog_time_parse(const char *s, size_t n, int64_t *us);
/* 0001-01-01T00:00:00Z: the earliest time a relative one may reach. */
#define DBLOG_TIME_MIN (-62135596800LL * 1000000)
/* Parse an RFC 3339 time or a relative one ("2h", "90m ago", "-1d"),
 * relative to now. 0, -1 when it is neither, -2 for a relative time that
 * goes back before DBLOG_TIME_MIN. */
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
 * (cleared first); returns out->p, NUL-terminated even when empty. */
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
/* Parse "16/B374D848" (LSN) or "12345" (sequence, at most 2^63-1). 0 or -1. */
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
		key, before, after, unchanged, count, columns, origin, cursor, keyless;
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
	int unterminated;     /* the line last returned ended the input without
	                         a '\n': a writer may have stopped mid-line */
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

/* A bad last line without its '\n' is taken for input cut off mid-line (a
 * writer killed, a disk full): warn that line lineno was not used. */
void dblog_warn_cut(uint64_t lineno);

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
/* The compression whose magic number p[0..n) starts with ("gzip",
 * "zstd", "xz", "bzip2"), or NULL. */
const char *dblog_compression(const char *p, size_t n);
/* Report a bad input line: with a DLQ, park it and return 0 (go on);
 * without, print "prog: line N: why" and return -1 (stop). Line 1 of
 * compressed input stops the run even with a DLQ, with the fix. */
int dblog_bad_line(struct dblog_dlq *q, uint64_t lineno, const char *line,
                   size_t n, const char *why);

/* ---------------------------------------------------------- checkpoint.c */

/* A checkpoint is a JSON object (see dblog-event(5)). Load validates its
 * shape. Returns 0 and a new reference in *out, 1 if the file does not
 * exist (*out NULL), -1 with a message in err for any other failure
 * (unreadable, empty, half-written, wrong shape). */
int dblog_checkpoint_load(const char *path, json_t **out, char *err, size_t errlen);
/* The same checks on the bytes data[0..n) of a checkpoint file read from
 * path (named in the message): 0 and a new reference in *out, or -1. */
int dblog_checkpoint_parse(const char *data, size_t n, const char *path, json_t **out,
			   char *err, size_t errlen);
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
/* Parentheses and NOTs nest at most this deep (AND and OR chains are as
 * long as they come). */
#define DBLOG_EXPR_MAX_DEPTH 1000
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
/* Text that is not valid UTF-8, as events carry it: the object
 * {"text_hex":"<hex of the bytes>"} (dblog-event(5), VALUES). */
/* Append that object for the bytes s[0..n) to b. */
void dblog_text_hex_put(struct dblog_buf *b, const char *s, size_t n);
/* Is v such an object? 1 with its bytes in out (cleared first), or 0. */
int dblog_text_hex(struct dblog_span v, struct dblog_buf *out);
/* Append the flat JSON object text v[0..n) (a row, as SQLite's
 * json_object() and json_quote() write it, which copy the bytes of text
 * that is not UTF-8) to b: each such string value as that object, each
 * such member name with its bytes above 127 as \xNN. Valid UTF-8 is
 * copied as it is. */
void dblog_text_hex_object(struct dblog_buf *b, const char *v, size_t n);
/* Append a table or column name s[0..n) to b: as it is when it is valid
 * UTF-8, else with each byte above 127 as \xNN (dblog-event(5)). */
void dblog_name_utf8(struct dblog_buf *b, const char *s, size_t n);
/* Append s[0..n), a name read from a server that may not send UTF-8 (a
 * SQL_ASCII database), to out as a JSON string: dblog_json_escape of it, or
 * of its dblog_name_utf8 form when it is not valid UTF-8. */
void dblog_json_escape_name(struct dblog_buf *out, const char *s, size_t n);

/* -------------------------------------------------------------- table.c */

/* An event's "table" is one string, "schema.table" (dblog-event(5)): each
 * part as it is, or in double quotes with '"' doubled when it is empty or
 * holds a '.' or a '"' (schema a.b, table c: "a.b".c; public, x"y:
 * public."x""y"); a string without a dot is a table without schema. */

/* Append the event form of schema[0..sn) and name[0..nn) to out; schema
 * NULL: a table without schema part. Never fails. */
void dblog_table_join(struct dblog_buf *out, const char *schema, size_t sn, const char *name,
		      size_t nn);
/* Split the event form s[0..n) into schema and name (both cleared first,
 * decoded, NUL-terminated even when empty; *has_schema 0 when s has no
 * schema part, schema then empty). An unquoted first part ends at the
 * first dot, an unquoted last part is the rest of s (events written
 * before the quoting rule split at their first dot, as they did). A NUL
 * in s is kept as a byte: callers refuse such names. Returns 0, or -1 for
 * a malformed quoted part (no closing quote, text after it). */
int dblog_table_split(const char *s, size_t n, struct dblog_buf *schema, struct dblog_buf *name,
		      int *has_schema);
/* dblog_table_split of the NUL-terminated s, where a malformed name is
 * taken whole, as one name without schema (the SQL written with it then
 * names a table that does not exist). */
void dblog_table_split_or_whole(const char *s, struct dblog_buf *schema, struct dblog_buf *name,
				int *has_schema);
/* s[0..n) as dblog_table_join writes it (a."b.c" for a.b.c, "a""b" for
 * a"b, x for "x") into out, cleared first. 0, or -1 (out empty) when s is
 * malformed. */
int dblog_table_canon(struct dblog_buf *out, const char *s, size_t n);
/* Append the items of a comma-separated list of table names or globs to l
 * as dblog_list_split does, except that a comma inside double quotes
 * ("a,b".c) does not end an item. */
void dblog_table_list_split(struct dblog_list *l, const char *s);
/* Does the glob pat (fnmatch(3) syntax without flags: '*', '?', bracket
 * expressions with ranges, '!' or '^' and [:classes:], backslash escapes;
 * bytes, no locale) match all of s[0..n), NUL bytes included? 1 or 0. */
int dblog_glob(const char *pat, const char *s, size_t n);

/* ---------------------------------------------------------------- sql.c */

/* Append name as a quoted SQL identifier ("a""b"). */
void dblog_sql_ident(struct dblog_buf *b, const char *name);
/* Append s[0..n) as a quoted SQL string literal ('it''s'). */
void dblog_sql_string(struct dblog_buf *b, const char *s, size_t n);
/* Append s as a PostgreSQL literal, E'...' when it holds backslashes. */
void dblog_sql_literal_e(struct dblog_buf *b, const char *s);
/* Append the JSON array v as the text of a PostgreSQL array literal,
 * {1,"a b",NULL,{...}}: strings decoded, every element but NULL and a
 * nested array double-quoted; with json_elems (json[] and jsonb[]
 * columns) a string element is its JSON text, a nested array of strings,
 * nulls and such arrays another dimension, and any other element is kept
 * as JSON text (events written before json values were strings). tmp is
 * scratch space. */
void dblog_sql_pg_array(struct dblog_buf *out, struct dblog_span v, int json_elems,
			struct dblog_buf *tmp);

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
	int unterminated;       /* the last line of the input, without '\n' */
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
	int ref_set, ref_has_seq, ref_src_set, ref_ident_set;
	struct dblog_pos ref_pos;
	int64_t ref_seq;
	struct dblog_buf ref_src, scratch;
	struct dblog_buf ref_ident;   /* the source's identity, when known */
	/* a transaction read in part and not applied (the position object's
	 * "unfinished"): nothing after its pos may be applied before it */
	int hole_set;
	struct dblog_pos hole_pos;
};
/* Start from the committed position applied (stolen; NULL: none). */
void dblog_progress_init(struct dblog_progress *p, json_t *applied);
void dblog_progress_free(struct dblog_progress *p);
/* Is the event after the last position completed or committed? 1, 0; -1
 * when the positions are of incomparable kinds, -2 when the event comes
 * from another source (by name), -3 when it comes after an unfinished
 * transaction (see dblog_progress_unfinished), -4 when it comes from
 * another server under the source name recorded (the source objects'
 * "identity" differ; a position without one adopts the first seen, and
 * one of the old default name "postgres" is taken over by events named by
 * the new default "<database>@<system identifier>" of their identity). */
int dblog_progress_is_new(struct dblog_progress *p, const struct dblog_fields *f);
/* For the message of -4: the source name and the two identities,
 * "source \"NAME\" is recorded from the server with identity A; this event
 * comes from B". */
void dblog_progress_identity_clash(struct dblog_progress *p, const struct dblog_fields *f, char *out,
				   size_t n);
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
/* The transaction that began with the event f (a begin carrying "tx") was
 * read in part and is not applied: the batch's position gets the member
 * "unfinished" {"pos","tx"}, which stays in every later position until one
 * reaches that pos, and until then dblog_progress_is_new refuses events
 * after it (-3). */
void dblog_progress_unfinished(struct dblog_progress *p, const struct dblog_fields *f);
/* The text of the last committed position for messages: "pos 0/16B3748
 * (tx 731)", "pos 42 seq 3" or "nothing yet". */
void dblog_progress_describe(struct dblog_progress *p, char *out, size_t n);
/* The same for a position object (a checkpoint), NULL: "nothing yet". */
void dblog_position_describe(const json_t *pos, char *out, size_t n);
/* "transaction 731 (pos 0/16B3748)" of an event, for messages. */
void dblog_tx_describe(const struct dblog_fields *f, char *out, size_t n);

#endif
