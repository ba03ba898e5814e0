#!/usr/bin/env bash
# Notifications per second from a deposit through vvm-smsd to the test
# SMSC, with the outbox backlog drained, against Kannel from Debian
# (bearerbox + smsbox) pushing the same kind of SMS to the same SMSC, in
# one run. Builds vvmfs and vvm-smsd, mounts a fresh store, starts the
# test SMSC (tests/integration/smsc.py, in its own process) and a private
# Kannel under a temporary directory, runs every scenario for every
# round, measures where vvm-smsd's drain time goes (perf), writes
# bench/sms/results.md and prints it.
#
#   bench/sms/run.sh [--build DIR] [-n|--notifications N] [--rounds R]
#                    [--subs S] [--writers W] [--clients C]
#                    [--windows "1 10 50"] [--no-trace] [--keep]
#
# Must run as root (FUSE mount). Needs Kannel (apt-get install kannel),
# fuse3 and python3; perf for the trace section. Not part of `meson
# test`. Everything it starts is stopped, and the mount unmounted, on exit.
set -euo pipefail
shopt -s inherit_errexit
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$TOP/build
N=5000
ROUNDS=5
SUBS=100
WRITERS=4
CLIENTS=8
WINDOWS="1 10 50"
TRACE=1
KEEP=0
BASE=31600000000
SERVICE=5555
CMDLINE="bench/sms/run.sh${*:+ $*}"

while [ $# -gt 0 ]; do
	case $1 in
	--build) BUILD=$(realpath -m "$2"); shift ;;
	-n|--notifications) N=$2; shift ;;
	--rounds) ROUNDS=$2; shift ;;
	--subs) SUBS=$2; shift ;;
	--writers) WRITERS=$2; shift ;;
	--clients) CLIENTS=$2; shift ;;
	--windows) WINDOWS=$2; shift ;;
	--no-trace) TRACE=0 ;;
	--keep) KEEP=1 ;;
	-h|--help) sed -n '2,17p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
for v in N ROUNDS SUBS WRITERS CLIENTS; do
	[ "${!v}" -ge 1 ] 2>/dev/null || { echo "run.sh: $v wants a number >= 1" >&2; exit 2; }
done
[ "$N" -ge 2000 ] || echo "run.sh: warning: N = $N; the issue asks for at least 2000" >&2
[[ " $WINDOWS " == *" 10 "* ]] || { echo "run.sh: --windows must include 10 (the default, compared with Kannel)" >&2; exit 2; }

[ "$(id -u)" = 0 ] || { echo "run.sh: must run as root" >&2; exit 1; }
for t in fusermount3 python3 meson ninja; do
	command -v $t >/dev/null || { echo "run.sh: $t not found (apt-get install fuse3 python3 meson ninja-build)" >&2; exit 1; }
done
if [ ! -x /usr/sbin/bearerbox ] || [ ! -x /usr/sbin/smsbox ]; then
	echo "run.sh: /usr/sbin/bearerbox or smsbox missing (apt-get install kannel)" >&2
	exit 1
fi
[ -c /dev/fuse ] || { echo "run.sh: /dev/fuse missing" >&2; exit 1; }
if [ "$TRACE" = 1 ] && { [ "$(uname -m)" != x86_64 ] ||
	! perf record -q -e raw_syscalls:sys_enter -o /dev/null true >/dev/null 2>&1; }; then
	echo "run.sh: perf cannot record raw_syscalls here (or not x86_64): no trace section" >&2
	TRACE=0
fi

echo "== building ($BUILD)" >&2
if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD" "$TOP" --buildtype=release >&2
fi
ninja -C "$BUILD" vvmfs/vvmfs shims/sms/vvm-smsd >&2
BUILDTYPE=$(meson introspect --buildoptions "$BUILD" |
	python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "buildtype"))')
[ "$BUILDTYPE" = release ] ||
	echo "run.sh: warning: $BUILD is a $BUILDTYPE build; numbers are for release builds" >&2

