# dblog.fish - fish completion for the dblog commands.
#
# Fish loads completions by command name, so make install puts a copy of
# this file in vendor_completions.d/ once per command (dblog-filter.fish,
# ...); whichever is loaded first defines them all, and loading it again is
# harmless. Sourcing it by hand works too.
#
# To add a command NAME: add a block of `complete -c NAME` lines below, like
# the others (options in the order of the command's --help, one line per
# option; tests/90-completions.bats checks them against it).

# A comma list of change ops, for -o/--op: completes the item after the last
# comma and leaves out the ops already listed.
function __dblog_ops
    set -l token (commandline -ct)
    set -l token (string replace -r -- '^(--op=|-o)' '' $token)
    set -l prefix (string match -r -- '^.*,' $token)
    for op in insert update delete truncate snapshot
        contains -- $op (string split -- , $prefix)
        or printf '%s%s\n' "$prefix" $op
    end
end

# A database (capture's SOURCE, apply's DEST): sqlite:PATH.
function __dblog_db
    set -l token (commandline -ct)
    if string match -q -- 'sqlite:*' $token
        for f in (__fish_complete_path (string replace -- sqlite: '' $token))
            printf 'sqlite:%s\n' $f
        end
    else
        echo sqlite:
    end
end

# ----------------------------------------------------------- dblog-apply
complete -c dblog-apply -f -a '(__dblog_db)' # the DEST
# progress
complete -c dblog-apply -s s -l stream -x -d 'name of the applied position kept in DEST'
complete -c dblog-apply -s c -l checkpoint -r -F -d 'write the checkpoint after every commit'
# conflicts
complete -c dblog-apply -l conflict -x -a 'source_wins dest_wins last_writer_wins manual_review' -d 'conflict policy'
# batching
complete -c dblog-apply -l batch-rows -x -d 'commit after N changes (default 1000)'
complete -c dblog-apply -l batch-bytes -x -d 'commit after SIZE of events (default 16M)'
complete -c dblog-apply -l batch-ms -x -d 'commit after DUR, or when input is idle that long'
# mapping
complete -c dblog-apply -l map-table -x -d 'apply events of table FROM (a glob) to table TO'
complete -c dblog-apply -l map-schema -x -d 'apply events of schema FROM to schema TO'
complete -c dblog-apply -l create-tables -d 'create missing tables from schema events'
# common
complete -c dblog-apply -l dry-run -d 'print the SQL instead of running it'
complete -c dblog-apply -l dlq -r -F -d 'park bad events and conflicts in FILE and go on'
complete -c dblog-apply -s u -l unbuffered -d 'flush --dry-run output after every statement'
complete -c dblog-apply -s h -l help -d 'show the help and exit'
complete -c dblog-apply -s V -l version -d 'show the version and exit'

# --------------------------------------------------------- dblog-capture
complete -c dblog-capture -f -a '(__dblog_db)' # the SOURCE
# setup
complete -c dblog-capture -l setup -d 'create the changelog and triggers'
complete -c dblog-capture -l teardown -d 'remove the changelog and triggers'
complete -c dblog-capture -l tables -x -d 'only these tables (default: all)'
complete -c dblog-capture -l replica-identity-full -d 'setup: REPLICA IDENTITY FULL on tables without a key'
complete -c dblog-capture -l migrate -x -d 'SQLite, with --setup: run SQL and make the triggers anew'
# reading
complete -c dblog-capture -s m -l mode -x -a 'cdc snapshot snapshot_then_cdc incremental' -d 'what to read'
complete -c dblog-capture -l cursor -x -d 'incremental: the column that grows with every change'
complete -c dblog-capture -s n -l name -x -d 'source name in events'
complete -c dblog-capture -s c -l checkpoint -r -F -d 'resume after the position FILE records'
complete -c dblog-capture -s f -l follow -d 'keep reading new changes'
complete -c dblog-capture -l until-caught-up -d 'stop once everything committed at start is out'
complete -c dblog-capture -l poll-interval -x -d 'how often to look for changes (default 500ms)'
complete -c dblog-capture -l prune -d 'delete changelog rows the checkpoint covers'
complete -c dblog-capture -l slot -x -d 'logical replication slot (default: dblog)'
complete -c dblog-capture -l publication -x -d 'publication (default: dblog)'
complete -c dblog-capture -l heartbeat -x -d 'emit a heartbeat after DUR without events'
complete -c dblog-capture -l endpos -x -d 'stop after the transactions committed up to LSN'
complete -c dblog-capture -l status-interval -x -d 'standby status updates (default 10s)'
complete -c dblog-capture -l retry -x -d 'connect again up to N times on a lost connection'
complete -c dblog-capture -l snapshot-jobs -x -d 'read the snapshot on N connections at once'
# common
complete -c dblog-capture -s u -l unbuffered -d 'flush after every event'
complete -c dblog-capture -s h -l help -d 'show the help and exit'
complete -c dblog-capture -s V -l version -d 'show the version and exit'

