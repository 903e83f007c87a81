# dblog.bash - bash completion for the dblog commands.
#
# Installed once per command name (bash-completion loads completions/NAME
# when NAME is first completed); sourcing it registers every command at once.
# Needs bash only, not the bash-completion package.
#
# To add a command NAME: write a function _dblog_spec_NAME below, like the
# others. It sets
#   _dblog_opts     one entry per option: "SHORT LONG ARG [SUBCMDS]"
#                   SHORT, LONG  the option's names, '-' for none
#                   ARG          '-' no argument, FILE a file name, OPS a
#                                comma list of change ops, DB a database
#                                (sqlite:PATH), A|B|C one of these
#                                words, WORD any other value (nothing to
#                                complete)
#                   SUBCMDS      comma list of the subcommands that take the
#                                option (absent: all of them)
#   _dblog_subcmds  the subcommands, if the command has any
#   _dblog_operand  what the other arguments are: an ARG type
# Every _dblog_spec_* function is registered with `complete` at the end.
# Keep the entries in the order of the command's --help;
# tests/90-completions.bats checks them against it.

_dblog_spec_dblog-filter() {
	_dblog_subcmds=()
	_dblog_operand=WORD    # EXPR
	_dblog_opts=(
		# selection
		'-t --table WORD'
		'-T --exclude-table WORD'
		'-o --op OPS'
		'-w --where WORD'
		'-v --invert -'
		# projection and privacy
		'-c --columns WORD'
		'-x --exclude-columns WORD'
		'- --mask WORD'
		'- --mask-key WORD'
		'- --mask-key-file FILE'
		'- --rename-table WORD'
		# common
		'- --dlq FILE'
		'-u --unbuffered -'
		'-h --help -'
		'-V --version -'
	)
}

_dblog_spec_dblog-capture() {
	_dblog_subcmds=()
	_dblog_operand=DB      # SOURCE
	_dblog_opts=(
		# setup
		'- --setup -'
		'- --teardown -'
		'- --tables WORD'
		'- --replica-identity-full -'
		'- --migrate WORD'
		# reading
		'-m --mode cdc|snapshot|snapshot_then_cdc|incremental'
		'- --cursor WORD'
		'-n --name WORD'
		'-c --checkpoint FILE'
		'-f --follow -'
		'- --until-caught-up -'
		'- --poll-interval WORD'
		'- --prune -'
		# PostgreSQL
		'- --slot WORD'
		'- --publication WORD'
		'- --heartbeat WORD'
		'- --endpos WORD'
		'- --status-interval WORD'
		'- --retry WORD'
		'- --snapshot-jobs WORD'
		# common
		'-u --unbuffered -'
		'-h --help -'
		'-V --version -'
	)
}

_dblog_spec_dblog-apply() {
	_dblog_subcmds=()
	_dblog_operand=DB      # DEST
	_dblog_opts=(
		# progress
		'-s --stream WORD'
		'-c --checkpoint FILE'
		# conflicts
		'- --conflict source_wins|dest_wins|last_writer_wins|manual_review'
		# batching
		'- --batch-rows WORD'
		'- --batch-bytes WORD'
		'- --batch-ms WORD'
		# mapping
		'- --map-table WORD'
		'- --map-schema WORD'
		'- --create-tables -'
		# common
		'- --dry-run -'
		'- --dlq FILE'
		'-u --unbuffered -'
		'-h --help -'
		'-V --version -'
	)
}

_dblog_spec_dblog-txbuf() {
	_dblog_subcmds=()
	_dblog_operand=WORD    # no operands
	_dblog_opts=(
		# completeness
		'- --poll-interval WORD'
		'- --max-wait WORD'
		# batching and limits
		'- --batch-rows WORD'
		'- --batch-ms WORD'
		'- --max-tx WORD'
		'- --max-bytes WORD'
		'- --max-memory WORD'
		'- --spill-dir FILE'
		# output
		'- --as-tx -'
		'- --flush-incomplete -'
		'- --stats -'
		# common
		'- --dlq FILE'
		'-u --unbuffered -'
		'-h --help -'
		'-V --version -'
	)
}