# what was built, before anyone commits or edits on
SW_REV="$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$TOP" diff --quiet HEAD -- shims/sms vvmfs lib 2>/dev/null || echo ' (+ uncommitted changes in shims/sms, vvmfs or lib)')"
VVMFS=$BUILD/vvmfs/vvmfs
SMSD=$(realpath "$BUILD/shims/sms/vvm-smsd")
SB=$TOP/bench/sms/smsbench.py
RESULTS=$TOP/bench/sms/results.md
T_START=$(date +%s)

TMP=$(mktemp -d /tmp/smsbench.XXXXXX)
MNT=$TMP/mnt
K=$TMP/kannel
CTL=$TMP/smsc.ctl
PIDS=$TMP/smsd.pids	# every vvm-smsd (and perf) smsbench.py starts
VVMFS_PID='' SMSC_PID='' BB_PID='' SMSBOX_PID=''
mkdir -p "$MNT" "$K"
: >"$PIDS"

# stop_pid PID [SECONDS]: SIGTERM, wait up to SECONDS (10), then SIGKILL
stop_pid() {
	local pid=$1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq $((${2:-10} * 20))); do
		kill -0 "$pid" 2>/dev/null || break
		[ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$? p exe
	trap - EXIT INT TERM
	# vvm-smsd and perf processes smsbench.py started and left behind
	# (only if they still run those programs)
	if [ -f "$PIDS" ]; then
		while read -r p; do
			exe=$(readlink "/proc/$p/exe" 2>/dev/null) || continue
			case $exe in "$SMSD"|*/perf) kill -KILL "$p" 2>/dev/null || true ;; esac
		done <"$PIDS"
	fi
	stop_pid "$SMSBOX_PID"
	stop_pid "$BB_PID"
	stop_pid "$SMSC_PID"
	stop_pid "$VVMFS_PID" 20
	if is_mounted "$MNT"; then fusermount3 -u -z "$MNT" || true; fi
	# never rm -r through a mount that is somehow still there
	if is_mounted "$MNT"; then
		echo "run.sh: $MNT is still mounted" >&2
		KEEP=1
	fi
	finish_tmp $rc "$TMP"/*.log "$K"/*.log
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

LOAD_START="load average $(cut -d' ' -f1-3 /proc/loadavg); busy: $(busy_others)"

# ============================================================ the SMSC
log "== the test SMSC"
python3 "$SB" smsc --ctl "$CTL" --port-file "$TMP/smsc.port" \
	--system-id vvm --password secret >"$TMP/smsc.log" 2>&1 &
SMSC_PID=$!
for _ in $(seq 200); do [ -s "$TMP/smsc.port" ] && break; sleep 0.05; done
[ -s "$TMP/smsc.port" ] || die "the SMSC did not start"
SMSC_PORT=$(cat "$TMP/smsc.port")

# ===================================================== vvmfs, vvm-smsd
# conf FILE [KEY = VALUE ...]: the config of vvmfs (no [smsd]) or of one
# vvm-smsd mode
conf() {
	local file=$1
	shift
	{
		printf '[imap]\nmount = %s\nhostname = vvm.bench\n' "$MNT"
		printf '[sms]\nserver = 127.0.0.1\nmo_number = %s\n' "$SERVICE"
		if [ $# -gt 0 ]; then
			printf '[smsd]\nsource_addr = %s\n' "$SERVICE"
			printf '%s\n' "$@"
		fi
	} >"$file"
}
conf "$TMP/vvm.conf"
for w in $WINDOWS; do
	conf "$TMP/smsd-w$w.conf" "mode = smpp" "smsc_host = 127.0.0.1" \
		"smsc_port = $SMSC_PORT" "system_id = vvm" "password = secret" \
		"window = $w"
done
SENDSMS_PORT=$(free_port)
conf "$TMP/smsd-http.conf" "mode = http" \
	"http_url = http://127.0.0.1:$SENDSMS_PORT/cgi-bin/sendsms" \
	"http_username = vvm-sender" "http_password = send-Pw-1"

log "== vvmfs, $SUBS subscribers"
"$VVMFS" -f -o "config=$TMP/vvm.conf" "$TMP/store" "$MNT" >>"$TMP/vvmfs.log" 2>&1 &
VVMFS_PID=$!
for _ in $(seq 400); do
	is_mounted "$MNT" && break
	kill -0 "$VVMFS_PID" 2>/dev/null || die "vvmfs exited at start"
	sleep 0.05
done
is_mounted "$MNT" || die "vvmfs did not mount"
python3 "$SB" provision --mnt "$MNT" --base $BASE --subs "$SUBS"
# Activation queued a STATUS per status change (P -> N -> R), in two
# short messages each: sent now, not measured (it also warms vvm-smsd's
# page cache and the SMSC).
NSTATUS=$(find "$MNT/.outbox/sms" -mindepth 1 | wc -l)
python3 "$SB" drain --mnt "$MNT" --ctl "$CTL" --count "$NSTATUS" \
	--pid-file "$PIDS" --log "$TMP/smsd.log" -- \
	"$SMSD" -c "$TMP/smsd-w10.conf" >/dev/null

# ============================================================== Kannel
log "== Kannel $(/usr/sbin/bearerbox --version 2>&1 | sed -n "s/.*version \`\(.*\)'.*/\1/p" | head -1)"
ADMIN_PORT=$(free_port)
BOX_PORT=$(free_port)
cat >"$K/kannel.conf" <<EOF
# A private Kannel for smsbench: defaults except where noted.
group = core
admin-port = $ADMIN_PORT
admin-interface = "127.0.0.1"
admin-password = "admin-Pw-1"
status-password = "admin-Pw-1"
smsbox-port = $BOX_PORT
smsbox-interface = "127.0.0.1"
box-allow-ip = "127.0.0.1"
log-file = "$K/bearerbox.log"
# info, not debug: debug dumps every PDU. One access-log line per SMS,
# as vvm-smsd logs one line per entry.
log-level = 1
access-log = "$K/bearerbox-access.log"

