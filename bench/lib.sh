# Helpers of the bench/*/run.sh scripts, sourced after their `set -euo
# pipefail`: logging, RESULT-line fields, statistics, and what the results
# files say about the machine.

log() { echo "$@" >&2; }
die() { log "run.sh: $*"; exit 1; }
# kv LINE KEY: the value of KEY=... in a RESULT line
kv() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", a / b }'; }
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
is_mounted() {
	awk -v p="$(realpath "$1")" '$5 == p { f = 1 } END { exit !f }' \
		/proc/self/mountinfo
}
# busy_others: processes using > 10 % of a CPU over 2 s, to say how quiet
# the machine was
busy_others() {
	top -b -n 2 -d 2 -w 200 2>/dev/null |
		awk '/^top -/ { n++ } n == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 > 10 { printf "%s %s%%, ", $12, $9; f = 1 }
		     END { if (!f) printf "none" }' |
		sed 's/, $//'
}
# finish_tmp RC LOG...: the end of every cleanup trap. On failure, the tails
# of the logs; $TMP kept on failure or with KEEP=1, else removed.
finish_tmp() {
	local rc=$1
	shift
	if [ "$rc" -ne 0 ]; then
		echo "run.sh: FAILED (exit $rc); logs:" >&2
		tail -n 30 "$@" >&2 2>/dev/null || true
	fi
	if [ "$KEEP" = 1 ] || [ "$rc" -ne 0 ]; then
		echo "run.sh: kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
}