_dblog_spec_dblog-flashback() {
	_dblog_subcmds=()
	_dblog_operand=WORD    # no operands
	_dblog_opts=(
		# window
		'- --since WORD'
		'- --until WORD'
		'- --tx WORD'
		'-t --table WORD'
		'-o --op OPS'
		'-w --where WORD'
		# safety
		'- --allow-partial -'
		'- --check-later -'
		'- --cascade -'
		'- --nonconflict-only -'
		# output
		'- --sql postgres|sqlite'
		'- --plan -'
		'- --max-memory WORD'
		'- --spill-dir FILE'
		'- --dlq FILE'
		'-u --unbuffered -'
		'-h --help -'
		'-V --version -'
	)
}

_dblog_spec_dblog-checkpoint() {
	_dblog_subcmds=(show set track since)
	_dblog_operand=FILE    # the checkpoint file
	_dblog_opts=(
		'- --json - show'
		'- --pos WORD set,since'
		'- --seq WORD set,since'
		'- --time WORD set,since'
		'- --interval WORD track'
		'- --every WORD track'
		'- --dlq FILE track,since'
		'-u --unbuffered - track,since'
		'-h --help -'
		'-V --version -'
	)
}

_dblog_spec_dblogctl() {
	_dblog_subcmds=(upsert delete list status run start stop pause resume replay checkpoint conflicts)
	_dblog_operand=WORD    # the stream NAME
	_dblog_opts=(
		'- --home FILE'
		# upsert
		'- --source DB upsert'
		'- --dest DB upsert'
		'- --mode cdc|snapshot|snapshot_then_cdc upsert'
		'- --tables WORD upsert'
		'- --filter WORD upsert'
		'- --conflict source_wins|dest_wins|last_writer_wins|manual_review upsert'
		'- --checkpoint-interval WORD upsert'
		'- --region WORD upsert'
		'- --auth-ref WORD upsert'
		'- --archive WORD upsert'
		'- --force - upsert'
		# the other commands
		'- --teardown - delete'
		'- --json - list,status,conflicts'
		'- --once - run'
		'- --from FILE replay'
		'- --set WORD checkpoint'
		'- --retry WORD conflicts'
		'- --discard WORD conflicts'
		'-h --help -'
		'-V --version -'
	)
}

# ------------------------------------------------------------------ engine

# The change ops that -o/--op takes.
_dblog_ops=(insert update delete truncate snapshot)

# _dblog_argtype OPTION: print the ARG of OPTION ("--op", or a cluster of
# short options like "-vo", whose last option may take the next word);
# print nothing when the next word is not OPTION's argument.
_dblog_argtype() {
	local w=$1 e s l a rest i c
	for e in "${_dblog_opts[@]}"; do
		read -r s l a rest <<<"$e"
		if [[ $w == --* ]]; then
			[[ $w == "$l" ]] && { [[ $a != - ]] && printf '%s\n' "$a"; return; }
		elif [[ $w == -? ]]; then
			[[ $w == "$s" ]] && { [[ $a != - ]] && printf '%s\n' "$a"; return; }
		fi
	done
	# a cluster: -vo takes the next word if o is its first option with an argument
	[[ $w == -[!-]?* ]] || return
	for ((i = 1; i < ${#w}; i++)); do
		c=-${w:i:1}
		for e in "${_dblog_opts[@]}"; do
			read -r s l a rest <<<"$e"
			[[ $c == "$s" && $a != - ]] || continue
			((i == ${#w} - 1)) && printf '%s\n' "$a"
			return
		done
	done
}

# _dblog_values TYPE CUR [PREFIX]: fill COMPREPLY with the values of TYPE
# that complete CUR, each after PREFIX (--op= for --op=CUR).
_dblog_values() {
	local type=$1 cur=$2 prefix=${3-} list op
	COMPREPLY=()
	case $type in
	FILE)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		;;
	DB)
		if [[ $cur == sqlite:* ]]; then
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -P sqlite: -- "${cur#sqlite:}")
		else
			compopt -o nospace 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -W sqlite: -- "$cur")
		fi
		;;
	OPS)
		# the last item of a comma list, leaving out the ops already listed
		list=${cur%"${cur##*,}"}
		for op in "${_dblog_ops[@]}"; do
			[[ ,$list == *,"$op",* ]] && continue
			[[ $list$op == "$cur"* ]] && COMPREPLY+=("$list$op")
		done
		;;
	*'|'*)
		mapfile -t COMPREPLY < <(compgen -W "${type//|/ }" -- "$cur")
		;;
	esac
	[[ -n $prefix ]] && COMPREPLY=("${COMPREPLY[@]/#/"$prefix"}")
	return 0
}