# max-pending-submits (the SMPP window) left at its default, 10, like
# vvm-smsd's window; no throughput limit (the default); no store-type
# (the default: bearerbox's queue lives in memory).
group = smsc
smsc = smpp
smsc-id = testsmsc
host = 127.0.0.1
port = $SMSC_PORT
transceiver-mode = true
smsc-username = vvm
smsc-password = secret
system-type = VMA
reconnect-delay = 1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = $BOX_PORT
sendsms-port = $SENDSMS_PORT
sendsms-interface = "127.0.0.1"
log-file = "$K/smsbox.log"
log-level = 1
access-log = "$K/smsbox-access.log"

group = sendsms-user
username = vvm-sender
password = send-Pw-1
max-messages = 10
concatenation = true
EOF
(cd "$K" && exec /usr/sbin/bearerbox -v 4 "$K/kannel.conf" >"$K/bearerbox.out" 2>&1) &
BB_PID=$!
for _ in $(seq 300); do
	ss -Hltn "sport = :$BOX_PORT" | grep -q . && break
	kill -0 "$BB_PID" 2>/dev/null || die "bearerbox exited at start"
	sleep 0.05
done
(cd "$K" && exec /usr/sbin/smsbox -v 4 "$K/kannel.conf" >"$K/smsbox.out" 2>&1) &
SMSBOX_PID=$!
python3 "$SB" wait-kannel --url "http://127.0.0.1:$SENDSMS_PORT/cgi-bin/sendsms" \
	--status-url "http://127.0.0.1:$ADMIN_PORT/status.txt?password=admin-Pw-1" ||
	die "Kannel did not come up"

