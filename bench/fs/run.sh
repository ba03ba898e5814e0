#!/usr/bin/env bash
# Storage benchmarks of vvmfs against Maildir on ext4, side by side, in one
# run. Builds fsbench and vvmfs, mounts a fresh store under a temporary
# directory, runs every benchmark, writes bench/fs/results.md and prints it.
#
#   bench/fs/run.sh [--build DIR] [--deposits N] [--rounds R]
#                   [--big N] [--flag-msgs N] [--subs N] [--per-sub N]
#                   [--no-profile] [--no-journaled-peer] [--keep]
#
# Must run as root (drop_caches). Everything it mounts is unmounted on exit.
set -euo pipefail
shopt -s inherit_errexit
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$TOP/build
DEPOSITS=2000		# 40 KB messages per deposit configuration and round
ROUNDS=3		# rounds per deposit/read configuration (median kept)
BIG=200			# 1 MB messages for the read benchmark
FLAG_MSGS=1000		# messages in the mailbox of the uid/flags benchmark
SUBS=10000		# subscribers of the RSS benchmark
PER_SUB=10		# messages per subscriber of the RSS benchmark
PROFILE=1
JPEER=1			# also Maildir on a journaled ext4 loop image (deposits)
KEEP=0
CMDLINE="bench/fs/run.sh${*:+ $*}"

while [ $# -gt 0 ]; do
	case $1 in
	--build) BUILD=$(realpath "$2"); shift ;;
	--deposits) DEPOSITS=$2; shift ;;
	--rounds) ROUNDS=$2; shift ;;
	--big) BIG=$2; shift ;;
	--flag-msgs) FLAG_MSGS=$2; shift ;;
	--subs) SUBS=$2; shift ;;
	--per-sub) PER_SUB=$2; shift ;;
	--no-profile) PROFILE=0 ;;
	--no-journaled-peer) JPEER=0 ;;
	--keep) KEEP=1 ;;
	-h|--help) sed -n '2,11p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

[ "$(id -u)" = 0 ] || { echo "run.sh: must run as root (drop_caches)" >&2; exit 1; }

VVMFS=$BUILD/vvmfs/vvmfs
FSBENCH=$BUILD/bench/fs/fsbench
RESULTS=$TOP/bench/fs/results.md
T_START=$(date +%s)

echo "== building ($BUILD)" >&2
ninja -C "$BUILD" vvmfs/vvmfs bench/fs/fsbench >&2

TMP=$(mktemp -d /tmp/vvmfs-bench.XXXXXX)
MNT=$TMP/mnt
EXT4=$TMP/ext4
EXT4J=$TMP/ext4j
LOOP_MNTS=()
VVMFS_PID=
mkdir -p "$MNT"

# stop_vvmfs: SIGTERM, as the contract says; the exit status is recorded
# (a clean unmount should exit 0), the run goes on.
EXIT_CODES=()
stop_vvmfs() {
	local rc=0
	if [ -n "$VVMFS_PID" ] && kill -0 "$VVMFS_PID" 2>/dev/null; then
		kill -TERM "$VVMFS_PID"
		wait "$VVMFS_PID" || rc=$?
		EXIT_CODES+=("$rc")
	fi
	VVMFS_PID=
	if is_mounted "$MNT"; then
		echo "run.sh: $MNT still mounted after vvmfs exited" >&2
		fusermount3 -u -z "$MNT" || true
		return 1
	fi
	return 0
}

