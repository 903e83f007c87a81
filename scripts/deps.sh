#!/bin/sh
# deps.sh - make sure the Debian 12 packages dblog builds and tests with are
# installed: installs what is missing when run as root, otherwise prints the
# exact apt-get line and fails.
PKGS="build-essential pkg-config libpq-dev libsqlite3-dev libjansson-dev uuid-dev
bats jq sqlite3 postgresql-15 postgresql-client-15 postgresql-15-wal2json mandoc procps python3
zsh fish clang"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "deps: installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || exit 1
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >&2 || exit 1
	exit 0
fi
echo "deps: missing Debian packages:$missing" >&2
echo "deps: install them with:" >&2
echo "  sudo apt-get install -y$missing" >&2
exit 1