# ============================================================ scenarios
RAW=$TMP/raw.txt
: >"$RAW"
W_SMSC="--watch smsc:$SMSC_PID"
W_VVM="--watch vvmfs:$VVMFS_PID $W_SMSC"
W_KANNEL="--watch bearerbox:$BB_PID --watch smsbox:$SMSBOX_PID $W_SMSC"
SUBSCRIBERS="--base $BASE --subs $SUBS"
record() {	# record SCENARIO ROUND LINES: keeps the RESULT lines
	local l
	l=$(grep '^RESULT' <<<"$3") || die "$1: no RESULT in: $3"
	while IFS= read -r line; do
		echo "scenario=$1 round=$2 $line" >>"$RAW"
	done <<<"$l"
	log "$1 (round $2): $(tail -1 <<<"$l" | cut -c1-160)"
}
# check SCENARIO LINE: exactly N short messages accepted, none refused,
# no protocol error
check() {
	if [ "$(kv "$2" submits)" != "$N" ] || [ "$(kv "$2" refused)" != 0 ] ||
		[ "$(kv "$2" smsc_errors)" != 0 ]; then
		die "$1: the SMSC saw $(kv "$2" submits) submits, $(kv "$2" refused) refused, $(kv "$2" smsc_errors) errors (expected $N, 0, 0)"
	fi
}
queue() {	# queue TAG: N SYNC entries, vvm-smsd stopped
	# shellcheck disable=SC2086
	python3 "$SB" queue --mnt "$MNT" $SUBSCRIBERS --count "$N" \
		--writers "$WRITERS" --tag "$1"
}
run_scenario() {	# run_scenario NAME ROUND
	local s=$1 r=$2 q out
	case $s in
	smpp-w*)
		q=$(queue "$s-$r")
		# shellcheck disable=SC2086
		out=$(python3 "$SB" drain --mnt "$MNT" --ctl "$CTL" --count "$N" \
			--pid-file "$PIDS" --log "$TMP/smsd.log" $W_VVM -- \
			"$SMSD" -c "$TMP/smsd-${s#smpp-}.conf")
		check "$s" "$out"
		record "$s" "$r" "$q"$'\n'"$out" ;;
	live)
		# shellcheck disable=SC2086
		out=$(python3 "$SB" live --mnt "$MNT" --ctl "$CTL" $SUBSCRIBERS \
			--count "$N" --writers "$WRITERS" --tag "live-$r" \
			--pid-file "$PIDS" --log "$TMP/smsd.log" $W_VVM -- \
			"$SMSD" -c "$TMP/smsd-w10.conf")
		check "$s" "$out"
		record "$s" "$r" "$out" ;;
	kannel|kannel-queued)
		q=''
		[ "$s" = kannel ] || q=--queued
		# shellcheck disable=SC2086
		out=$(python3 "$SB" kannel --url "http://127.0.0.1:$SENDSMS_PORT/cgi-bin/sendsms" \
			--user vvm-sender --password send-Pw-1 --source "$SERVICE" \
			--ctl "$CTL" $SUBSCRIBERS --count "$N" --clients "$CLIENTS" \
			$q $W_KANNEL)
		check "$s" "$out"
		record "$s" "$r" "$out" ;;
	http)
		q=$(queue "$s-$r")
		# shellcheck disable=SC2086
		out=$(python3 "$SB" drain --mnt "$MNT" --ctl "$CTL" --count "$N" \
			--system-type VMA --pid-file "$PIDS" --log "$TMP/smsd-http.log" \
			$W_VVM --watch bearerbox:$BB_PID --watch smsbox:$SMSBOX_PID -- \
			"$SMSD" -c "$TMP/smsd-http.conf")
		check "$s" "$out"
		record "$s" "$r" "$q"$'\n'"$out" ;;
	esac
}

SCENARIOS=""
for w in $WINDOWS; do SCENARIOS="$SCENARIOS smpp-w$w"; done
SCENARIOS="$SCENARIOS live kannel kannel-queued http"
NSCN=$(wc -w <<<"$SCENARIOS")
log "== $ROUNDS rounds of:$SCENARIOS (N = $N)"
ROUND_LOAD=()
for r in $(seq "$ROUNDS"); do
	# rotate the order every round
	# shellcheck disable=SC2086
	set -- $SCENARIOS
	for _ in $(seq $(((r - 1) % NSCN))); do set -- "${@:2}" "$1"; done
	for s in "$@"; do run_scenario "$s" "$r"; done
	ROUND_LOAD+=("round $r: $* — load average $(cut -d' ' -f1-3 /proc/loadavg)")