cleanup() {
	local rc=$?
	stop_vvmfs || true
	local m
	for m in "${LOOP_MNTS[@]}"; do
		if is_mounted "$m"; then umount "$m" || true; fi
	done
	finish_tmp $rc "$TMP"/vvmfs-*.log
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_vvmfs STORE NAME: mounts STORE on $MNT, sets VVMFS_PID.
start_vvmfs() {
	mkdir -p "$1"
	"$VVMFS" -f "$1" "$MNT" >>"$TMP/vvmfs-$2.log" 2>&1 &
	VVMFS_PID=$!
	local i
	for i in $(seq 400); do
		is_mounted "$MNT" && return 0
		kill -0 "$VVMFS_PID" 2>/dev/null ||
			{ echo "vvmfs exited at start" >&2; return 1; }
		sleep 0.05
	done
	echo "vvmfs did not mount" >&2
	return 1
}

# The peer: an ext4 directory on the disk of /work, else a loop image.
mkdir -p "$EXT4"
EXT4_NOTE="directory on the same ext4 file system as /work and the vvmfs store"
if [ "$(df --output=fstype "$EXT4" | tail -1)" != ext4 ] ||
   [ "$(df --output=source "$EXT4" | tail -1)" != \
     "$(df --output=source "$TOP" | tail -1)" ]; then
	truncate -s 4G "$TMP/ext4.img"
	mkfs.ext4 -q -F "$TMP/ext4.img"
	mount -o loop "$TMP/ext4.img" "$EXT4"
	LOOP_MNTS+=("$EXT4")
	EXT4_NOTE="loop-mounted ext4 image $TMP/ext4.img ($(df --output=fstype "$TMP" | tail -1) under it)"
fi

# ext4 of the disk without a journal makes fsync and rename cheap: say so,
# and compare deposits with a journaled ext4 (a loop image on the same
# disk) too.
DISK_DEV=$(df --output=source "$TOP" | tail -1)
DISK_NAME=$(basename "$DISK_DEV")
JOURNAL=$(cat "/sys/fs/ext4/$DISK_NAME/journal_task" 2>/dev/null || echo '?')
if [ "$JOURNAL" = "<none>" ]; then
	JOURNAL_NOTE="ext4 **without a journal** (/sys/fs/ext4/$DISK_NAME/journal_task is <none>)"
else
	JOURNAL_NOTE="ext4 with journal ($JOURNAL)"
fi
if [ "$JPEER" = 1 ]; then
	mkdir -p "$EXT4J"
	truncate -s 2G "$TMP/ext4j.img"
	mkfs.ext4 -q -F "$TMP/ext4j.img"
	mount -o loop "$TMP/ext4j.img" "$EXT4J"
	LOOP_MNTS+=("$EXT4J")
fi

fsb() { "$FSBENCH" "$@"; }
# kv LINE KEY: the value of KEY=... in a RESULT line
pass() { awk -v r="$1" -v t="$2" 'BEGIN { print (r >= t) ? "yes" : "**no**" }'; }

OUT=$TMP/results.md
emit() { printf '%s\n' "$@" >>"$OUT"; }

# ---------------------------------------------------------------- header
ROTA=$(cat "/sys/block/$DISK_NAME/queue/rotational" 2>/dev/null || echo '?')
emit "# vvmfs storage benchmarks" ""
emit "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
emit "- machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, kernel $(uname -r)"
emit "- disk: $DISK_DEV, $JOURNAL_NOTE, mounted \`$(awk -v d="$DISK_DEV" '$1 == d && $2 == "/" { print $4 }' /proc/mounts)\`; virtio block device (rotational=$ROTA); the vvmfs store (RocksDB) and the Maildirs are both on it"
emit "- peer: Maildir on ext4, $EXT4_NOTE"
[ "$JPEER" = 1 ] && emit "- extra peer for deposits only: Maildir on a journaled ext4 (default mkfs.ext4, data=ordered) in a loop-mounted image file on the same disk; informative, not in the ratio"
emit "- command: \`$CMDLINE\` (as root, from the top of the tree)"
emit "- fsbench: \`$FSBENCH\` (bench/fs/fsbench.c); RESULT lines of this run in the appendix"
emit "- the machine is shared and noisy: every timed configuration ran $ROUNDS times, vvmfs and Maildir alternating, and the median is shown"
emit ""

RAW=$TMP/raw.txt
: >"$RAW"
run() { local l; l=$(fsb "$@"); echo "$l" >>"$RAW"; log "$l"; echo "$l"; }

# =========================================================== 1. deposits
start_vvmfs "$TMP/store" main
log "== 1. deposit rate, 40 KB messages with fsync"
emit "## 1. Deposit rate, 40 KB voice messages, fsync each" ""
emit "vvmfs: create a temporary name in INBOX, write, fsync (= commit), fgetxattr user.imap.uid, close." \
     "Maildir: write tmp/unique, fsync, close, rename to new/, fsync new/. $DEPOSITS messages per round, fresh mailboxes each round." ""
if [ "$JPEER" = 1 ]; then
	emit "| writers | mailboxes | vvmfs msg/s | Maildir msg/s | vvmfs/Maildir | ≥ 1.0× | vvmfs p50 / p99 ms | Maildir p50 / p99 ms | Maildir, journaled ext4 loop, msg/s | vvmfs/that |" \
	     "|---|---|---|---|---|---|---|---|---|---|"
	fsb provision --dir "$EXT4J" --mode maildir --mailboxes 8 >/dev/null
else
	emit "| writers | mailboxes | vvmfs msg/s | Maildir msg/s | vvmfs/Maildir | ≥ 1.0× | vvmfs p50 / p99 ms | Maildir p50 / p99 ms |" \
	     "|---|---|---|---|---|---|---|---|"
fi
base=0
for cfg in "1 1" "8 1" "8 8"; do
	set -- $cfg
	w=$1 m=$2
	vr=() mr=() vl=() ml=() jr=()
	for r in $(seq "$ROUNDS"); do
		fsb provision --dir "$MNT" --mode vvmfs --base $base --mailboxes "$m" >/dev/null
		fsb provision --dir "$EXT4" --mode maildir --base $base --mailboxes "$m" >/dev/null
		if [ $((r % 2)) = 1 ]; then order="vvmfs maildir"; else order="maildir vvmfs"; fi
		for mode in $order; do
			if [ $mode = vvmfs ]; then d=$MNT; else d=$EXT4; fi
			l=$(run deposit --dir "$d" --mode $mode --writers "$w" \
				--mailboxes "$m" --base $base --count "$DEPOSITS" --size 40960)
			if [ $mode = vvmfs ]; then
				vr+=("$(kv "$l" rate)"); vl+=("$(kv "$l" p50_ms) / $(kv "$l" p99_ms)")
			else
				mr+=("$(kv "$l" rate)"); ml+=("$(kv "$l" p50_ms) / $(kv "$l" p99_ms)")
			fi
		done
		if [ "$JPEER" = 1 ]; then
			# the small image: reuse mailboxes 0..7, emptied
			for k in $(seq 0 $((m - 1))); do
				find "$EXT4J/md$k/new" -type f -delete
			done
			sync
			l=$(run deposit --dir "$EXT4J" --mode maildir --writers "$w" \
				--mailboxes "$m" --count "$DEPOSITS" --size 40960)
			jr+=("$(kv "$l" rate)")
		fi
		base=$((base + m))
	done
	v=$(printf '%s\n' "${vr[@]}" | median)
	p=$(printf '%s\n' "${mr[@]}" | median)
	# latencies of the median round
	for i in "${!vr[@]}"; do [ "${vr[$i]}" = "$v" ] && vlat=${vl[$i]}; done
	for i in "${!mr[@]}"; do [ "${mr[$i]}" = "$p" ] && mlat=${ml[$i]}; done
	row="| $w | $m | $v | $p | $(ratio "$v" "$p") | $(pass "$(awk -v a="$v" -v b="$p" 'BEGIN{print a/b}')" 1.0) | $vlat | $mlat |"
	if [ "$JPEER" = 1 ]; then
		j=$(printf '%s\n' "${jr[@]}" | median)
		row="$row $j | $(ratio "$v" "$j") |"
	fi
	emit "$row"
done
emit "" "All rounds (msg/s), vvmfs vs Maildir, in table order: see the appendix." ""

# ======================================================== 2. read 1 MB
log "== 2. read throughput, 1 MB messages"
RB=5000		# mailbox index of the read benchmark
fsb provision --dir "$MNT" --mode vvmfs --base $RB --mailboxes 1 >/dev/null
fsb provision --dir "$EXT4" --mode maildir --base $RB --mailboxes 1 >/dev/null
lv=$(run deposit --dir "$MNT" --mode vvmfs --base $RB --count "$BIG" --size 1048576)
lm=$(run deposit --dir "$EXT4" --mode maildir --base $RB --count "$BIG" --size 1048576)
VDIR=$MNT/$((31600000000 + RB))/INBOX
MDIR=$EXT4/md$RB/new
cold_v=() cold_m=() warm_v=() warm_m=()
for r in $(seq "$ROUNDS"); do
	l=$(run read --dir "$VDIR" --drop-caches); cold_v+=("$(kv "$l" mbps)")
	l=$(run read --dir "$MDIR" --drop-caches); cold_m+=("$(kv "$l" mbps)")
done
for r in $(seq "$ROUNDS"); do
	l=$(run read --dir "$VDIR"); warm_v+=("$(kv "$l" mbps)")
	l=$(run read --dir "$MDIR"); warm_m+=("$(kv "$l" mbps)")
done
cv=$(printf '%s\n' "${cold_v[@]}" | median); cm=$(printf '%s\n' "${cold_m[@]}" | median)
wv=$(printf '%s\n' "${warm_v[@]}" | median); wm=$(printf '%s\n' "${warm_m[@]}" | median)
dv=$(awk -v b="$(kv "$lv" bytes)" -v s="$(kv "$lv" secs)" 'BEGIN { printf "%.1f", b / 1e6 / s }')
dm=$(awk -v b="$(kv "$lm" bytes)" -v s="$(kv "$lm" secs)" 'BEGIN { printf "%.1f", b / 1e6 / s }')
emit "## 2. Read throughput, $BIG × 1 MB messages" ""
emit "Every file opened, read whole in 128 KB read()s, closed; the listing (readdir) is inside the timing." \
     "Cold: \`sync; echo 3 > /proc/sys/vm/drop_caches\` right before the pass (this empties the kernel page cache, not the RocksDB block cache inside vvmfs). Warm: the pass right after." ""
emit "| pass | vvmfs MB/s | ext4 MB/s | vvmfs/ext4 | ≥ 0.5× |" "|---|---|---|---|---|"
emit "| cold | $cv | $cm | $(ratio "$cv" "$cm") | $(pass "$(awk -v a="$cv" -v b="$cm" 'BEGIN{print a/b}')" 0.5) |"
emit "| warm | $wv | $wm | $(ratio "$wv" "$wm") | $(pass "$(awk -v a="$wv" -v b="$wm" 'BEGIN{print a/b}')" 0.5) |"
emit "| (deposit of the $BIG messages, 1 writer) | $dv | $dm | $(ratio "$dv" "$dm") | |" ""

# ================================================ 3. uid/flags listing
log "== 3. uid/flags of a $FLAG_MSGS-message mailbox"
FB=6000
fsb provision --dir "$MNT" --mode vvmfs --base $FB --mailboxes 1 >/dev/null
fsb provision --dir "$EXT4" --mode maildir --base $FB --mailboxes 1 >/dev/null
run deposit --dir "$MNT" --mode vvmfs --base $FB --count "$FLAG_MSGS" --size 3000 --writers 4 --flags varied >/dev/null
run deposit --dir "$EXT4" --mode maildir --base $FB --count "$FLAG_MSGS" --size 3000 --writers 4 --flags varied >/dev/null
FV=$MNT/$((31600000000 + FB))/INBOX
FM=$EXT4/md$FB
lc=$(run flags --dir "$FV" --mode changes --reps 200 --expect "$FLAG_MSGS")
lx=$(run flags --dir "$FV" --mode xattr --reps 20 --expect "$FLAG_MSGS")
ld=$(run flags --dir "$FM" --mode maildir --reps 200 --expect "$FLAG_MSGS")
emit "## 3. UIDs and flags of a $FLAG_MSGS-message mailbox" ""
emit "Messages of ~3 KB deposited with 8 different flag sets (user.imap.flags set before the commit; Maildir: in cur/ with \`:2,<flags>\`). Ratio: vvmfs time / Maildir time (lower is better)." ""
emit "| method | reps | median ms | p99 ms | max ms | vs Maildir (median) | target |" "|---|---|---|---|---|---|---|"
emit "| vvmfs: read \`INBOX/.changes/0\` whole | $(kv "$lc" reps) | $(kv "$lc" median_ms) | $(kv "$lc" p99_ms) | $(kv "$lc" max_ms) | $(ratio "$(kv "$lc" median_ms)" "$(kv "$ld" median_ms)") | < 5 ms: $(awk -v m="$(kv "$lc" median_ms)" 'BEGIN { print (m < 5) ? "yes" : "**no**" }') |"
emit "| vvmfs naive: readdir + getxattr user.imap.flags per file | $(kv "$lx" reps) | $(kv "$lx" median_ms) | $(kv "$lx" p99_ms) | $(kv "$lx" max_ms) | $(ratio "$(kv "$lx" median_ms)" "$(kv "$ld" median_ms)") | |"
emit "| Maildir: readdir new/ + cur/, flags parsed from names | $(kv "$ld" reps) | $(kv "$ld" median_ms) | $(kv "$ld" p99_ms) | $(kv "$ld" max_ms) | 1.00× | |" ""

# ============================================ profile of 1-writer deposit
if [ "$PROFILE" = 1 ]; then
	log "== profile of the 1-writer deposit"
	PB=7000
	fsb provision --dir "$MNT" --mode vvmfs --base $PB --mailboxes 1 >/dev/null
	emit "## Profile: vvmfs during a 1-writer deposit of 1000 × 40 KB" ""
	if perf stat -e instructions true >/dev/null 2>&1 &&
	   ! perf stat -e instructions true 2>&1 | grep 'not supported' >/dev/null; then
		perf record -g -o "$TMP/perf.data" -p "$VVMFS_PID" 2>/dev/null &
		PROF_PID=$!
		sleep 1
		run deposit --dir "$MNT" --mode vvmfs --base $PB --count 1000 --size 40960 >/dev/null
		kill -INT $PROF_PID; wait $PROF_PID || true
		emit "\`perf record -g -p <vvmfs>\`, \`perf report --no-children\`, top lines:" "" '```'
		perf report -i "$TMP/perf.data" --no-children --stdio 2>/dev/null |
			grep -E '^ +[0-9]' | awk 'NR <= 20' >>"$OUT"
		emit '```' ""
	else
		strace -c -f -p "$VVMFS_PID" -o "$TMP/strace.txt" &
		PROF_PID=$!
		sleep 1
		l=$(run deposit --dir "$MNT" --mode vvmfs --base $PB --count 1000 --size 40960)
		kill -INT $PROF_PID; wait $PROF_PID || true
		emit "\`perf stat -e instructions\` is not supported here (VM without PMU), so: \`strace -c -f -p <vvmfs pid>\` during the deposit (the deposit ran at $(kv "$l" rate) msg/s under strace). Top 10 by time:" "" '```'
		head -n 12 "$TMP/strace.txt" >>"$OUT"
		emit '```' ""
		if perf record -e cpu-clock -o /dev/null true >/dev/null 2>&1; then
			fsb provision --dir "$MNT" --mode vvmfs --base $((PB + 1)) --mailboxes 1 >/dev/null
			perf record -e cpu-clock -g -o "$TMP/perf.data" -p "$VVMFS_PID" >/dev/null 2>&1 &
			PROF_PID=$!
			sleep 1
			l=$(run deposit --dir "$MNT" --mode vvmfs --base $((PB + 1)) --count 1000 --size 40960)
			kill -INT $PROF_PID; wait $PROF_PID || true
			emit "CPU of vvmfs (software event): \`perf record -e cpu-clock -g -p <vvmfs pid>\` during the same deposit ($(kv "$l" rate) msg/s), \`perf report --no-children --sort dso,sym\`, top 15:" "" '```'
			perf report -i "$TMP/perf.data" --no-children --sort dso,sym --stdio 2>/dev/null |
				grep -E '^ +[0-9]+\.[0-9]+%' | awk 'NR <= 15' >>"$OUT"
			emit '```' ""
		fi
	fi
fi
stop_vvmfs

# ==================================================== 4. RSS at scale
log "== 4. RSS with $SUBS subscribers × $PER_SUB messages"
start_vvmfs "$TMP/store-rss" rss
emit "## 4. Memory of the daemon: $((SUBS * PER_SUB)) messages across $SUBS subscribers" ""
emit "A fresh store and daemon. Messages of ~3 KB, 8 writers, fsync each. VmRSS / VmHWM from /proc/<vvmfs pid>/status." ""
emit "| moment | VmRSS MB | VmHWM MB | RssAnon MB | RssFile MB | step took |" "|---|---|---|---|---|---|"
rss_row() {
	local l
	l=$(run rss --pid "$VVMFS_PID" --label "$2")
	emit "| $1 | $(kv "$l" rss_mb) | $(kv "$l" hwm_mb) | $(kv "$l" anon_mb) | $(kv "$l" file_mb) | $3 |"
}
rss_row "mounted, empty store" empty "-"
lp=$(run provision --dir "$MNT" --mode vvmfs --mailboxes "$SUBS" --writers 8)
rss_row "after provisioning $SUBS subscribers (mkdir)" provisioned "$(kv "$lp" secs) s ($(kv "$lp" rate)/s)"
ld=$(run deposit --dir "$MNT" --mode vvmfs --mailboxes "$SUBS" --writers 8 --count $((SUBS * PER_SUB)) --size 3000)
rss_row "after depositing $((SUBS * PER_SUB)) messages" loaded "$(kv "$ld" secs) s ($(kv "$ld" rate) msg/s)"
lw=$(run walk --dir "$MNT")
rss_row "after a full walk (readdir of every directory, $(kv "$lw" dirs) dirs, $(kv "$lw" files) files)" walked "$(kv "$lw" secs) s"
sleep 5
rss_row "after 5 s idle" idle "5 s"
stop_vvmfs
start_vvmfs "$TMP/store-rss" rss
rss_row "restarted over the same store" restarted "-"
lw=$(run walk --dir "$MNT")
rss_row "restarted, after a full walk" restarted-walked "$(kv "$lw" secs) s"
stop_vvmfs
emit "" "Store size on disk: $(du -sh "$TMP/store-rss" | cut -f1) (RocksDB)." ""

T_END=$(date +%s)
emit "vvmfs exit status after each SIGTERM (clean unmount expected to exit 0): ${EXIT_CODES[*]}" ""
emit "Whole run: $((T_END - T_START)) s." ""
emit "## Appendix: raw RESULT lines" "" '```'
cat "$RAW" >>"$OUT"
emit '```'

cp "$OUT" "$RESULTS"
cat "$RESULTS"