# _dblog_words: set words and cword from COMP_WORDS and COMP_CWORD, putting
# back together what bash split at '=' or ':' (--op=insert, sqlite:PATH);
# set skip to the start of the current word that bash will not replace.
_dblog_words() {
	local i w glue=0
	words=() cword=0 skip=
	for ((i = 0; i < ${#COMP_WORDS[@]} && i <= COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if ((i > 1)) && [[ $glue == 1 || $w =~ ^[=:]+$ ]]; then
			words[-1]+=$w
		else
			words+=("$w")
		fi
		[[ $w =~ ^[=:]+$ ]] && glue=1 || glue=0
	done
	cword=$((${#words[@]} - 1))
	w=${COMP_WORDS[COMP_CWORD]}
	if [[ $w =~ ^[=:]+$ ]]; then
		skip=${words[cword]}
	else
		skip=${words[cword]%"$w"}
	fi
}

# _dblog_optwords SUBCMD: print the option names valid with SUBCMD ('' for
# none yet: then every option).
_dblog_optwords() {
	local sub=$1 e s l a subs
	for e in "${_dblog_opts[@]}"; do
		read -r s l a subs <<<"$e"
		[[ -n $sub && -n $subs && ,$subs, != *,"$sub",* ]] && continue
		[[ $s != - ]] && printf '%s\n' "$s"
		[[ $l != - ]] && printf '%s\n' "$l"
	done
}

# The completion function of every dblog command.
_dblog() {
	local cmd=${COMP_WORDS[0]##*/} cur prev type sub='' i w
	local -a words _dblog_opts _dblog_subcmds
	local cword skip _dblog_operand
	declare -F "_dblog_spec_$cmd" >/dev/null || return 0
	"_dblog_spec_$cmd"
	_dblog_words
	((cword >= 1)) || return 0
	cur=${words[cword]} prev=${words[cword - 1]}

	# the subcommand: the first word that is neither an option nor an
	# option's argument
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		if [[ $w == -?* ]]; then
			[[ $w == --*=* ]] && continue
			[[ -n $(_dblog_argtype "$w") ]] && ((i++))
		else
			[[ $w != -- ]] && ((${#_dblog_subcmds[@]})) && sub=$w
			break
		fi
	done

	if [[ $cur == --*=* ]]; then
		_dblog_values "$(_dblog_argtype "${cur%%=*}")" "${cur#*=}" "${cur%%=*}="
	elif type=$(_dblog_argtype "$prev") && [[ -n $type ]]; then
		_dblog_values "$type" "$cur"
	elif [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_dblog_optwords "$sub")" -- "$cur")
	elif ((${#_dblog_subcmds[@]})) && [[ -z $sub ]]; then
		mapfile -t COMPREPLY < <(compgen -W "${_dblog_subcmds[*]}" -- "$cur")
	else
		_dblog_values "$_dblog_operand" "$cur"
	fi
	# bash replaces only what follows the last '=' or ':' of the word
	[[ -n $skip ]] && COMPREPLY=("${COMPREPLY[@]#"$skip"}")
	return 0
}

# Register every command that has a _dblog_spec_* function.
_dblog_register() {
	local f
	for f in $(compgen -A function -- _dblog_spec_); do
		complete -F _dblog "${f#_dblog_spec_}"
	done
}
_dblog_register
unset -f _dblog_register
