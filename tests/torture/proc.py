# proc.py - processes of the torture suite: running commands, and its own
# PostgreSQL cluster (tests/lib/pgcluster.sh).
import json
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 120


class Failure(Exception):
    pass


class Accepted(Exception):
    """The pipeline stopped with a clear message where it must (a fault it
    may refuse): the case passes without a comparison."""


# ------------------------------------------------------------ processes

def run(cmd, stdin=None, timeout=TIMEOUT, env=None, check=True, input=None):
    p = subprocess.run(cmd, stdin=stdin, input=input, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout, env=env)
    if check and p.returncode != 0:
        raise Failure("%s: status %d: %s" % (" ".join(cmd)[:200], p.returncode,
                                            p.stderr.decode("utf-8", "replace")[-2000:]))
    return p


class Pg:
    """The suite's own PostgreSQL 15 cluster (tests/lib/pgcluster.sh)."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "pg")
        out = run(["bash", "-c", '. "$1/tests/lib/pgcluster.sh" && pg_start "$2" && '
                   'echo "$PGHOST $PGPORT"', "-", ROOT, self.dir]).stdout.decode().split()
        self.host, self.port = out[0], out[1]
        self.env = dict(os.environ, PGHOST=self.host, PGPORT=self.port, PGUSER="postgres",
                        PGDATABASE="postgres")
        self.psql("postgres", "ALTER SYSTEM SET lc_monetary = 'C'; SELECT pg_reload_conf();")
        if os.environ.get("TORTURE_SYNC_COMMIT"):
            self.psql("postgres", "ALTER SYSTEM SET synchronous_commit = on; SELECT pg_reload_conf();")

    def conninfo(self, db):
        return "host=%s port=%s user=postgres dbname=%s" % (self.host, self.port, db)

    def psql(self, db, sql, opts=""):
        env = dict(self.env, PGOPTIONS="-c lock_timeout=20s " + opts)
        p = run(["psql", "-qXAt", "-v", "ON_ERROR_STOP=1", "-d", db, "-f", "-"],
                input=sql.encode(), env=env, check=False)
        if p.returncode != 0:
            err = p.stderr.decode("utf-8", "replace")
            m = re.search(r"<stdin>:(\d+):", err)
            at = sql.split("\n")[int(m.group(1)) - 1] if m and int(m.group(1)) <= sql.count("\n") + 1 else sql
            raise Failure("psql: %s\n  at: %s" % (err[-1500:], at[:600]))
        return p.stdout.decode()

    def rows(self, db, query, opts=""):
        """query's rows, each a list of its columns' values (give text
        columns: their JSON form is read)."""
        out = self.psql(db, "SELECT (SELECT json_agg(value) FROM json_each(row_to_json(q_))) "
                        "FROM (%s) q_;" % query, opts)
        return [json.loads(line) for line in out.splitlines() if line]

    def restart(self, mode):
        """Restart the server (mode immediate: a crash), and wait for it."""
        run(["bash", "-c", '. "$1/tests/lib/pgcluster.sh" && pg_as_owner "$PG_BIN/pg_ctl" -D "$2/data" '
             '-l "$2/server.log" -m "$3" -w -t 60 restart', "-", ROOT, self.dir, mode])

    def stop(self):
        run(["bash", "-c", '. "$1/tests/lib/pgcluster.sh" && pg_stop "$2"', "-", ROOT, self.dir],
            check=False)