# ---------------------------------------------------------- dblog-filter
complete -c dblog-filter -f # the argument is an EXPR, not a file
# selection
complete -c dblog-filter -s t -l table -x -d 'keep tables matching GLOB'
complete -c dblog-filter -s T -l exclude-table -x -d 'drop tables matching GLOB'
complete -c dblog-filter -s o -l op -x -a '(__dblog_ops)' -d 'keep these ops'
complete -c dblog-filter -s w -l where -x -d 'keep events for which EXPR is true'
complete -c dblog-filter -s v -l invert -d 'keep the events the selection would drop'
# projection and privacy
complete -c dblog-filter -s c -l columns -x -d 'keep only these columns'
complete -c dblog-filter -s x -l exclude-columns -x -d 'drop these columns'
complete -c dblog-filter -l mask -x -d 'replace the values of these columns with a keyed hash'
complete -c dblog-filter -l mask-key -x -d 'the hash key'
complete -c dblog-filter -l mask-key-file -r -F -d 'read the hash key from FILE'
complete -c dblog-filter -l rename-table -x -d 'rename tables FROM=TO; FROM may be a glob'
# common
complete -c dblog-filter -l dlq -r -F -d 'append bad input lines to FILE and go on'
complete -c dblog-filter -s u -l unbuffered -d 'flush after every event'
complete -c dblog-filter -s h -l help -d 'show the help and exit'
complete -c dblog-filter -s V -l version -d 'show the version and exit'

# ----------------------------------------------------------- dblog-txbuf
complete -c dblog-txbuf -f # no operands
# completeness
complete -c dblog-txbuf -l poll-interval -x -d 'poll interval of a source without markers (default 500ms)'
complete -c dblog-txbuf -l max-wait -x -d 'deliver a transaction that waited DUR (default 1m)'
# batching and limits
complete -c dblog-txbuf -l batch-rows -x -d 'deliver transactions together until they hold N changes'
complete -c dblog-txbuf -l batch-ms -x -d 'or until the batch is DUR old'
complete -c dblog-txbuf -l max-tx -x -d 'at most N pending transactions (default 10000)'
complete -c dblog-txbuf -l max-bytes -x -d 'at most SIZE of pending events (default 1G)'
complete -c dblog-txbuf -l max-memory -x -d 'keep at most SIZE in memory, spill the rest (default 64M)'
complete -c dblog-txbuf -l spill-dir -x -a '(__fish_complete_directories)' -d 'where spill files go'
# output
complete -c dblog-txbuf -l as-tx -d 'one line per transaction'
complete -c dblog-txbuf -l flush-incomplete -d 'deliver transactions that never committed at end of input'
complete -c dblog-txbuf -l stats -d 'print counts on stderr at exit and on SIGUSR1'
# common
complete -c dblog-txbuf -l dlq -r -F -d 'append bad input lines to FILE and go on'
complete -c dblog-txbuf -s u -l unbuffered -d 'flush after every event'
complete -c dblog-txbuf -s h -l help -d 'show the help and exit'
complete -c dblog-txbuf -s V -l version -d 'show the version and exit'

