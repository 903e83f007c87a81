#!/usr/bin/env bats
# Shell completions (completions/): every option they offer for a command is
# in that command's --help, and every option of --help is offered, in bash,
# zsh and fish. bash is checked by running its completion function; the zsh
# and fish files are read as text, so those checks run without zsh or fish.
# The live zsh and fish checks need the shell (scripts/deps.sh installs
# both, so make check runs them) and skip, with the reason, without it.
load helpers

setup() {
	setup_tmp
	COMPL="$ROOT_DIR/completions"
	mkdir "$T/empty" # completions of file names run here: nothing to find
}
teardown() { teardown_tmp; }

# ------------------------------------------------------------ extraction

# help_options CMD: the options listed by CMD --help (-t, --table, ...),
# from the lines that start with an option, up to its argument or text.
help_options() {
	"$1" --help | awk '/^[ \t]+-/ {
		for (i = 1; i <= NF; i++) {
			o = $i; sub(/,$/, "", o); sub(/[=[].*/, "", o)
			if (o !~ /^--?[[:alnum:]]/) break
			print o
		}
	}' | LC_ALL=C sort -u
}

# help_subcommands CMD: the subcommands in the Usage lines of CMD --help
# ("Usage: CMD SUB ..." and the "       CMD SUB ..." lines below it).
help_subcommands() {
	"$1" --help | awk -v c="$1" '
		$1 == "Usage:" && $2 == c && $3 ~ /^[a-z]+$/ { print $3 }
		$1 == c && $2 ~ /^[a-z]+$/ { print $2 }' | LC_ALL=C sort -u
}