done

# ======================================================== where it goes
if [ "$TRACE" = 1 ]; then
	log "== trace of a drain and of a live run"
	q=$(queue trace)
	# shellcheck disable=SC2086
	out=$(python3 "$SB" drain --mnt "$MNT" --ctl "$CTL" --count "$N" \
		--pid-file "$PIDS" --log "$TMP/smsd.log" $W_VVM \
		--perf-trace "$TMP/trace" --vvmfs-pid "$VVMFS_PID" -- \
		"$SMSD" -c "$TMP/smsd-w10.conf")
	check trace "$out"
	record trace 1 "$q"$'\n'"$out"
	# shellcheck disable=SC2086
	out=$(python3 "$SB" live --mnt "$MNT" --ctl "$CTL" $SUBSCRIBERS \
		--count "$N" --writers "$WRITERS" --tag trace-live \
		--pid-file "$PIDS" --log "$TMP/smsd.log" $W_VVM \
		--perf-trace "$TMP/trace-live" --vvmfs-pid "$VVMFS_PID" -- \
		"$SMSD" -c "$TMP/smsd-w10.conf")
	check trace-live "$out"
	record trace-live 1 "$out"
	rm -f "$TMP"/trace/*.data "$TMP"/trace-live/*.data
fi
SYNCS=()
[ "$TRACE" = 0 ] || SYNCS=(--vvmfs-pid "$VVMFS_PID")
# per-file unlink() as vvm-smsd did before its removals were batched
# (from 1 and 8 processes), and batched user.vvm.remove as it does now
for k in 1 8; do
	q=$(queue "unlinks-$k")
	out=$(python3 "$SB" unlinks --mnt "$MNT" --count "$N" --workers $k \
		--tmp "$TMP" "${SYNCS[@]}")
	record "unlinks-$k" 1 "$q"$'\n'"$out"
done
for b in 1 10 100 1000; do
	q=$(queue "removes-$b")
	out=$(python3 "$SB" unlinks --mnt "$MNT" --count "$N" --batch $b \
		--tmp "$TMP" "${SYNCS[@]}")
	record "removes-$b" 1 "$q"$'\n'"$out"
done

# ============================================================== stop
log "== stopping"
KANNEL_ERRORS=$(cat "$K/bearerbox.log" "$K/smsbox.log" | grep -E '(ERROR|PANIC):' |
	grep -vcE "connect|Connection refused|Couldn't connect|SMPP\[testsmsc\]: (I/O error|Couldn't)" || true)
KANNEL_SENT=$(grep -c '^.*Sent SMS' "$K/bearerbox-access.log" || true)
stop_pid "$SMSBOX_PID"; SMSBOX_PID=
stop_pid "$BB_PID" 20; BB_PID=
stop_pid "$SMSC_PID"; SMSC_PID=
SMSC_FINAL=$(grep 'submits in all' "$TMP/smsc.log" || echo '?')
SMSD_WARN=$(cat "$TMP/smsd.log" "$TMP/smsd-http.log" 2>/dev/null |
	grep -cvE 'outbox [0-9]+: sent to|connection closed: unbound|: draining |: bound as transceiver|^$' || true)
VVMFS_RSS=$(awk '/^VmHWM/ { printf "%.0f MB", $2 / 1024 }' "/proc/$VVMFS_PID/status")
STORE_SIZE=$(du -sh "$TMP/store" | cut -f1)
T_END=$(date +%s)
LOAD_END="load average $(cut -d' ' -f1-3 /proc/loadavg); busy: $(busy_others)"

# ============================================================ results
OUT=$TMP/results.md
emit() { printf '%s\n' "$@" >>"$OUT"; }
KIND_VVM=$(grep '^scenario=smpp-w10 .*mode=drain' "$RAW" | head -1 | sed -n 's/.* kind=\([^ ]*\).*/\1/p')
KIND_KANNEL=$(grep '^scenario=kannel .*mode=kannel' "$RAW" | head -1 | sed -n 's/.* kind=\([^ ]*\).*/\1/p')
KIND_HTTP=$(grep '^scenario=http .*mode=drain' "$RAW" | head -1 | sed -n 's/.* kind=\([^ ]*\).*/\1/p')
BYTES_VVM=$(grep '^scenario=smpp-w10 .*mode=drain' "$RAW" | head -1 | sed -n 's/.* sm_bytes=\([^ ]*\).*/\1/p')
BYTES_KANNEL=$(grep '^scenario=kannel .*mode=kannel' "$RAW" | head -1 | sed -n 's/.* sm_bytes=\([^ ]*\).*/\1/p')