# ------------------------------------------------------ dblog-checkpoint
set -l subcmds show set track since
complete -c dblog-checkpoint -f
complete -c dblog-checkpoint -n "not __fish_seen_subcommand_from $subcmds" -a show -d 'print the checkpoint'
complete -c dblog-checkpoint -n "not __fish_seen_subcommand_from $subcmds" -a set -d 'write a checkpoint at POS'
complete -c dblog-checkpoint -n "not __fish_seen_subcommand_from $subcmds" -a track -d 'pass events through and record the position'
complete -c dblog-checkpoint -n "not __fish_seen_subcommand_from $subcmds" -a since -d 'pass only the events after a checkpoint, POS or T'
complete -c dblog-checkpoint -n "__fish_seen_subcommand_from $subcmds" -F # the checkpoint FILE
complete -c dblog-checkpoint -n '__fish_seen_subcommand_from show' -l json -d 'print the checkpoint as JSON'
complete -c dblog-checkpoint -n '__fish_seen_subcommand_from set since' -l pos -x -d 'an LSN (0/16B3748) or a sequence number'
complete -c dblog-checkpoint -n '__fish_seen_subcommand_from set since' -l seq -x -d 'changes at POS up to seq N are covered'
complete -c dblog-checkpoint -n '__fish_seen_subcommand_from set since' -l time -x -d 'RFC 3339 time or relative (2h, 30m ago)'
complete -c dblog-checkpoint -n '__fish_seen_subcommand_from track' -l interval -x -d 'write at most this often (default 1s)'
complete -c dblog-checkpoint -n '__fish_seen_subcommand_from track' -l every -x -d 'also write after every N transactions'
complete -c dblog-checkpoint -n '__fish_seen_subcommand_from track since' -l dlq -r -F -d 'append bad input lines to FILE and go on'
complete -c dblog-checkpoint -n '__fish_seen_subcommand_from track since' -s u -l unbuffered -d 'flush after every event'
complete -c dblog-checkpoint -s h -l help -d 'show the help and exit'
complete -c dblog-checkpoint -s V -l version -d 'show the version and exit'

