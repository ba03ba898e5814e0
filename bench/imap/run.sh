#!/usr/bin/env bash
# The VVM client's sync cycle against vvm-imapd (over vvmfs) and against
# Dovecot from Debian (Maildir), side by side, in one run. Builds imapbench
# and the tree, mounts a fresh store and starts a private Dovecot under a
# temporary directory, runs every level, writes bench/imap/results.md and
# prints it.
#
#   bench/imap/run.sh [--build DIR] [--levels "1 8 32"] [--rounds R]
#                     [--duration SECS] [--warmup SECS] [--idle K]
#                     [--no-profile] [--keep]
#
# Must run as root (Dovecot's master drops privileges, its login processes
# chroot). Not part of `meson test`. Everything it starts is stopped, and
# the mount unmounted, on exit.
set -euo pipefail
shopt -s inherit_errexit
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$TOP/build
LEVELS="1 8 32"
ROUNDS=3
DURATION=10
WARMUP=2
IDLE=50
MSGS=50
PROFILE=1
KEEP=0
PASSWORD=s3cret-Pw
BASE=31600000000
CMDLINE="bench/imap/run.sh${*:+ $*}"

while [ $# -gt 0 ]; do
	case $1 in
	--build) BUILD=$(realpath -m "$2"); shift ;;
	--levels) LEVELS=$2; shift ;;
	--rounds) ROUNDS=$2; shift ;;
	--duration) DURATION=$2; shift ;;
	--warmup) WARMUP=$2; shift ;;
	--idle) IDLE=$2; shift ;;
	--no-profile) PROFILE=0 ;;
	--keep) KEEP=1 ;;
	-h|--help) sed -n '2,14p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

[ "$(id -u)" = 0 ] || { echo "run.sh: must run as root" >&2; exit 1; }
for t in dovecot doveconf fusermount3 python3; do
	command -v $t >/dev/null || { echo "run.sh: $t not found (apt-get install dovecot-imapd fuse3 python3)" >&2; exit 1; }
done
[ -x /usr/lib/dovecot/imap ] || { echo "run.sh: /usr/lib/dovecot/imap missing (apt-get install dovecot-imapd)" >&2; exit 1; }

# the most clients of any level, and at least 8 subscribers
SUBS=8
for l in $LEVELS; do [ "$l" -gt "$SUBS" ] && SUBS=$l; done

echo "== building ($BUILD)" >&2
if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD" "$TOP" --buildtype=release >&2
fi
ninja -C "$BUILD" vvmfs/vvmfs shims/imap/vvm-imapd bench/imap/imapbench >&2
BUILDTYPE=$(meson introspect --buildoptions "$BUILD" |
	python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "buildtype"))')
[ "$BUILDTYPE" = release ] ||
	echo "run.sh: warning: $BUILD is a $BUILDTYPE build; numbers are for release builds" >&2

VVMFS=$BUILD/vvmfs/vvmfs
IMAPD=$BUILD/shims/imap/vvm-imapd
IB=$BUILD/bench/imap/imapbench
RESULTS=$TOP/bench/imap/results.md
T_START=$(date +%s)

TMP=$(mktemp -d /tmp/imapbench.XXXXXX)
chmod 755 "$TMP"	# Dovecot's imap runs as nobody and reads its Maildirs here
MNT=$TMP/mnt
DV=$TMP/dovecot
VVMFS_PID='' INETD_PID='' INETD2_PID='' DOVECOT_PID='' PROF_PID=''
mkdir -p "$MNT" "$DV/run" "$DV/state" "$DV/mail"