emit "# SMS notification benchmark: vvm-smsd against Kannel" ""
emit "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
emit "- machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, kernel $(uname -r); the vvmfs store in $TMP on $(df --output=fstype "$TMP" | tail -1) ($(df --output=source "$TMP" | tail -1)); a shared VM: vvmfs, vvm-smsd, the SMSC, Kannel and the load generator all run on these $(nproc) CPUs"
emit "- command: \`$CMDLINE\` (as root, from the top of the tree); build: \`$BUILD\` ($BUILDTYPE)"
emit "- software: vvm-smsd and vvmfs $SW_REV; Kannel $(/usr/sbin/bearerbox --version 2>&1 | sed -n "s/.*version \`\(.*\)'.*/\1/p" | head -1) from Debian ($(dpkg-query -W -f '${Version}' kannel 2>/dev/null || echo '?')); the test SMSC tests/integration/smsc.py under $(python3 --version); $(perf --version 2>/dev/null || echo 'no perf')"
emit "- other load on the machine before the first scenario: $LOAD_START; after the last: $LOAD_END"
emit "- load: $SUBS subscribers ($BASE…), status R, \`app_port\` 5499; N = $N notifications per run; $ROUNDS rounds, each running every scenario once, the order rotated by one every round ($(printf '%s; ' "${ROUND_LOAD[@]}" | sed 's/; $//'))"
emit "- what the SMSC received (first submit of a run; dcs data_coding, esm esm_class, pid protocol_id, rp replace_if_present_flag, st service_type, ports UDH IEI 5 destination/source, udh the whole UDH): vvm-smsd SMPP \`$KIND_VVM\`, $BYTES_VVM octets of user data on average; Kannel sendsms \`$KIND_KANNEL\`, $BYTES_KANNEL octets; vvm-smsd http → Kannel \`$KIND_HTTP\`. The same binary SMS: 8-bit data, UDH with 16-bit port addressing to 5499, protocol id 64, one short message of ~85 octets; Kannel's esm_class adds store-and-forward mode (0x03) and it has no replace_if_present"
emit ""
python3 "$SB" report --raw "$RAW" --count "$N" --rounds "$ROUNDS" \
	--writers "$WRITERS" --clients "$CLIENTS" >>"$OUT"

emit "## How each side is run, and what is not equal" ""
emit "- **The SMSC** is tests/integration/smsc.py (an SMPP 3.4 server in Python, one selector loop) in a process of its own (\`smsbench.py smsc\`, which also answers the driver on a Unix socket: reset, wait for N accepted, stats). It answers every \`submit_sm\` at once with ESME_ROK. vvm-smsd binds with system_type VVM, Kannel with VMA, both as vvm/secret; Kannel stays bound all run (idle between its scenarios)."
emit "- **vvm-smsd, backlog** (scenario 1): vvm-smsd stopped, N deposits queued N SYNC entries (the queue step, $WRITERS writer processes; its rate is the \"deposits alone\" line); then \`vvm-smsd -c CONF\` is started (mode smpp, window 1, 10 or 50, every other key at its default: poll_ms 250, enquire_link 30 ...) and the clock runs from its start until the outbox is empty (every entry accepted by the SMSC and removed from vvmfs). The driver watches the newest entry (one FUSE lookup every 5 ms: vvm-smsd removes in order, in batches) and lists the directory once that is gone. vvm-smsd is stopped with SIGTERM after each run and must exit 0."
emit "- **vvm-smsd, live** (scenario 2): vvm-smsd bound and idle for 0.5 s, then $WRITERS writer processes deposit N messages as fast as they go (the write protocol: create in INBOX, write, fsync, close; a ~22 KB voice message of 10 s AMR each, message i to subscriber i mod $SUBS); timed from the first deposit until the outbox is empty."
emit "- **Kannel** (scenario 3): bearerbox + smsbox 1.4.5 with Debian's defaults apart from ports and logs: one \`smsc = smpp\` transceiver, \`max-pending-submits\` at its default (10), no \`throughput\` limit, no store (the queue is in memory: a crash loses it, where vvm-smsd's outbox is in vvmfs and each entry leaves it by a synced commit), \`log-level = 1\` and an access-log line per SMS (vvm-smsd writes a line per entry to stderr). The load is $CLIENTS client processes of the driver, each sending its share of N \`GET /cgi-bin/sendsms?...&udh=%06%05%04%15%7B%00%00&coding=1&pid=64&text=<SYNC text>\` on one keep-alive HTTP/1.1 connection, timed from the first request until the SMSC has N. \"Kannel, queued\": the SMSC down (connections closed, not listening) while the N requests are sent, so that bearerbox holds them; then up, and timed from Kannel's bind (it reconnects every second) to the Nth submit: bearerbox draining its backlog over one bind, the counterpart of vvm-smsd's drain."
emit "- **vvm-smsd http** (scenario 4): the same backlog as scenario 1, drained by vvm-smsd in \`mode = http\` into this Kannel's sendsms (one GET per short message, one at a time, on one libcurl handle); timed until the outbox is empty (smsbox answered 2xx to each) and until the SMSC has them all."
emit "- Not equal: the load generators differ (none during a vvm-smsd drain, the queue was filled before; $CLIENTS Python HTTP clients for Kannel, whose CPU is in the load-generator column and competes with Kannel for the $(nproc) CPUs). The SYNC texts differ only in id and c values. CPU of a process is read from /proc/PID/stat at the start and end of the timed window; ticks are 10 ms, so at N = $N a value is exact to ±$(awk -v n="$N" 'BEGIN { printf "%.3f", 10 / n }') ms per notification."
emit "- Checks: every run's SMSC count was exactly N accepted short messages, 0 refused, 0 protocol errors, or the run failed. The SMSC's total: $SMSC_FINAL. Kannel's access log: $KANNEL_SENT \"Sent SMS\" lines; $KANNEL_ERRORS ERROR/PANIC lines in its logs other than the reconnects of the queued scenario. vvm-smsd wrote $SMSD_WARN log lines other than \"sent to\" and the unbind. vvmfs: peak RSS $VVMFS_RSS; the store was $STORE_SIZE at the end."
emit ""
emit "Whole run: $((T_END - T_START)) s." ""
emit "## Findings" ""
emit "FINDINGS_PLACEHOLDER" ""
emit "## Appendix: raw RESULT lines" "" '```'
cat "$RAW" >>"$OUT"
emit '```'

# The findings are written by hand after a run and kept across runs: taken
# from the results.md this run replaces.
if [ -f "$RESULTS" ] && grep -q '^<!-- findings -->' "$RESULTS"; then
	sed -n '/^<!-- findings -->/,/^<!-- \/findings -->/p' "$RESULTS" >"$TMP/findings.md"
else
	printf '%s\n' '<!-- findings -->' '(none written yet: see the tables)' '<!-- /findings -->' >"$TMP/findings.md"
fi
sed -i -e "/^FINDINGS_PLACEHOLDER$/{r $TMP/findings.md" -e 'd}' "$OUT"

cp "$OUT" "$RESULTS"
cat "$RESULTS"