# -------------------------------------------------------------- dblogctl
set -l ctlcmds upsert delete list status run start stop pause resume replay checkpoint conflicts
complete -c dblogctl -f
complete -c dblogctl -n "not __fish_seen_subcommand_from $ctlcmds" -a upsert -d 'create or replace a stream'
complete -c dblogctl -n "not __fish_seen_subcommand_from $ctlcmds" -a delete -d 'remove a stream'
complete -c dblogctl -n "not __fish_seen_subcommand_from $ctlcmds" -a list -d 'list the streams'
complete -c dblogctl -n "not __fish_seen_subcommand_from $ctlcmds" -a status -d 'show the status of streams'
complete -c dblogctl -n "not __fish_seen_subcommand_from $ctlcmds" -a run -d 'run a stream in the foreground'
complete -c dblogctl -n "not __fish_seen_subcommand_from $ctlcmds" -a start -d 'run a stream in the background'
complete -c dblogctl -n "not __fish_seen_subcommand_from $ctlcmds" -a stop -d 'stop a background stream'
complete -c dblogctl -n "not __fish_seen_subcommand_from $ctlcmds" -a pause -d 'stop a stream and keep it from running'
complete -c dblogctl -n "not __fish_seen_subcommand_from $ctlcmds" -a resume -d 'let a paused stream run again'
complete -c dblogctl -n "not __fish_seen_subcommand_from $ctlcmds" -a replay -d 'apply the archive again from a point'
complete -c dblogctl -n "not __fish_seen_subcommand_from $ctlcmds" -a checkpoint -d 'show or set the checkpoint'
complete -c dblogctl -n "not __fish_seen_subcommand_from $ctlcmds" -a conflicts -d 'list, retry or discard parked conflicts'
complete -c dblogctl -l home -r -F -d 'the state directory'
# upsert
complete -c dblogctl -n '__fish_seen_subcommand_from upsert' -l source -x -a '(__dblog_db)' -d 'the source database'
complete -c dblogctl -n '__fish_seen_subcommand_from upsert' -l dest -x -a '(__dblog_db)' -d 'the destination database'
complete -c dblogctl -n '__fish_seen_subcommand_from upsert' -l mode -x -a 'cdc snapshot snapshot_then_cdc' -d 'what to read'
complete -c dblogctl -n '__fish_seen_subcommand_from upsert' -l tables -x -d 'the tables to capture'
complete -c dblogctl -n '__fish_seen_subcommand_from upsert' -l filter -x -d 'pass only the events EXPR selects'
complete -c dblogctl -n '__fish_seen_subcommand_from upsert' -l conflict -x -a 'source_wins dest_wins last_writer_wins manual_review' -d 'conflict policy'
complete -c dblogctl -n '__fish_seen_subcommand_from upsert' -l checkpoint-interval -x -d 'commit and checkpoint at least this often'
complete -c dblogctl -n '__fish_seen_subcommand_from upsert' -l region -x -d 'a label'
complete -c dblogctl -n '__fish_seen_subcommand_from upsert' -l auth-ref -x -d 'where the password lives: env:VAR or file:PATH'
complete -c dblogctl -n '__fish_seen_subcommand_from upsert' -l archive -x -d 'keep the events for DUR'
complete -c dblogctl -n '__fish_seen_subcommand_from upsert' -l force -d 'allow a new source for a stream with a checkpoint'
# the other commands
complete -c dblogctl -n '__fish_seen_subcommand_from delete' -l teardown -d 'also remove the slot and publication or triggers'
complete -c dblogctl -n '__fish_seen_subcommand_from list status conflicts' -l json -d 'print JSON'
complete -c dblogctl -n '__fish_seen_subcommand_from run' -l once -d 'until caught up, then exit'
complete -c dblogctl -n '__fish_seen_subcommand_from replay' -l from -r -F -d 'a position, a time or a checkpoint file'
complete -c dblogctl -n '__fish_seen_subcommand_from checkpoint' -l set -x -d 'set the position'
complete -c dblogctl -n '__fish_seen_subcommand_from conflicts' -l retry -x -d 'apply the parked change after all'
complete -c dblogctl -n '__fish_seen_subcommand_from conflicts' -l discard -x -d 'drop the parked change'
complete -c dblogctl -s h -l help -d 'show the help and exit'
complete -c dblogctl -s V -l version -d 'show the version and exit'

# ------------------------------------------------------- dblog-flashback
complete -c dblog-flashback -f # no operands
# window
complete -c dblog-flashback -l since -x -d 'undo what was committed after POS or TIME'
complete -c dblog-flashback -l until -x -d 'and at or before POS or TIME'
complete -c dblog-flashback -l tx -x -d 'undo transaction ID'
complete -c dblog-flashback -s t -l table -x -d 'only tables matching GLOB'
complete -c dblog-flashback -s o -l op -x -a '(__dblog_ops)' -d 'only these ops'
complete -c dblog-flashback -s w -l where -x -d 'only changes for which EXPR is true'
# safety
complete -c dblog-flashback -l allow-partial -d 'write what can be undone and report the rest'
complete -c dblog-flashback -l check-later -d 'find rows that later changes touched again, and refuse'
complete -c dblog-flashback -l cascade -d 'undo those later transactions too'
complete -c dblog-flashback -l nonconflict-only -d 'leave those rows alone and undo the rest'
# output
complete -c dblog-flashback -l sql -x -a 'postgres sqlite' -d 'SQL instead of events'
complete -c dblog-flashback -l plan -d 'a summary for review instead of events'
complete -c dblog-flashback -l max-memory -x -d 'keep at most SIZE in memory (default 64M)'
complete -c dblog-flashback -l spill-dir -x -a '(__fish_complete_directories)' -d 'where temporary files go'
complete -c dblog-flashback -l dlq -r -F -d 'append bad input lines to FILE and go on'
complete -c dblog-flashback -s u -l unbuffered -d 'flush after every event'
complete -c dblog-flashback -s h -l help -d 'show the help and exit'
complete -c dblog-flashback -s V -l version -d 'show the version and exit'
