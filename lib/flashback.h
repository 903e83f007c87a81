/* flashback.h - the engine's state, shared by flashback.c (reading the
 * window) and flashback_out.c (writing it back newest first). Private to
 * libdblog; same ownership rule as dblog.h. */
#ifndef DBLOG_FLASHBACK_PRIV_H
#define DBLOG_FLASHBACK_PRIV_H

#include "dblog.h"
#include "dblog_flashback.h"

/* Record types of the store, in reading (forward) order. */
#define REC_BEGIN 'B'   /* an undone transaction starts: its origin fields */
#define REC_CHANGE 'X'  /* a compensating change */
#define REC_COMMIT 'C'  /* the undone transaction ends: its origin fields */

#define REPORT_MAX 1000 /* report lines kept; the rest are counted */
#define PLAN_TX 20      /* transactions listed by --plan */

/* One undone transaction, for --plan. */
struct fb_txinfo {
	char pos[32], tx[32], time[40];
	uint64_t n;
};

struct dblog_fb {
	struct dblog_fb_opts o;
	FILE *out;
	struct dblog_fbstore *st;
	struct dblog_fbtables tables;
	struct dblog_fbrows *rows;          /* --check-later */
	struct dblog_fbrefusal ref;
	struct dblog_buf scratch, name, kba, key_old, key_new, rec, expand, hold;
	/* the source: name and driver of the first event that has one */
	char *src_name, *driver;
	struct dblog_pos newest;            /* the newest position on the input */
	int newest_set;
	int64_t newest_time;
	int newest_time_set;
	/* the transaction being read (or a group of changes outside one) */
	int in_tx, lone, tx_open, cascade;
	struct dblog_buf tx_pos, tx_tx, tx_time;   /* raw JSON values */
	struct dblog_buf tx_undo;           /* its origin fields */
	uint64_t tx_n;
	/* transactions read again (a capture restarted before where it had
	 * got) are skipped, as dblog-apply skips them */
	struct dblog_pos done;              /* the last transaction read whole */
	int done_set, skipping;
	uint64_t skipped;
	/* results */
	uint64_t ntx, nchanges, nrefused, nconflicts, nleft;
	struct dblog_buf report, left;
	uint64_t report_n, left_n;
	struct fb_txinfo recent[PLAN_TX];
	size_t nrecent;
	int fatal;
};

/* flashback_window.c */
/* Is f (a change or a schema event) in the window, by position, time,
 * transaction and table? Sets fb->fatal (message printed) when positions
 * of different kinds meet. */
int dblog_fb_in_window(struct dblog_fb *fb, const struct dblog_fields *f, uint64_t lineno);
/* Is f a change that the window, -o and --where select? */
int dblog_fb_selected(struct dblog_fb *fb, const struct dblog_fields *f, uint64_t lineno);

/* flashback_out.c */
/* Write the plan, the events or the SQL; the exit status. */
int dblog_fb_output(struct dblog_fb *fb);
/* Print the report of refusals and conflicts to f (a header line first). */
void dblog_fb_report(struct dblog_fb *fb, FILE *f);

#endif