stop_pid() {	# stop_pid PID: SIGTERM, wait (it is our child)
	if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
		kill -TERM "$1" 2>/dev/null || true
		wait "$1" 2>/dev/null || true
	fi
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "${PINETD:-}" ]; then kill -TERM "$PINETD" 2>/dev/null || true; fi
	if [ -n "${PROF2_PID:-}" ]; then kill -INT "$PROF2_PID" 2>/dev/null || true; fi
	if [ -n "$PROF_PID" ]; then kill -INT "$PROF_PID" 2>/dev/null || true; wait "$PROF_PID" 2>/dev/null || true; fi
	stop_pid "$INETD_PID"
	stop_pid "$INETD2_PID"
	stop_pid "$DOVECOT_PID"
	stop_pid "$VVMFS_PID"
	if is_mounted "$MNT"; then fusermount3 -u -z "$MNT" || true; fi
	finish_tmp $rc "$TMP"/*.log "$DV"/*.log
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_listen() {	# wait_listen PORT
	for _ in $(seq 200); do
		ss -Hltn "sport = :$1" | grep -q . && return 0
		sleep 0.05
	done
	log "nothing listens on port $1"
	return 1
}

# ===================================================== vvmfs + vvm-imapd
log "== vvmfs and vvm-imapd"
cat >"$TMP/vvm.conf" <<EOF
[imap]
mount = $MNT
hostname = vvm.test
max_sessions = 0
login_failure_delay_ms = 0
EOF
"$VVMFS" -f -o "config=$TMP/vvm.conf" "$TMP/store" "$MNT" >>"$TMP/vvmfs.log" 2>&1 &
VVMFS_PID=$!
for _ in $(seq 400); do
	is_mounted "$MNT" && break
	kill -0 "$VVMFS_PID" 2>/dev/null || { log "vvmfs exited at start"; exit 1; }
	sleep 0.05
done
is_mounted "$MNT" || { log "vvmfs did not mount"; exit 1; }

# ============================================================== Dovecot
log "== Dovecot $(dovecot --version | cut -d' ' -f1)"
DPORT=$(free_port)
: >"$DV/passwd"
cat >"$DV/dovecot.conf" <<EOF
# A private Dovecot for imapbench: Debian's defaults except where noted.
base_dir = $DV/run
state_dir = $DV/state
instance_name = imapbench
listen = 127.0.0.1
protocols = imap
# no TLS on either side; plaintext LOGIN as vvm-imapd allows it
ssl = no
disable_plaintext_auth = no
log_path = $DV/dovecot.log
mail_location = maildir:$DV/mail/%u
# vvm-imapd runs with max_sessions = 0 (unlimited)
mail_max_userip_connections = 10000
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DV/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%u $DV/passwd
}
# These are Debian's defaults for 2.3, spelled out: one imap-login process
# per connection (high-security mode) and one imap process per session.
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DPORT
  }
  inet_listener imaps {
    port = 0
  }
  service_count = 1
  process_min_avail = 0
}
service imap {
  service_count = 1
  client_limit = 1
  process_limit = 1024
}
EOF

# ======================================================== the mailboxes
log "== $SUBS subscribers × $MSGS messages on both servers"
for k in $(seq 0 $((SUBS - 1))); do
	m=$((BASE + k))
	mkdir "$MNT/$m"
	printf '%s' "$PASSWORD" >"$MNT/$m/profile/imap_password"
	echo N >"$MNT/$m/profile/status"
	echo R >"$MNT/$m/profile/status"
	"$IB" deposit --mode vvmfs --dir "$MNT/$m/INBOX" --count $MSGS >/dev/null
	mkdir -p "$DV/mail/$m/cur" "$DV/mail/$m/new" "$DV/mail/$m/tmp"
	"$IB" deposit --mode maildir --dir "$DV/mail/$m" --count $MSGS >/dev/null
	echo "$m:{PLAIN}$PASSWORD:65534:65534::$DV/mail/$m::" >>"$DV/passwd"
done
chown -R 65534:65534 "$DV/mail"
n=$(find "$MNT/$BASE/INBOX" -name '*.eml' | wc -l)
[ "$n" = $MSGS ] || { log "vvmfs INBOX has $n messages"; exit 1; }

# ============================================================= servers
"$IB" inetd --port-file "$TMP/vport" -- "$IMAPD" -c "$TMP/vvm.conf" \
	2>>"$TMP/inetd.log" &
INETD_PID=$!
# the same, with TCP_NODELAY set on each connection (systemd NoDelay=yes)
"$IB" inetd --nodelay 1 --port-file "$TMP/nport" -- "$IMAPD" -c "$TMP/vvm.conf" \
	2>>"$TMP/inetd-nodelay.log" &
INETD2_PID=$!
for _ in $(seq 100); do [ -s "$TMP/vport" ] && [ -s "$TMP/nport" ] && break; sleep 0.05; done
VPORT=$(cat "$TMP/vport")
NPORT=$(cat "$TMP/nport")
dovecot -F -c "$DV/dovecot.conf" >>"$DV/master.log" 2>&1 &
DOVECOT_PID=$!
wait_listen "$DPORT"
wait_listen "$VPORT"
wait_listen "$NPORT"

# dovecot_daemons: the long-lived processes of Dovecot other than the
# master (auth, anvil, log, config, stats): the counterpart of vvmfs.
dovecot_daemons() {
	local p c
	for p in $(ps -o pid= --ppid "$DOVECOT_PID"); do
		c=$(cat "/proc/$p/comm" 2>/dev/null) || continue
		case $c in imap|imap-login) ;; *) echo "$p" ;; esac
	done
}
watch_args() {	# watch_args vvm|dovecot
	if [ "$1" = vvm ]; then
		echo "--watch sessions:$INETD_PID --watch daemon:$VVMFS_PID"
	elif [ "$1" = vvmnd ]; then
		echo "--watch sessions:$INETD2_PID --watch daemon:$VVMFS_PID"
	else
		local p
		echo -n "--watch sessions:$DOVECOT_PID"
		for p in $(dovecot_daemons); do echo -n " --watch daemon:$p"; done
		echo
	fi
}
port_of() {
	case $1 in vvm) echo "$VPORT" ;; vvmnd) echo "$NPORT" ;; *) echo "$DPORT" ;; esac
}
SERVERS="vvm vvmnd dovecot"
declare -A NAME=([vvm]="vvm-imapd" [vvmnd]="vvm-imapd, NoDelay" [dovecot]="Dovecot")
reset() {
	"$IB" reset --port "$(port_of "$1")" --subs "$SUBS" --count $MSGS \
		--password "$PASSWORD" --base $BASE >/dev/null
}

RAW=$TMP/raw.txt
: >"$RAW"
bench() {	# bench vvm|dovecot CLIENTS: one timed run, its RESULT line
	local l
	reset "$1"
	# shellcheck disable=SC2046
	l=$("$IB" run --port "$(port_of "$1")" --clients "$2" --subs "$SUBS" \
		--base $BASE --password "$PASSWORD" --warmup "$WARMUP" \
		--duration "$DURATION" $(watch_args "$1")) || {
		# exit 3: errors, counted in the line; anything else is fatal
		[ $? = 3 ] && [ -n "$l" ] || { log "imapbench run against $1 failed"; return 1; }
	}
	echo "server=$1 $l" >>"$RAW"
	log "$1: $l"
	echo "$l"
}

# Warm-up: Dovecot builds its index and cache files on the first SELECT of
# each mailbox; vvmfs warms its caches. Not measured.
log "== warm-up"
for s in $SERVERS; do
	reset $s
	"$IB" run --port "$(port_of $s)" --clients 4 --subs "$SUBS" --base $BASE \
		--password "$PASSWORD" --warmup 0 --duration 3 >/dev/null
done

OUT=$TMP/results.md
emit() { printf '%s\n' "$@" >>"$OUT"; }
LOAD_START="load average $(cut -d' ' -f1-3 /proc/loadavg); busy: $(busy_others)"

emit "# IMAP sync-cycle benchmark: vvm-imapd against Dovecot" ""
emit "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
emit "- machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, kernel $(uname -r); a shared VM: the client, the server processes and vvmfs/Dovecot's daemons all run on these $(nproc) CPUs"
emit "- command: \`$CMDLINE\` (as root, from the top of the tree); build: \`$BUILD\` ($BUILDTYPE)"
emit "- servers: vvm-imapd $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$TOP" diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)') over vvmfs; Dovecot $(dovecot --version) from Debian ($(dpkg-query -W -f '${Version}' dovecot-imapd 2>/dev/null || echo '?'))"
emit "- other load on the machine before the first level: ${LOAD_START:-?}; after the last: LOAD_END_PLACEHOLDER"
emit "- load: $SUBS subscribers × $MSGS VVM voice messages (multipart/mixed, text part + base64 audio/amr part of 10–30 KB), the same bytes on both servers; session i of a run goes to subscriber i mod $SUBS"
emit "- each level: $ROUNDS rounds of ${WARMUP} s warm-up + ${DURATION} s measured, the three servers in a rotating order; the table shows the median round by sessions/s; every run starts with all messages unseen"
emit ""

# ============================================================ the levels
log "== levels: $LEVELS"
emit "## Sessions/s and session latency" ""
emit "Session = connect, greeting, \`LOGIN\`, \`SELECT INBOX\`, \`UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM TO DATE SUBJECT MESSAGE-CONTEXT CONTENT-DURATION)] BODYSTRUCTURE)\`, \`UID FETCH <uid> BODY.PEEK[2]\`, \`UID STORE <uid> +FLAGS (\\Seen)\`, \`LOGOUT\`; latency from connect() to the tagged LOGOUT OK. Errors: sessions with any non-OK or malformed answer in the measured window, summed over the rounds (any error makes that level invalid)." ""
emit "\"vvm-imapd\" is started exactly as inetd/xinetd start it; \"vvm-imapd, NoDelay\" is the same binary behind the same accept loop with TCP_NODELAY set on the accepted socket before exec, as systemd's \`Accept=yes\` + \`NoDelay=yes\` would (before commit 75bc46e this removed a 40 ms Nagle/delayed-ACK stall caused by the shim's per-line writes; since then the shim buffers a command's answer and sets TCP_NODELAY itself, so the two columns should agree and the NoDelay one is a control)." ""
emit "| clients | vvm-imapd sessions/s | vvm-imapd, NoDelay | Dovecot sessions/s | vvm/Dovecot | NoDelay/Dovecot | ≥ 1.0× | vvm p50 / p99 ms | NoDelay p50 / p99 ms | Dovecot p50 / p99 ms | p50 < 5 ms | errors vvm / NoDelay / Dovecot |" \
     "|---|---|---|---|---|---|---|---|---|---|---|---|"
declare -A MED RATE ERR
ALL_ROUNDS=()
for c in $LEVELS; do
	declare -A R=() L=()
	for r in $(seq "$ROUNDS"); do
		# rotate the order every round
		set -- $SERVERS
		for _ in $(seq $(((r - 1) % 3))); do set -- "${@:2}" "$1"; done
		for s in "$@"; do
			l=$(bench $s "$c")
			R[$s]="${R[$s]:-} $(kv "$l" rate)"
			L[$s$r]=$l
			ERR[$s$c]=$(( ${ERR[$s$c]:-0} + $(kv "$l" errors) ))
		done
	done
	for s in $SERVERS; do
		RATE[$s$c]=$(printf '%s\n' ${R[$s]} | median)
		for r in $(seq "$ROUNDS"); do
			[ "$(kv "${L[$s$r]}" rate)" = "${RATE[$s$c]}" ] && MED[$s$c]=${L[$s$r]}
		done
	done
	v=${RATE[vvm$c]} n=${RATE[vvmnd$c]} d=${RATE[dovecot$c]}
	pl() { echo "$(kv "${MED[$1$c]}" p50_ms) / $(kv "${MED[$1$c]}" p99_ms)"; }
	emit "| $c | $v | $n | $d | $(ratio "$v" "$d") | $(ratio "$n" "$d") | $(awk -v a="$v" -v b="$d" 'BEGIN { print (a >= b) ? "yes" : "**no**" }') / $(awk -v a="$n" -v b="$d" 'BEGIN { print (a >= b) ? "yes" : "**no**" }') | $(pl vvm) | $(pl vvmnd) | $(pl dovecot) | $(awk -v a="$(kv "${MED[vvm$c]}" p50_ms)" 'BEGIN { print (a < 5) ? "yes" : "**no**" }') / $(awk -v a="$(kv "${MED[vvmnd$c]}" p50_ms)" 'BEGIN { print (a < 5) ? "yes" : "**no**" }') | ${ERR[vvm$c]} / ${ERR[vvmnd$c]} / ${ERR[dovecot$c]} |"
	ALL_ROUNDS+=("| $c | ${R[vvm]} | ${R[vvmnd]} | ${R[dovecot]} | $(busy_others) |")
	unset R L
done
emit "" "(≥ 1.0× and p50 < 5 ms: vvm-imapd / vvm-imapd with NoDelay.) Every round, sessions/s:" "" "| clients | vvm-imapd | vvm-imapd, NoDelay | Dovecot | processes > 10 % CPU over 2 s right after the level (anyone's, vvmfs included) |" "|---|---|---|---|---|"
emit "${ALL_ROUNDS[@]}" ""

emit "### Where the session time goes (median round of each level)" ""
emit "Median time of each step, ms (greeting = connect() until the greeting arrived: for vvm-imapd fork+exec+start-up of the shim, for Dovecot fork+exec of an imap-login process). CPU: from /proc/PID/stat (utime+stime of the process and of its reaped children) over the measured window, ms per session; \"spawner + sessions\" is the accept loop and every per-connection process it reaped (vvm: this benchmark's inetd + vvm-imapd; Dovecot: the master + imap-login + imap); \"daemon\" is vvmfs, or Dovecot's auth, anvil, log, config and stats; \"client\" is imapbench itself. With 2 CPUs, CPU ms per session × sessions/s cannot exceed 2000." ""
emit "| clients | server | greeting | LOGIN | SELECT | FETCH hdrs | FETCH body | STORE | LOGOUT | CPU ms/session: spawner + sessions | daemon | client | stores that set \\Seen |" \
     "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for c in $LEVELS; do
	for s in $SERVERS; do
		l=${MED[$s$c]}
		emit "| $c | ${NAME[$s]} | $(kv "$l" greeting_ms) | $(kv "$l" login_ms) | $(kv "$l" select_ms) | $(kv "$l" fetch_hdr_ms) | $(kv "$l" fetch_body_ms) | $(kv "$l" store_ms) | $(kv "$l" logout_ms) | $(kv "$l" cpu_sessions_ms_per_session) | $(kv "$l" cpu_daemon_ms_per_session) | $(kv "$l" client_cpu_ms_per_session) | $(kv "$l" stores_changed) of $(kv "$l" sessions) |"
	done
done
emit ""

# ========================================================== idle memory
log "== $IDLE idle sessions"
emit "## Memory per idle session" ""
emit "$IDLE sessions logged in with INBOX selected, idle for 2 s; then the Pss, Rss and USS (Private_Clean + Private_Dirty) from /proc/PID/smaps_rollup of every per-connection process (vvm: vvm-imapd children of the accept loop; Dovecot: imap and imap-login children of the master), summed and divided by $IDLE. Pss shares each shared page among the processes that map it, so it is the honest cost of one more session; Rss counts shared libraries in full in every process." ""
emit "| server | processes found | Pss KB/session | Rss KB/session | USS KB/session | Pss < 4 MB | daemons (Pss / Rss KB) |" "|---|---|---|---|---|---|---|"
for s in vvm dovecot; do
	if [ $s = vvm ]; then
		args="--ppid $INETD_PID --comm vvm-imapd --daemon $VVMFS_PID --daemon $INETD_PID"
		dname="vvmfs + accept loop"
	else
		args="--ppid $DOVECOT_PID --comm imap,imap-login --daemon $DOVECOT_PID"
		for p in $(dovecot_daemons); do args="$args --daemon $p"; done
		dname="master + $(for p in $(dovecot_daemons); do cat /proc/$p/comm; done | tr '\n' ' ' | sed 's/ $//')"
	fi
	# shellcheck disable=SC2086
	l=$("$IB" idle --port "$(port_of $s)" --sessions "$IDLE" --subs "$SUBS" \
		--base $BASE --password "$PASSWORD" $args)
	echo "server=$s $l" >>"$RAW"
	log "$s: $l"
	emit "| $s | $(kv "$l" by_name) | $(kv "$l" pss_kb_per_session) | $(kv "$l" rss_kb_per_session) | $(kv "$l" uss_kb_per_session) | $(awk -v a="$(kv "$l" pss_kb_per_session)" 'BEGIN { print (a < 4096) ? "yes" : "**no**" }') | $dname: $(kv "$l" daemon_pss_kb) / $(kv "$l" daemon_rss_kb) |"
done
emit "" "vvmfs after the run: $(awk '/^VmRSS|^VmHWM/ { printf "%s %.1f MB  ", $1, $2 / 1024 }' /proc/$VVMFS_PID/status); CPU since mount $(awk '{ printf "%.1f s", ($14 + $15) / '"$(getconf CLK_TCK)"' }' /proc/$VVMFS_PID/stat)." ""

# ============================================================ profile
# profiled_inetd NAME PERF-ARGS...: a third accept loop (NoDelay) under
# `perf record`, which follows its vvm-imapd children; sets PPORT,
# PROF_PID (perf) and PINETD (the accept loop).
profiled_inetd() {
	local name=$1
	shift
	rm -f "$TMP/pport"
	perf record "$@" -o "$TMP/perf-$name.data" -- \
		"$IB" inetd --nodelay 1 --port-file "$TMP/pport" -- \
		"$IMAPD" -c "$TMP/vvm.conf" >/dev/null 2>>"$TMP/perf.log" &
	PROF_PID=$!
	for _ in $(seq 200); do [ -s "$TMP/pport" ] && break; sleep 0.05; done
	PPORT=$(cat "$TMP/pport")
	PINETD=$(ps -o pid= --ppid "$PROF_PID" | tr -d ' ')
	wait_listen "$PPORT"
}
stop_profiled() {
	kill -TERM "$PINETD" 2>/dev/null || true
	wait "$PROF_PID" 2>/dev/null || true
	PROF_PID=
}
if [ "$PROFILE" = 1 ] && perf record -e cpu-clock -o /dev/null true >/dev/null 2>&1; then
	log "== profile"
	emit "## Where a vvm-imapd session goes" ""
	# 1. start-up alone
	emit "### Start-up of the shim" ""
	emit "\`perf stat -r 300\` (the shim with stdin at EOF: it loads its config, initialises SASL, writes the greeting, reads EOF and exits; \`--version\` exits before the config and SASL). Shared libraries linked: $(ldd "$IMAPD" | grep -c '=>') ($(ldd "$IMAPD" | awk '/=>/ { print $1 }' | tr '\n' ' ' | sed 's/ $//')); SASL then dlopen()s every plugin in $(ls -d /usr/lib/x86_64-linux-gnu/sasl2 2>/dev/null || echo 'its plugin dir') ($(ls /usr/lib/x86_64-linux-gnu/sasl2/*.so 2>/dev/null | wc -l) .so files)." ""
	emit "| program | CPU ms (task-clock) | elapsed ms | page faults |" "|---|---|---|---|"
	for cmd in "/bin/true" "$IMAPD --version" "$IMAPD -c $TMP/vvm.conf"; do
		# shellcheck disable=SC2086
		perf stat -r 300 -x, -e task-clock,page-faults $cmd </dev/null >/dev/null 2>"$TMP/pstat.txt" || true
		tc=$(awk -F, '$3 == "task-clock" { printf "%.2f", $1 }' "$TMP/pstat.txt")
		pf=$(awk -F, '$3 == "page-faults" { printf "%d", $1 }' "$TMP/pstat.txt")
		el=$( { /usr/bin/time -f %e bash -c "for i in \$(seq 100); do $cmd </dev/null >/dev/null 2>&1; done" ; } 2>&1 | awk '{ printf "%.2f", $1 * 10 }')
		emit "| \`${cmd/$TMP/\$TMP}\` | $tc | $el | $pf |"
	done
	emit "" "(elapsed: 100 runs in a bash loop, fork+exec+wait, divided by 100.)" ""

	# 2. FUSE requests per IMAP command
	if perf list 'fuse:fuse_request_send' 2>/dev/null | grep -q fuse_request_send; then
		reset vvm
		profiled_inetd fuse -e fuse:fuse_request_send -e syscalls:sys_exit_recvfrom
		"$IB" run --port "$PPORT" --clients 1 --subs "$SUBS" --base $BASE \
			--password "$PASSWORD" --warmup 0 --duration 1 >/dev/null
		stop_profiled
		perf script -i "$TMP/perf-fuse.data" -F pid,event,trace >"$TMP/fuse.txt" 2>/dev/null
		emit "### FUSE requests per session and per command" ""
		emit "Kernel tracepoint \`fuse:fuse_request_send\` on every vvm-imapd of a 1-client, 1 s run, split at each command the shim receives (\`recvfrom\` on the socket returning > 0); the median session:" "" '```'
		python3 - "$TMP/fuse.txt" >>"$OUT" <<'EOF'
import collections, re, sys
steps = ["start-up", "LOGIN", "SELECT", "FETCH hdrs", "FETCH body", "STORE",
         "LOGOUT", "after"]
per = {}
for line in open(sys.argv[1]):
    m = re.match(r"\s*(\d+)\s+(\S+):\s*(.*)", line)
    if not m:
        continue
    pid, ev, rest = m.groups()
    st = per.setdefault(pid, [0, [collections.Counter() for _ in steps]])
    if "recvfrom" in ev:
        r = re.search(r"0x([0-9a-f]+)", rest)
        if r and 0 < int(r.group(1), 16) < 1 << 32:
            st[0] = min(st[0] + 1, len(steps) - 1)
        continue
    op = re.search(r"\(FUSE_(\w+)\)", rest)
    if op:
        st[1][st[0]][op.group(1)] += 1
tot = sorted(per.values(), key=lambda st: sum(sum(c.values()) for c in st[1]))
if not tot:
    print("(no FUSE requests recorded)")
    sys.exit(0)
st = tot[len(tot) // 2]
print("sessions recorded: %d; FUSE requests in the median session: %d"
      % (len(tot), sum(sum(c.values()) for c in st[1])))
for name, c in zip(steps, st[1]):
    print("  %-10s %4d  %s" % (name, sum(c.values()),
          " ".join("%s=%d" % kv for kv in c.most_common())))
EOF
		emit '```' ""
	fi

	# 3. CPU: the shims (all of them, through perf's inheritance) and vvmfs
	reset vvm
	profiled_inetd cpu -e cpu-clock -g
	perf record -e cpu-clock -g -p "$VVMFS_PID" -o "$TMP/perf-vvmfs.data" >/dev/null 2>&1 &
	PROF2_PID=$!
	sleep 0.5
	l=$("$IB" run --port "$PPORT" --clients 8 --subs "$SUBS" --base $BASE \
		--password "$PASSWORD" --warmup 0 --duration 5 --watch daemon:"$VVMFS_PID" --watch sessions:"$PINETD")
	kill -INT "$PROF2_PID"; wait "$PROF2_PID" || true
	stop_profiled
	emit "### CPU profile, 8 clients (vvm-imapd with NoDelay)" ""
	emit "5 s at $(kv "$l" rate) sessions/s under perf: vvm-imapd $(kv "$l" cpu_sessions_ms_per_session) ms and vvmfs $(kv "$l" cpu_daemon_ms_per_session) ms CPU per session. perf inflates both (it follows every fork, exec and mmap of the shims), so read the shares, not the totals. \`perf record -e cpu-clock -g\`; the release build has no frame pointers, so call chains above libc are partial. vvm-imapd processes, \`--sort comm,dso\`:" "" '```'
	perf report -i "$TMP/perf-cpu.data" --no-children --sort comm,dso --stdio -g none 2>/dev/null |
		grep -E '^ +[0-9]+\.[0-9]+% +vvm-imapd' | awk 'NR <= 12' >>"$OUT"
	emit '```' "" "vvm-imapd, \`--children --sort sym\` (inclusive; kernel paths show what the shim waits on):" "" '```'
	perf report -i "$TMP/perf-cpu.data" --children --comms vvm-imapd --sort sym --stdio -g none 2>/dev/null |
		grep -E '^ +[0-9]+\.[0-9]+%' |
		grep -E '\] (__fuse_simple_request|request_wait_answer|fuse_getxattr|fuse_dentry_revalidate|fuse_open|fuse_flush|fuse_release|fuse_send_open|do_dentry_open|filp_flush|__x64_sys_execve|bprm_execve|dl_main|_dl_relocate_object|_dl_map_object|exc_page_fault|asm_exc_page_fault|do_exit|exit_mmap|tcp_sendmsg|__x64_sys_sendto|__x64_sys_close|__x64_sys_openat|path_getxattrat|vfs_read|fgetxattr|getxattr|__close|__send|_dl_start|_start)$' | awk 'NR <= 30' >>"$OUT"
	emit '```' "" "vvmfs (\`perf record -p\`), \`--sort dso\` and the top symbols:" "" '```'
	perf report -i "$TMP/perf-vvmfs.data" --no-children --sort dso --stdio -g none 2>/dev/null |
		grep -E '^ +[0-9]+\.[0-9]+%' | awk 'NR <= 8' >>"$OUT"
	emit ""
	perf report -i "$TMP/perf-vvmfs.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
		grep -E '^ +[0-9]+\.[0-9]+%' | awk 'NR <= 25' >>"$OUT"
	emit '```' ""
fi

stop_pid "$INETD_PID"; INETD_PID=
stop_pid "$INETD2_PID"; INETD2_PID=
stop_pid "$DOVECOT_PID"; DOVECOT_PID=
T_END=$(date +%s)
LOAD_END="load average $(cut -d' ' -f1-3 /proc/loadavg); busy: $(busy_others)"
sed -i "s|LOAD_END_PLACEHOLDER|${LOAD_END//|/\\|}|" "$OUT"
emit "## How the two sides are run, and what is not equal" ""
emit "- **vvm-imapd**: this benchmark's accept loop (\`imapbench inetd\`, what inetd does: accept, fork, dup2 the socket to stdin/stdout, exec) starts one \`vvm-imapd -c vvm.conf\` per connection. Per session: fork+exec of the shim, dynamic linking, config, SASL initialisation (libsasl2 loads its plugins), then every IMAP command goes through the vvmfs mount (FUSE requests to the vvmfs daemon, which reads RocksDB). Config: \`max_sessions = 0\` (vvmfs reads it too), \`login_failure_delay_ms = 0\`, no TLS, no \`user\` (it runs as root, no privilege drop). The NoDelay variant is the same with TCP_NODELAY set on the socket by the accept loop."
emit "- **Dovecot**: the real Debian master (\`dovecot -F -c\` a private config: own base_dir/state_dir under the temporary directory, 127.0.0.1 and a random port, no TLS, \`disable_plaintext_auth = no\`), with the Debian 2.3 defaults for services, which are already one \`imap-login\` process per connection (\`service_count = 1\`, high-security mode) and one \`imap\` process per session (\`service_count = 1\`, \`client_limit = 1\`). Per session: the master forks+execs imap-login (chrooted, as dovenull), which asks the long-lived auth process (passwd-file, \`{PLAIN}\` password, no auth cache: the default) and hands the connection to the master, which forks+execs \`imap\` (setuid nobody), which opens the Maildir with its index files. Not the pre-authenticated \`imap\` binary: the login path is part of the cost on both sides. Mail in Maildir (cur/, the same bytes as on vvmfs), fsync settings at their defaults (\`mail_fsync = optimized\`). Changed from the defaults: \`mail_max_userip_connections = 10000\` (vvm runs unlimited), \`log_path\` to a file."
emit "- Both do the same IMAP work from the client's view; both answer every command OK (checked: tagged OK, 50 FETCH answers with headers and BODYSTRUCTURE, a BODY[2] literal of > 10 KB, BYE on LOGOUT). Dovecot serves the header/BODYSTRUCTURE FETCH from its dovecot.index.cache, built during the warm-up: that is how Dovecot works, and it is kept. Every run starts with all messages unseen (\`UID STORE 1:* -FLAGS.SILENT (\\Seen)\` per subscriber, untimed), and each session sets \\Seen on the first unseen message it sees, so most STOREs change state on both sides (last column of the step table)."
emit "- vvm-imapd runs as root and drops nothing; Dovecot chroots imap-login and setuids imap. This machine has no syslog daemon (/dev/log $( [ -e /dev/log ] && echo exists || echo 'is absent')), so vvm-imapd's syslog() calls cost almost nothing, while Dovecot writes its login lines through its log process to a file. Both favour vvm slightly."
emit "- vvm's long-lived part is vvmfs (RocksDB, the page cache of the mount); Dovecot's is the master, auth, anvil, log, config and stats. Their CPU is in the step table (\"daemon\"), their memory in the idle table."
emit "- The load generator is C (bench/imap/imapbench.c), one blocking thread per client, TCP_NODELAY on its side; its CPU per session is in the step table (well under 1 ms, under 2 % of one CPU at these rates), so it is not the bottleneck."
emit "- The machine: $(nproc) vCPUs shared by the client, the servers, the daemons, and whatever else runs on the VM (during development other engineers' fuzzers and test suites ran at the same time); at 8 and 32 clients every server is CPU-bound, so sessions/s there is mostly the inverse of the CPU per session. Rounds rotate the order of the servers and the median is kept, but expect ±20 % between runs."
emit ""
emit "Accept loops: $(grep RESULT "$TMP/inetd.log" | tail -1 | sed 's/^RESULT //'); NoDelay: $(grep RESULT "$TMP/inetd-nodelay.log" | tail -1 | sed 's/^RESULT //') (failed = a vvm-imapd that did not exit 0). Dovecot log: $(grep -ci 'error\|fatal\|panic' "$DV/dovecot.log" || true) error/fatal/panic lines." ""
emit "Whole run: $((T_END - T_START)) s." ""
emit "## Appendix: raw RESULT lines" "" '```'
cat "$RAW" >>"$OUT"
emit '```'

cp "$OUT" "$RESULTS"
cat "$RESULTS"