# bash_complete WORD...: run the bash completion on the command line WORD...
# (the last word is the one being completed); print COMPREPLY, one a line.
bash_complete() {
	(cd "$T/empty" && bash -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
		_dblog || exit 1
		printf "%s\n" "${COMPREPLY[@]}"' _ "$COMPL/dblog.bash" "$@")
}

bash_commands() {
	bash -c 'source "$1"; complete -p' _ "$COMPL/dblog.bash" |
		awk '$2 == "-F" && $3 == "_dblog" { print $4 }' | LC_ALL=C sort -u
}

# bash_subcommands CMD: the subcommands in CMD's spec in the bash file.
bash_subcommands() {
	bash -c 'source "$1"; "_dblog_spec_$2"; printf "%s\n" "${_dblog_subcmds[@]}"' \
		_ "$COMPL/dblog.bash" "$1" | grep -v '^$' | LC_ALL=C sort -u
}

# bash_options CMD: the options offered after CMD and after each subcommand.
bash_options() {
	local sub
	{
		bash_complete "$1" -
		for sub in $(bash_subcommands "$1"); do bash_complete "$1" "$sub" -; done
	} | grep -v '^$' | LC_ALL=C sort -u
}

zsh_commands() {
	sed -n '1s/^#compdef //p' "$COMPL/_dblog" | tr ' ' '\n' | grep -v '^$' | LC_ALL=C sort -u
}

# zsh_function NAME: the body of the zsh function NAME.
zsh_function() {
	awk -v f="$1() {" '$0 == f { on = 1; next } on && /^}/ { exit } on' "$COMPL/_dblog"
}

# zsh_options CMD: the options in the _arguments specs of the function _CMD.
# Specs are quoted ('(-v --invert)--mask=[text]:message:action') or brace
# groups ({-t+,--table=}); command flags (_arguments -s, local -a) are neither.
zsh_options() {
	zsh_function "_$1" | grep -oE "'[^']*'|\{[^} ]*\}" | while IFS= read -r spec; do
		case $spec in
		\{*)
			spec=${spec#\{}; spec=${spec%\}}
			tr ',' '\n' <<<"$spec" ;;
		*)
			spec=${spec//\'/}
			spec=$(sed -E 's/\[[^]]*\]//g; s/^\([^)]*\)//; s/^\*//' <<<"$spec")
			grep -oE '^--?[[:alnum:]][[:alnum:]-]*' <<<"$spec" || true ;;
		esac
	done | sed -E 's/[+=-]+$//' | grep -E '^--?[[:alnum:]]' | LC_ALL=C sort -u
}

# zsh_subcommands CMD: the NAME:description entries of _CMD_commands
# (_dblog_checkpoint_commands for dblog-checkpoint).
zsh_subcommands() {
	local f=${1//-/_}
	zsh_function "_${f}_commands" | grep -oE "^[[:space:]]*'[a-z]+:" |
		tr -d "': \t" | LC_ALL=C sort -u
}

fish_commands() {
	awk '$1 == "complete" && $2 == "-c" { print $3 }' "$COMPL/dblog.fish" | LC_ALL=C sort -u
}

# fish_lines CMD: the complete lines of CMD with quoted text removed.
fish_lines() {
	awk -v c="$1" '$1 == "complete" && $2 == "-c" && $3 == c' "$COMPL/dblog.fish" |
		sed -E "s/'[^']*'//g; s/\"[^\"]*\"//g; s/#.*//"
}

# fish_options CMD: -s X, -l NAME and -o NAME of CMD's complete lines.
fish_options() {
	fish_lines "$1" | awk '{
		for (i = 4; i < NF; i++) {
			if ($i == "-s" || $i == "--short-option") print "-" $(i + 1)
			else if ($i == "-l" || $i == "--long-option") print "--" $(i + 1)
			else if ($i == "-o" || $i == "--old-option") print "-" $(i + 1)
		}
	}' | LC_ALL=C sort -u
}

# fish_subcommands CMD: the -a WORD of CMD's lines that offer no option.
fish_subcommands() {
	awk -v c="$1" '$1 == "complete" && $2 == "-c" && $3 == c' "$COMPL/dblog.fish" |
		grep -vE ' (-s|-l|-o) ' | grep -oE " -a [a-z]+( |$)" | awk '{ print $2 }' |
		LC_ALL=C sort -u
}

# ------------------------------------------------------------ comparisons

# words TEXT: the lines of TEXT on one line, separated by spaces.
words() { tr '\n' ' ' <<<"$1" | sed 's/ $//'; }

# all_commands_completed SHELL: SHELL's file completes every built binary.
# (It may also complete a command not built yet.)
all_commands_completed() {
	local missing
	"${1}_commands" >"$T/completed"
	missing=$(dblog_binaries | LC_ALL=C sort -u | LC_ALL=C comm -23 - "$T/completed")
	[ -z "$missing" ] || { echo "$1: no completion for: $(words "$missing")"; return 1; }
}

# options_match SHELL: for every command, every option SHELL's file offers
# is in --help, and every option in --help is offered.
options_match() {
	local cmd bad=0 extra missing
	for cmd in $(dblog_binaries); do
		help_options "$cmd" >"$T/help"
		"${1}_options" "$cmd" >"$T/offered"
		if [ ! -s "$T/offered" ]; then
			echo "$1: offers no option for $cmd"; bad=1; continue
		fi
		extra=$(LC_ALL=C comm -13 "$T/help" "$T/offered")
		missing=$(LC_ALL=C comm -23 "$T/help" "$T/offered")
		[ -z "$extra" ] || { echo "$1: $cmd: offered but not in --help: $(words "$extra")"; bad=1; }
		[ -z "$missing" ] || { echo "$1: $cmd: in --help but not offered: $(words "$missing")"; bad=1; }
	done
	return $bad
}

# subcommands_match SHELL: the subcommands offered are those of the Usage lines.
subcommands_match() {
	local cmd bad=0
	for cmd in $(dblog_binaries); do
		help_subcommands "$cmd" >"$T/help"
		"${1}_subcommands" "$cmd" >"$T/offered"
		diff -u "$T/help" "$T/offered" >/dev/null ||
			{ echo "$1: $cmd: subcommands $(words "$(cat "$T/offered")") != --help's $(words "$(cat "$T/help")")"; bad=1; }
	done
	return $bad
}

# ------------------------------------------------------------ the checks

@test "the --help parsing finds the options it should" {
	run help_options dblog-filter
	[ "$status" -eq 0 ]
	for o in -t --table -o --op --where --mask-key-file --rename-table --dlq -V --version; do
		[[ $'\n'"$output"$'\n' == *$'\n'"$o"$'\n'* ]] || { echo "missing $o"; return 1; }
	done
	run help_subcommands dblog-checkpoint
	[ "$output" = $'set\nshow\nsince\ntrack' ]
	run help_subcommands dblog-filter
	[ -z "$output" ]
}

@test "every completion file completes every built command" {
	all_commands_completed bash
	all_commands_completed zsh
	all_commands_completed fish
}

@test "bash: offered options are in --help and --help's options are offered" {
	options_match bash
}

@test "zsh: offered options are in --help and --help's options are offered" {
	options_match zsh
}

@test "fish: offered options are in --help and --help's options are offered" {
	options_match fish
}

@test "bash, zsh, fish: subcommands match the Usage lines of --help" {
	subcommands_match bash
	subcommands_match zsh
	subcommands_match fish
}

@test "bash: 'dblog-filter --ta' completes to --table" {
	run bash_complete dblog-filter --ta
	[ "$status" -eq 0 ]
	[ "$output" = "--table" ]
}

@test "bash: 'dblog-checkpoint s' completes to set show since" {
	run bash_complete dblog-checkpoint s
	[ "$status" -eq 0 ]
	[ "$(LC_ALL=C sort <<<"$output" | tr '\n' ' ')" = "set show since " ]
}

@test "bash: dblog-checkpoint offers each subcommand's own options" {
	run bash_complete dblog-checkpoint show --
	[ "$(LC_ALL=C sort <<<"$output" | tr '\n' ' ')" = "--help --json --version " ]
	run bash_complete dblog-checkpoint -u track --
	[[ "$output" == *--interval* && "$output" == *--every* && "$output" != *--json* ]]
}

@test "bash: -o/--op completes change ops, also in a comma list and after =" {
	run bash_complete dblog-filter -o ''
	[ "$output" = $'insert\nupdate\ndelete\ntruncate\nsnapshot' ]
	run bash_complete dblog-filter --op insert,u
	[ "$output" = "insert,update" ]
	run bash_complete dblog-filter --op = de
	[ "$output" = "delete" ]
	run bash_complete dblog-filter -vo update,insert,
	[ "$output" = $'update,insert,delete\nupdate,insert,truncate\nupdate,insert,snapshot' ]
}

@test "bash: words bash splits at = or : are completed whole" {
	touch "$T/cp.json"
	run bash_complete dblog-filter --dlq = "$T/c"
	[ "$output" = "$T/cp.json" ]
	run bash_complete dblog-capture --mode = snapshot_
	[ "$output" = "snapshot_then_cdc" ]
	run bash_complete dblog-capture sq
	[ "$output" = "sqlite:" ]
	run bash_complete dblog-capture sqlite : "$T/c"
	[ "$output" = "$T/cp.json" ]
}

@test "bash: FILE arguments complete file names, EXPR does not" {
	touch "$T/cp.json" "$T/dead.ndjson"
	run bash_complete dblog-checkpoint show "$T/cp"
	[ "$output" = "$T/cp.json" ]
	run bash_complete dblog-filter --dlq "$T/de"
	[ "$output" = "$T/dead.ndjson" ]
	run bash_complete dblog-filter -w "$T/de"
	[ -z "$output" ]
}

@test "zsh: the file parses and registers every command (needs zsh)" {
	command -v zsh >/dev/null || skip "zsh is not installed"
	zsh -n "$COMPL/_dblog"
	run zsh -f -c 'autoload -U compinit && compinit -u -D && source "$1" &&
		for c in ${(f)2}; do print -r -- "$c=$_comps[$c]"; done' _ "$COMPL/_dblog" "$(dblog_binaries)"
	[ "$status" -eq 0 ]
	for c in $(dblog_binaries); do
		[[ $'\n'"$output"$'\n' == *$'\n'"$c=_dblog"$'\n'* ]] || { echo "$output"; return 1; }
	done
}

# fish_complete LINE: what fish completes for LINE, without descriptions.
fish_complete() {
	# shellcheck disable=SC2016 # fish expands $argv
	(cd "$T/empty" && fish --no-config -c 'source $argv[1]; complete -C $argv[2]' \
		"$COMPL/dblog.fish" "$1") | cut -f1
}

@test "fish: the file parses and completes --ta, s and -o lists (needs fish)" {
	command -v fish >/dev/null || skip "fish is not installed"
	fish --no-execute "$COMPL/dblog.fish"
	run fish_complete 'dblog-filter --ta'
	[ "$output" = "--table" ]
	run fish_complete 'dblog-checkpoint s'
	[ "$(LC_ALL=C sort <<<"$output" | tr '\n' ' ')" = "set show since " ]
	run fish_complete 'dblog-filter -o insert,u'
	[ "$output" = "insert,update" ]
}
