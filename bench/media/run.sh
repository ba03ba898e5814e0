#!/usr/bin/env bash
# Transcoding speed of lib/media (in process and in the worker process
# vvmfs starts for a cold rendition) against sox and ffmpeg from Debian,
# side by side, in one run. Builds mediabench, vvm-media-worker, vvmfs and
# vvm-imapd, generates a 60 s voice message in every source format,
# converts each to every target, checks every output's duration, profiles
# where the time goes, then times the first IMAP FETCH that needs a
# transcode (cold and cached) through vvm-imapd over a vvmfs mount, writes
# bench/media/results.md and prints it.
#
#   bench/media/run.sh [--build DIR] [--rounds N] [--keep]
#
# Needs sox, ffmpeg, espeak-ng, gst-launch-1.0 (and the AMR, GSM and libav
# GStreamer plugins), fusermount3 and /dev/fuse; perf is optional. Not
# part of `meson test`. The mount is unmounted, and everything started is
# stopped, on exit.
set -euo pipefail
shopt -s inherit_errexit
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$TOP/build
ROUNDS=5
KEEP=0
# the FETCH section: messages per source and FETCH form, and a bound on
# its measuring loop
FETCH_MSGS=10
FETCH_MAX_SECONDS=300
CMDLINE="bench/media/run.sh${*:+ $*}"

while [ $# -gt 0 ]; do
	case $1 in
	--build) BUILD=$(realpath -m "$2"); shift ;;
	--rounds) ROUNDS=$2; shift ;;
	--keep) KEEP=1 ;;
	-h|--help) sed -n '2,16p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ "$ROUNDS" -ge 1 ] 2>/dev/null || { echo "run.sh: --rounds wants a number >= 1" >&2; exit 2; }

for t in sox ffmpeg espeak-ng gst-launch-1.0 gst-inspect-1.0 python3 meson ninja fusermount3; do
	command -v $t >/dev/null || { echo "run.sh: $t not found (apt-get install sox libsox-fmt-all ffmpeg espeak-ng gstreamer1.0-tools gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad gstreamer1.0-libav fuse3)" >&2; exit 1; }
done
[ -c /dev/fuse ] || { echo "run.sh: /dev/fuse missing" >&2; exit 1; }

echo "== building ($BUILD)" >&2
if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD" "$TOP" --buildtype=release >&2
fi
ninja -C "$BUILD" bench/media/mediabench lib/media/vvm-media-worker \
	vvmfs/vvmfs shims/imap/vvm-imapd >&2
BUILDTYPE=$(meson introspect --buildoptions "$BUILD" |
	python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "buildtype"))')
[ "$BUILDTYPE" = release ] ||
	echo "run.sh: warning: $BUILD is a $BUILDTYPE build; numbers are for release builds" >&2

MB=$BUILD/bench/media/mediabench
WORKER=$BUILD/lib/media/vvm-media-worker
VVMFS=$BUILD/vvmfs/vvmfs
IMAPD=$(realpath "$BUILD/shims/imap/vvm-imapd")
RESULTS=$TOP/bench/media/results.md
T_START=$(date +%s)
TMP=$(mktemp -d /tmp/mediabench.XXXXXX)
SRC=$TMP/src OUTD=$TMP/out MNT=$TMP/mnt
VVMFS_PID=''
mkdir -p "$SRC" "$OUTD" "$MNT"

# stop_fetch: the vvm-imapd processes fetchbench.py started (by the pids
# it wrote, if they still run that program), vvmfs (SIGTERM, 20 s, then
# SIGKILL), and the mount, even if vvmfs did not unmount it
stop_fetch() {
	local p
	for p in $(cat "$TMP/imapd.pids" 2>/dev/null); do
		[ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$IMAPD" ] &&
			kill -KILL "$p" 2>/dev/null
	done
	if [ -n "$VVMFS_PID" ] && kill -0 "$VVMFS_PID" 2>/dev/null; then
		kill -TERM "$VVMFS_PID" 2>/dev/null || true
		for _ in $(seq 200); do
			kill -0 "$VVMFS_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$VVMFS_PID" 2>/dev/null || true
		wait "$VVMFS_PID" 2>/dev/null || true
	fi
	VVMFS_PID=''
	if is_mounted "$MNT"; then fusermount3 -u -z "$MNT" || true; fi
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_fetch
	# never rm -r through a mount that is somehow still there
	if is_mounted "$MNT"; then
		echo "run.sh: $MNT is still mounted" >&2
		KEEP=1
	fi
	finish_tmp $rc "$TMP/run.log" "$TMP"/vvmfs.log "$TMP"/imapd.log
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

LOAD_START="load average $(cut -d' ' -f1-3 /proc/loadavg); busy: $(busy_others)"

RAW=$TMP/raw.txt
: >"$RAW"
# result LINE...: keeps the RESULT lines of mediabench, prints the last
result() {
	local line
	line=$(grep '^RESULT' <<<"$1" | tail -1)
	[ -n "$line" ] || die "mediabench printed no RESULT: $1"
	echo "$line" >>"$RAW"
	echo "$line"
}
mb() { result "$("$MB" "$@" 2>>"$TMP/run.log")"; }
probe_ms() { "$MB" probe "$1" | sed -n 's/.* duration_ms=\([0-9]*\).*/\1/p'; }

# ============================================================ the sources
# Speech from espeak-ng (a voice-mail message, ~20 s), padded and looped
# to exactly 60 s with sox, at 16 kHz (for AMR-WB) and 8 kHz (the rest).
log "== generating the sources"
espeak-ng -v en -s 150 -w "$TMP/speech.wav" \
	"Hello, this is Anna from the dentist's office, calling about your appointment on Thursday at half past three. Could you please call us back before noon tomorrow to confirm, or let us know if you need to reschedule? Our number is oh two oh, five five five, one two three four. Thank you, and have a nice day."
sox "$TMP/speech.wav" -b 16 -c 1 "$TMP/pcm16k.wav" rate -v 16000 pad 0 0.5 repeat 3 trim 0 60
sox "$TMP/pcm16k.wav" "$TMP/pcm8k.wav" rate -v 8000
SOURCES="amr awb alaw ulaw pcm wav49 gsm"
declare -A SFILE=([amr]=$SRC/amr.amr [awb]=$SRC/awb.awb [alaw]=$SRC/alaw.wav
	[ulaw]=$SRC/ulaw.wav [pcm]=$SRC/pcm.wav [wav49]=$SRC/wav49.wav [gsm]=$SRC/gsm.gsm)
declare -A SNAME=([amr]="AMR-NB 12.2 (sox, DTX)" [awb]="AMR-WB 12.65"
	[alaw]="WAV A-law" [ulaw]="WAV mu-law" [pcm]="WAV PCM16 8 kHz"
	[wav49]="WAV GSM (wav49)" [gsm]="raw GSM")
sox "$TMP/pcm8k.wav" -t amr-nb -C 7 "${SFILE[amr]}"
gst-launch-1.0 -q filesrc location="$TMP/pcm16k.wav" ! wavparse ! audioconvert ! \
	voamrwbenc band-mode=MR1265 ! filesink location="$TMP/awb.raw" >&2
{ printf '#!AMR-WB\n'; cat "$TMP/awb.raw"; } >"${SFILE[awb]}"
sox "$TMP/pcm8k.wav" -e a-law -b 8 "${SFILE[alaw]}"
sox "$TMP/pcm8k.wav" -e u-law -b 8 "${SFILE[ulaw]}"
cp "$TMP/pcm8k.wav" "${SFILE[pcm]}"
sox "$TMP/pcm8k.wav" -e gsm-full-rate "${SFILE[wav49]}"
sox "$TMP/pcm8k.wav" -t gsm "${SFILE[gsm]}"
# 1 s of A-law, for what starting a process costs
sox "${SFILE[alaw]}" "$SRC/tiny.wav" trim 0 1
for s in $SOURCES; do
	d=$(probe_ms "${SFILE[$s]}")
	[ "$d" = 60000 ] || die "${SFILE[$s]}: media_probe says $d ms, not 60000"
done
# AMR-NB frame types in the sox file (sox encodes with DTX on)
AMR_FT=$(python3 - "${SFILE[amr]}" <<'EOF'
import collections, sys
d = open(sys.argv[1], "rb").read()[6:]
size = [12, 13, 15, 17, 19, 20, 26, 31, 5, 0, 0, 0, 0, 0, 0, 0]
c, i = collections.Counter(), 0
while i < len(d):
    t = (d[i] >> 3) & 15
    c[t] += 1
    i += 1 + size[t]
n = sum(c.values())
print("%d frames: %d speech (12.2), %d SID, %d NO_DATA" % (n, c[7], c[8], c[15]))
EOF
)

# ============================================================ the commands
TARGETS="amr amr-wb wav-g711a wav-g711u wav"
declare -A TEXT=([amr]=amr [amr-wb]=awb [wav-g711a]=wav [wav-g711u]=wav [wav]=wav)
declare -A SOX_IN=([amr]="-t amr-nb" [awb]="-t amr-wb" [alaw]="-t wav" [ulaw]="-t wav"
	[pcm]="-t wav" [wav49]="-t wav" [gsm]="-t gsm")
declare -A SOX_OUT=([amr]="-t amr-nb -C 7 -r 8000 -c 1" [amr-wb]=""
	[wav-g711a]="-t wav -e a-law -b 8 -r 8000 -c 1"
	[wav-g711u]="-t wav -e u-law -b 8 -r 8000 -c 1"
	[wav]="-t wav -e signed-integer -b 16 -c 1")
declare -A FF_IN=([amr]="-f amr" [awb]="-f amr" [alaw]="-f wav" [ulaw]="-f wav"
	[pcm]="-f wav" [wav49]="-f wav" [gsm]="-f gsm")
declare -A FF_OUT=([amr]="" [amr-wb]=""
	[wav-g711a]="-ac 1 -ar 8000 -c:a pcm_alaw -f wav"
	[wav-g711u]="-ac 1 -ar 8000 -c:a pcm_mulaw -f wav"
	[wav]="-ac 1 -c:a pcm_s16le -f wav")
# sox_cmd SRC TARGET OUT / ff_cmd SRC TARGET OUT: the command line, or
# nothing when the tool cannot (no AMR-WB encoder in Debian's sox; no AMR
# encoder at all in Debian's ffmpeg). sox: -D, no dither, as GStreamer's
# path has none.
sox_cmd() {
	[ -n "${SOX_OUT[$2]}" ] || return 0
	echo "sox -D -V1 ${SOX_IN[$1]} ${SFILE[$1]} ${SOX_OUT[$2]} $3"
}
ff_cmd() {
	[ -n "${FF_OUT[$2]}" ] || return 0
	echo "ffmpeg -nostdin -hide_banner -loglevel fatal -y ${FF_IN[$1]} -i ${SFILE[$1]} ${FF_OUT[$2]} $3"
}
ffmpeg -hide_banner -encoders 2>/dev/null | grep -qiE 'amr' &&
	log "run.sh: note: this ffmpeg has an AMR encoder; the script does not use it"

# ============================================================ the pairs
log "== $ROUNDS rounds per tool and pair (+1 warm-up)"
declare -A X W D CMS WMS
# cell TOOL SRC TARGET RESULT: the CPU and wall figures (× realtime and
# ms), the output's duration
cell() {
	X[$1.$2.$3]=$(kv "$4" xrt_cpu) W[$1.$2.$3]=$(kv "$4" xrt_wall)
	CMS[$1.$2.$3]=$(kv "$4" cpu_ms) WMS[$1.$2.$3]=$(kv "$4" wall_ms)
	D[$1.$2.$3]=$5
}
for s in $SOURCES; do
	for t in $TARGETS; do
		out=$OUTD/$s.$t
		r=$(mb gst -n "$ROUNDS" -o "$out.vvm.${TEXT[$t]}" "${SFILE[$s]}" "$t")
		cell gst $s $t "$r" "$(kv "$r" out_ms)"
		r=$(mb worker -n "$ROUNDS" -w "$WORKER" "${SFILE[$s]}" "$t")
		cell worker $s $t "$r" "$(kv "$r" out_ms)"
		c=$(sox_cmd $s $t "$out.sox.${TEXT[$t]}")
		if [ -n "$c" ]; then
			# shellcheck disable=SC2086
			r=$(mb exec -n "$ROUNDS" -a 60000 -- $c)
			cell sox $s $t "$r" "$(probe_ms "$out.sox.${TEXT[$t]}")"
		fi
		c=$(ff_cmd $s $t "$out.ffmpeg.${TEXT[$t]}")
		if [ -n "$c" ]; then
			# shellcheck disable=SC2086
			r=$(mb exec -n "$ROUNDS" -a 60000 -- $c)
			cell ffmpeg $s $t "$r" "$(probe_ms "$out.ffmpeg.${TEXT[$t]}")"
		fi
		log "$s -> $t: in-process ${X[gst.$s.$t]}x, worker ${X[worker.$s.$t]}x, sox ${X[sox.$s.$t]:-n/a}x, ffmpeg ${X[ffmpeg.$s.$t]:-n/a}x (CPU)"
	done
done

# ====================================================== codec floors
log "== codec floors"
declare -A FLOOR
for op in "amrnb-dec amr" "amrwb-dec awb" "gsm-dec gsm" "gsm-dec wav49" \
	  "g711-dec alaw" "amrnb-enc pcm" "amrwb-enc pcm16k" "alaw-enc pcm"; do
	set -- $op
	f=${SFILE[$2]:-$TMP/$2.wav}
	r=$(mb codec -n "$ROUNDS" "$1" "$f")
	FLOOR[$1.$2]="$(kv "$r" cpu_ms) $(kv "$r" xrt_cpu)"
done

# ====================================================== process start
log "== process start"
NS=$((ROUNDS * 4))
declare -A START
START[true]=$(mb exec -n "$NS" -- /bin/true)
START[sox]=$(mb exec -n "$NS" -a 1000 -- sox -D -V1 -t wav "$SRC/tiny.wav" -t wav -e u-law -b 8 "$OUTD/tiny.sox.wav")
START[ffmpeg]=$(mb exec -n "$NS" -a 1000 -- ffmpeg -nostdin -hide_banner -loglevel fatal -y -f wav -i "$SRC/tiny.wav" -c:a pcm_mulaw -f wav "$OUTD/tiny.ffmpeg.wav")
START[gst]=$(mb gst -n "$NS" "$SRC/tiny.wav" wav-g711u)
START[worker]=$(mb worker -n "$NS" -w "$WORKER" "$SRC/tiny.wav" wav-g711u)
# the worker with a registry of only the plugins lib/media uses
PLUG=$TMP/plugins
mkdir -p "$PLUG"
GST_SYSDIR=$(pkg-config --variable=pluginsdir gstreamer-1.0 2>/dev/null || echo /usr/lib/x86_64-linux-gnu/gstreamer-1.0)
for p in app coreelements audioconvert audioresample amrnb amrwbdec voamrwbenc alaw mulaw gsm libav isomp4; do
	[ -e "$GST_SYSDIR/libgst$p.so" ] && ln -s "$GST_SYSDIR/libgst$p.so" "$PLUG/"
done
PRIV_ENV="GST_PLUGIN_SYSTEM_PATH_1_0=$PLUG GST_REGISTRY_1_0=$TMP/registry.bin"
START[worker_priv]=$(env $PRIV_ENV "$MB" worker -n "$NS" -w "$WORKER" "$SRC/tiny.wav" wav-g711u | result "$(cat)")
START[worker_priv_nolibav]=$(rm -f "$PLUG/libgstlibav.so" "$TMP/registry.bin"; env $PRIV_ENV "$MB" worker -n "$NS" -w "$WORKER" "$SRC/tiny.wav" wav-g711u | result "$(cat)")
# the worker where it cannot keep a registry (a service user without a
# writable cache directory): every start rescans every plugin. The
# registry's directory is a plain file, so that it cannot be created even
# by root.
: >"$TMP/notadir"
START[worker_noreg]=$(env GST_REGISTRY_1_0="$TMP/notadir/registry.bin" "$MB" worker -n 2 -w "$WORKER" "$SRC/tiny.wav" wav-g711u | result "$(cat)")
REG_SIZE=$(stat -c %s "${XDG_CACHE_HOME:-$HOME/.cache}/gstreamer-1.0/registry.$(uname -m).bin" 2>/dev/null || echo '?')
NPLUGINS=$(find "$GST_SYSDIR" -maxdepth 1 -name 'libgst*.so' | wc -l)

# ============================================================ profile
PROFILE=0
declare -A PROF CSW
if perf stat -e task-clock -o /dev/null true >/dev/null 2>&1; then
	PROFILE=1
	log "== profile"
	for p in "amr wav-g711a" "pcm amr" "amr amr-wb" "awb wav-g711u"; do
		set -- $p
		perf stat -x, -e task-clock,context-switches -o "$TMP/pstat.txt" -- \
			"$MB" gst -n "$ROUNDS" "${SFILE[$1]}" "$2" >/dev/null 2>>"$TMP/run.log"
		CSW[$1.$2]=$(awk -F, -v n=$((ROUNDS + 1)) '$3 == "context-switches" { printf "%d", $1 / n }' "$TMP/pstat.txt")
		perf record -q -o "$TMP/perf.data" -- "$MB" gst -n "$ROUNDS" "${SFILE[$1]}" "$2" >/dev/null 2>>"$TMP/run.log"
		PROF[$1.$2]=$(perf report -i "$TMP/perf.data" --no-children --sort dso --stdio 2>/dev/null |
			awk '/^ +[0-9.]+%/ && n < 6 { sub(/^\[kernel.kallsyms\]$/, "kernel", $2); sub(/\.so[.0-9]*$/, "", $2); printf "%s%s %s", (n ? ", " : ""), $2, $1; n++ }')
	done
fi

# ======================================================== IMAP FETCH
# The same sources through the real stack: vvmfs mounted with a [media]
# worker, one subscriber, vvm-imapd started per connection as inetd does
# (by fetchbench.py, which is also the client). The mount is gone before
# the results are written; the EXIT trap does the same on failure.
log "== IMAP FETCH through vvm-imapd and vvmfs ($FETCH_MSGS messages per source and form)"
MSISDN=31612345678 PASSWORD=s3cret-Pw
cat >"$TMP/vvm.conf" <<EOF
[imap]
mount = $MNT
hostname = vvm.test
max_sessions = 0
login_failure_delay_ms = 0

[media]
worker = $WORKER
EOF
"$VVMFS" -f -o "config=$TMP/vvm.conf" "$TMP/store" "$MNT" >>"$TMP/vvmfs.log" 2>&1 &
VVMFS_PID=$!
for _ in $(seq 400); do
	is_mounted "$MNT" && break
	kill -0 "$VVMFS_PID" 2>/dev/null || die "vvmfs exited at start (see vvmfs.log)"
	sleep 0.05
done
is_mounted "$MNT" || die "vvmfs did not mount"
mkdir "$MNT/$MSISDN"
printf '%s' "$PASSWORD" >"$MNT/$MSISDN/profile/imap_password"
echo R >"$MNT/$MSISDN/profile/status"
FETCH_T0=$(date +%s)
# the client is written for Debian's python3, standard library only
PY=/usr/bin/python3
[ -x $PY ] || PY=python3
FETCH_OUT=$(timeout -k 10 $((FETCH_MAX_SECONDS + 120)) $PY "$TOP/bench/media/fetchbench.py" \
	--mount "$MNT" --msisdn $MSISDN --password "$PASSWORD" --imapd "$IMAPD" \
	--config "$TMP/vvm.conf" --vvmfs-pid "$VVMFS_PID" --pid-file "$TMP/imapd.pids" \
	--log "$TMP/imapd.log" --count "$FETCH_MSGS" --max-seconds "$FETCH_MAX_SECONDS" \
	--source "alaw:${SFILE[alaw]}:audio/wav; codec=g711a:vm.wav:audio/amr" \
	--source "amr:${SFILE[amr]}:audio/amr:vm.amr:audio/wav; codec=g711a" \
	2>>"$TMP/run.log") || die "fetchbench.py failed"
FETCH_SECS=$(($(date +%s) - FETCH_T0))
NOT_TRANSCODED=$(grep -c 'not transcoded' "$TMP/vvmfs.log" || true)
VVMFS_RSS=$(awk '/^VmHWM/ { printf "%.0f MB", $2 / 1024 }' "/proc/$VVMFS_PID/status")
stop_fetch
is_mounted "$MNT" && die "$MNT is still mounted"
declare -A FR
while read -r l; do
	echo "$l" >>"$RAW"
	FR[$(kv "$l" source).$(kv "$l" item)]=$l
	log "${l:0:200}"
done < <(grep '^RESULT' <<<"$FETCH_OUT")
for k in alaw.part alaw.whole amr.part amr.whole; do
	[ -n "${FR[$k]:-}" ] && [ "$(kv "${FR[$k]}" n)" -gt 0 ] || die "fetchbench.py measured nothing for $k"
done

# ============================================================ results
log "== results"
OUT=$TMP/results.md
emit() { printf '%s\n' "$@" >>"$OUT"; }
fx() { [ -n "${1:-}" ] && awk -v v="$1" 'BEGIN { printf "%.0f×", v }' || printf 'n/a'; }
rat() { [ -n "${1:-}" ] && [ -n "${2:-}" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }' || printf 'n/a'; }
# dur TOOL S T: a mark when the output's duration is not the input's
dur() {
	local d=${D[$1.$2.$3]:-}
	[ -z "$d" ] || [ "$d" = 60000 ] || awk -v d="$d" 'BEGIN { printf " (out %.2f s)", d / 1000 }'
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN { print (a >= b) ? "yes" : "**no**" }'; }
sr() { kv "${START[$1]}" "$2"; }
fl() { set -- ${FLOOR[$1]}; printf '%.1f ms | %.0f×' "$1" "$2"; }

emit "# Media transcoding benchmark: lib/media (in process and worker) against sox and ffmpeg" ""
emit "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
emit "- machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, kernel $(uname -r); a shared VM: **other jobs (tests, fuzzers) ran on these $(nproc) CPUs during the run**, so every figure is noisy (expect ±20–30 %), wall times more than CPU times; the CPU-time figures are the ones to read"
emit "- load at the start: $LOAD_START; at the end: LOAD_END_PLACEHOLDER"
emit "- command: \`$CMDLINE\` (from the top of the tree); build: \`$BUILD\` ($BUILDTYPE); lib/media at $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$TOP" diff --quiet HEAD -- lib/media 2>/dev/null || echo ' (+ uncommitted changes in lib/media)'); media-gst.c sha256 $(sha256sum "$TOP/lib/media/media-gst.c" | cut -c1-12)"
emit "- software (Debian): $(dpkg-query -W -f '${Package} ${Version}, ' sox ffmpeg gstreamer1.0-plugins-base gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad gstreamer1.0-libav libopencore-amrnb0 libopencore-amrwb0 libvo-amrwbenc0 libgsm1 espeak-ng 2>/dev/null | sed 's/, $//')"
emit "- input: one 60.0 s voice message (espeak-ng speech, looped to 60 s with sox) in 7 formats: AMR-NB 12.2 kbit/s from sox ($AMR_FT: sox's encoder runs with DTX on, as phones do), AMR-WB 12.65 kbit/s from GStreamer's voamrwbenc with the \`#!AMR-WB\\n\` magic, WAV A-law, WAV mu-law, WAV PCM16 8 kHz, WAV GSM 6.10 (wav49) and raw GSM 6.10 from sox; media_probe() reads every one as 60000 ms"
emit "- what is timed (bench/media/mediabench.c): **in-process** = one media_gst_transcode() call in a process where an unmeasured call already initialised GStreamer and loaded the plugins; CPU = CLOCK_PROCESS_CPUTIME_ID (all threads: GStreamer decodes and encodes in its streaming threads), wall = CLOCK_MONOTONIC. **worker** = one media_transcode_isolated() call, exactly what vvmfs does for a cold rendition: memfds, posix_spawn of vvm-media-worker, gst_init and plugin loading in the child, the transcode, reaping it; CPU = the child's utime + stime (wait4) + the caller's. **sox / ffmpeg** = one posix_spawn of the command line below, waited for; CPU = the child's utime + stime + the caller's. So worker, sox and ffmpeg stand on the same footing (a process start per conversion); in-process is the floor lib/media could reach without a process. No hyperfine: mediabench spawns and times every command itself so that it gets the CPU time of each run, not only wall time."
emit "- each figure: $ROUNDS measured runs after 1 unmeasured one, median; × realtime = 60 s of audio / the median CPU (or wall) seconds of one conversion; CPU × realtime is the \"one core\" figure"
emit "- sox: \`sox -D -V1 -t FMT IN OUTOPTS OUT\` (-D: no dither, as lib/media's path has none): amr \`-t amr-nb -C 7 -r 8000 -c 1\` (12.2 kbit/s, sox's AMR-NB encoder has DTX on), wav-g711a \`-t wav -e a-law -b 8 -r 8000 -c 1\`, wav-g711u \`-e u-law\`, wav \`-t wav -e signed-integer -b 16 -c 1\` (source rate, as lib/media); amr-wb: **n/a**, Debian's sox has no AMR-WB encoder (\"SoX was compiled without AMR-WB encoding support\")"
emit "- ffmpeg: \`ffmpeg -nostdin -hide_banner -loglevel fatal -y -f FMT -i IN OUTOPTS OUT\`: wav-g711a \`-ac 1 -ar 8000 -c:a pcm_alaw -f wav\`, wav-g711u \`pcm_mulaw\`, wav \`-ac 1 -c:a pcm_s16le -f wav\`; amr and amr-wb: **n/a**, Debian's ffmpeg has no AMR encoder (\`ffmpeg -encoders\` lists none; it decodes AMR natively)"
emit "- every output is read back with media_probe(); a duration other than 60 s is marked \"(out N s)\" in the tables. Rates: lib/media and sox resample with their defaults (audioresample quality 4; sox \`rate\` at its default, high quality), ffmpeg with swresample's default"
emit ""
emit "## Findings" ""
emit "FINDINGS_PLACEHOLDER"
emit ""

emit "## × realtime on one core (CPU time), per source and target" ""
emit "\"worker ÷ sox\" = sox's CPU time ÷ the worker's for the same conversion: above 1.00 the worker is faster, below it is slower; likewise for ffmpeg." ""
emit "| source | target | vvm in-process | vvm worker | sox | ffmpeg | worker ÷ sox | worker ÷ ffmpeg |" "|---|---|---|---|---|---|---|---|"
for s in $SOURCES; do
	for t in $TARGETS; do
		emit "| ${SNAME[$s]} | $t | $(fx "${X[gst.$s.$t]}") | $(fx "${X[worker.$s.$t]}") | $(fx "${X[sox.$s.$t]:-}")$(dur sox $s $t) | $(fx "${X[ffmpeg.$s.$t]:-}")$(dur ffmpeg $s $t) | $(rat "${X[worker.$s.$t]}" "${X[sox.$s.$t]:-}") | $(rat "${X[worker.$s.$t]}" "${X[ffmpeg.$s.$t]:-}") |"
	done
done
emit "" "lib/media's own outputs (in process and worker): every one 60.00 s$(for k in "${!D[@]}"; do case $k in gst.*|worker.*) [ "${D[$k]}" = 60000 ] || printf ', except %s: %s ms' "$k" "${D[$k]}" ;; esac; done)." ""

emit "## × realtime in wall-clock time" ""
emit "Same runs, wall time (CLOCK_MONOTONIC around each conversion). On a busy machine a process waits for a CPU, so these move more than the CPU figures." ""
emit "| source | target | vvm in-process | vvm worker | sox | ffmpeg | worker ÷ sox | worker ÷ ffmpeg |" "|---|---|---|---|---|---|---|---|"
for s in $SOURCES; do
	for t in $TARGETS; do
		emit "| ${SNAME[$s]} | $t | $(fx "${W[gst.$s.$t]}") | $(fx "${W[worker.$s.$t]}") | $(fx "${W[sox.$s.$t]:-}") | $(fx "${W[ffmpeg.$s.$t]:-}") | $(rat "${W[worker.$s.$t]}" "${W[sox.$s.$t]:-}") | $(rat "${W[worker.$s.$t]}" "${W[ffmpeg.$s.$t]:-}") |"
	done
done
emit ""

emit "## The targets of the issue: ≥ 1000× realtime on one core" ""
emit "AMR → G.711 WAV and WAV → AMR, judged on the in-process CPU figure (one core, GStreamer already loaded); the worker figure, which adds a process start, is shown beside it." ""
emit "| conversion | in-process | ≥ 1000× | worker | ≥ 1000× |" "|---|---|---|---|---|"
MET=0 MISSED=0
for p in "amr wav-g711a" "amr wav-g711u" "awb wav-g711a" "awb wav-g711u" "alaw amr" "ulaw amr" "pcm amr" "wav49 amr"; do
	set -- $p
	g=$(ge "${X[gst.$1.$2]}" 1000)
	[ "$g" = yes ] && MET=$((MET + 1)) || MISSED=$((MISSED + 1))
	emit "| ${SNAME[$1]} → $2 | $(fx "${X[gst.$1.$2]}") | $g | $(fx "${X[worker.$1.$2]}") | $(ge "${X[worker.$1.$2]}" 1000) |"
done
emit "" "**$MET of 8 met, $MISSED missed** (in process). Why, in the sections below: the codec libraries alone set a ceiling (AMR-NB decoding ≈ $(set -- ${FLOOR[amrnb-dec.amr]}; printf '%.0f' "$2")×, AMR-WB decoding ≈ $(set -- ${FLOOR[amrwb-dec.awb]}; printf '%.0f' "$2")×, AMR-NB encoding ≈ $(set -- ${FLOOR[amrnb-enc.pcm]}; printf '%.0f' "$2")× on this CPU), and the pipeline adds a cost per 20 ms frame on top." ""

emit "## The floor: the codec libraries alone" ""
emit "\`mediabench codec OP FILE\`: the library under the GStreamer plugin, dlopen()ed and called in a plain loop over the 3000 frames of the 60 s file (frames found by media_frames_next()), one thread, no GStreamer, no resampling, no container; CPU = CLOCK_THREAD_CPUTIME_ID, median of $ROUNDS. No GStreamer pipeline around the same library can be faster than this." ""
emit "| operation | library (plugin) | CPU per 60 s | × realtime |" "|---|---|---|---|"
emit "| AMR-NB decode | libopencore-amrnb (amrnbdec) | $(fl amrnb-dec.amr) |"
emit "| AMR-WB decode | libopencore-amrwb (amrwbdec) | $(fl amrwb-dec.awb) |"
emit "| GSM decode, raw | libgsm (gsmdec) | $(fl gsm-dec.gsm) |"
emit "| GSM decode, wav49 | libgsm with GSM_OPT_WAV49 (gsmdec) | $(fl gsm-dec.wav49) |"
emit "| G.711 A-law decode | a table lookup per sample (alawdec) | $(fl g711-dec.alaw) |"
emit "| G.711 A-law encode | G.711 reference linear2alaw (alawenc) | $(fl alaw-enc.pcm) |"
emit "| AMR-NB encode, 12.2 kbit/s, DTX off | libopencore-amrnb (amrnbenc) | $(fl amrnb-enc.pcm) |"
emit "| AMR-WB encode, 12.65 kbit/s | libvo-amrwbenc (voamrwbenc), 16 kHz PCM | $(fl amrwb-enc.pcm16k) |"
emit ""

emit "## What starting a process costs" ""
emit "A 1 s A-law WAV converted to mu-law WAV (next to no codec work), $NS runs each, median: what each tool pays per conversion before and after the work itself. The GStreamer registry of this machine: $REG_SIZE bytes for $NPLUGINS plugin files, read and turned into objects by gst_init() at every worker start." ""
emit "| what | CPU ms | wall ms |" "|---|---|---|"
emit "| \`/bin/true\` (posix_spawn + wait) | $(sr true cpu_ms) | $(sr true wall_ms) |"
emit "| sox | $(sr sox cpu_ms) | $(sr sox wall_ms) |"
emit "| ffmpeg | $(sr ffmpeg cpu_ms) | $(sr ffmpeg wall_ms) |"
emit "| lib/media in process (no start) | $(sr gst cpu_ms) | $(sr gst wall_ms) |"
emit "| vvm-media-worker (media_transcode_isolated) | $(sr worker cpu_ms) | $(sr worker wall_ms) |"
emit "| vvm-media-worker, private registry of the 12 plugins lib/media uses (\`GST_PLUGIN_SYSTEM_PATH_1_0\`, \`GST_REGISTRY_1_0\`) | $(sr worker_priv cpu_ms) | $(sr worker_priv wall_ms) |"
emit "| vvm-media-worker, private registry without gst-libav (11 plugins) | $(sr worker_priv_nolibav cpu_ms) | $(sr worker_priv_nolibav wall_ms) |"
emit "| vvm-media-worker where the registry cannot be written (\`GST_REGISTRY_1_0\` in a directory that cannot be created, as for a service user without a writable home or cache directory): every start rescans all $NPLUGINS plugins (in gst-plugin-scanner, a child of the worker, counted here); 2 runs | $(sr worker_noreg cpu_ms) | $(sr worker_noreg wall_ms) |"
emit ""

if [ "$PROFILE" = 1 ]; then
	emit "## Where the time goes in process (perf)" ""
	emit "\`perf stat -e task-clock,context-switches\` and \`perf record\` (no call graphs) of \`mediabench gst -n $ROUNDS IN TARGET\`; samples by shared object, the top six (the one warm-up call with gst_init is included). Context switches are per transcode (total ÷ $((ROUNDS + 1)))." ""
	emit "| conversion | context switches per transcode | share of CPU samples |" "|---|---|---|"
	for p in "amr wav-g711a" "pcm amr" "amr amr-wb" "awb wav-g711u"; do
		set -- $p
		emit "| ${SNAME[$1]} → $2 | ${CSW[$1.$2]} | ${PROF[$1.$2]} |"
	done
	emit ""
fi

emit "## The first IMAP FETCH that needs a transcode: cold and cached, through vvm-imapd and vvmfs" ""
emit "What a phone waits for. vvmfs is mounted on a temporary directory with \`[media] worker = \$BUILD/lib/media/vvm-media-worker\` (and \`[imap] max_sessions = 0\`, \`login_failure_delay_ms = 0\`); one subscriber (\`mkdir\`, \`profile/imap_password\`, \`profile/status\` R). Per source, $((2 * FETCH_MSGS)) VVM voice messages (as voice_message() in tests/integration/conftest.py: a text part and one 60 s audio attachment, base64, \`Content-Duration: 60\`; the WAV A-law and AMR-NB files above) are deposited with the write protocol (create in INBOX, write, fsync, close); vvmfs measures each as 60000 ms. $FETCH_MSGS are fetched with \`UID FETCH <uid> BODY.PEEK[2]\` (the audio part), the other $FETCH_MSGS with \`BODY.PEEK[]\` (the whole message), so that each form meets messages never rendered before. vvm-imapd is started as inetd starts it, one process per connection with the TCP socket as stdin and stdout, by bench/media/fetchbench.py, which is also the client (Python, standard library, a plain socket; no imaplib)."
emit "- timed: CLOCK_MONOTONIC from sending the FETCH to the end of its tagged OK, the literal read whole, on a session after LOGIN, \`SETMETADATA \"\" (/private/VVM/Accept ...)\`, SELECT INBOX and one untimed \`UID FETCH 1:* (UID RFC822.SIZE)\`"
emit "- **original**: a session with \`SETMETADATA \"\" (/private/VVM/Accept NIL)\`, the first FETCH of each message: vvmfs reads the stored body. **original, again**: the same FETCHes a second time; vvmfs opens committed messages with \`keep_cache\`, so the kernel's page cache serves these"
emit "- **cold**: a new session with \`SETMETADATA \"\" (/private/VVM/Accept \"audio/amr\")\` (or \`\"audio/wav; codec=g711a\"\`), the first FETCH of each message with that accept: vvm-imapd opens \`.rendition/<uid>.eml\`, whose lookup in vvmfs reads the message, runs vvm-media-worker, indexes the output and stores it, all inside this FETCH. **cached**: the same FETCHes again, after all the cold ones: the rendition is read from the store (renditions are \`direct_io\`, never in the page cache, and looked up afresh at every open)"
emit "- median and p90 (nearest rank) of the $FETCH_MSGS messages; \"− original\" and \"÷ original\" compare medians with the first row of the group; bytes served = the FETCH literal; MB/s = bytes ÷ median time. vvmfs CPU = the CPU time of vvmfs's threads (the sum of /proc/PID/task/*/schedstat), worker CPU = cutime + cstime of vvmfs in /proc/PID/stat (the vvm-media-worker processes it reaped; 10 ms ticks), each over that condition's FETCHes ÷ their number; worker CPU 0 on a row means no worker ran. \"worker alone\" is \`mediabench worker\` for the same file and target in the pairs tables above (media_transcode_isolated(), wall, median)"
emit "- vvmfs: $NOT_TRANSCODED \"not transcoded\" lines in its log; peak RSS $VVMFS_RSS; this section took $FETCH_SECS s" ""
emit "| conversion | FETCH | condition | median ms | p90 ms | − original ms | ÷ original | bytes served | MB/s | vvmfs CPU ms / FETCH | worker CPU ms / FETCH |" "|---|---|---|---|---|---|---|---|---|---|---|"
declare -A FLABEL=([orig]="original (accept empty)" [orig2]="original, again"
	[cold]="**cold**: accept set, first FETCH" [cached]="**cached**: the same FETCH again")
declare -A FCONV=([alaw]="WAV A-law → amr (Accept \`audio/amr\`)" [amr]="AMR-NB → wav-g711a (Accept \`audio/wav; codec=g711a\`)")
declare -A FITEM=([part]="\`BODY.PEEK[2]\`" [whole]="\`BODY.PEEK[]\`")
for s in alaw amr; do
	for it in part whole; do
		l=${FR[$s.$it]}
		o=$(kv "$l" orig_ms)
		for c in orig orig2 cold cached; do
			m=$(kv "$l" ${c}_ms) b=$(kv "$l" ${c}_bytes)
			[ "$(kv "$l" ${c}_bytes_vary)" = 0 ] || b="$b (varies)"
			if [ $c = orig ]; then
				d='—' r='—'
			else
				d=$(awk -v a="$m" -v b="$o" 'BEGIN { printf "%+.1f", a - b }')
				r=$(awk -v a="$m" -v b="$o" 'BEGIN { r = a / b; printf (r >= 10 ? "%.0f" : "%.2f"), r }')
			fi
			emit "| $([ $c = orig ] && echo "${FCONV[$s]}") | $([ $c = orig ] && echo "${FITEM[$it]}, n=$(kv "$l" n)") | ${FLABEL[$c]} | $m | $(kv "$l" ${c}_p90) | $d | $r | $b | $(awk -v b="${b%% *}" -v m="$m" 'BEGIN { r = b / m / 1000; printf (r >= 10 ? "%.0f" : "%.1f"), r }') | $(kv "$l" ${c}_vvmfs_ms) | $(kv "$l" ${c}_worker_ms) |"
		done
	done
done
emit ""
# chk SOURCE KEY: "good/total" of both FETCH forms, in bold when not all
chk() {
	local it v out=''
	for it in part whole; do
		v=$(kv "${FR[$1.$it]}" "$2")
		[ "${v%/*}" = "${v#*/}" ] || v="**$v**"
		out="${out:+$out / }$v"
	done
	echo "$out"
}
for s in alaw amr; do
	t=$(kv "${FR[$s.part]}" target)
	emit "- ${FCONV[$s]}: worker alone $(awk -v w="${WMS[worker.$s.$t]}" 'BEGIN { printf "%.0f", w }') ms wall ($(awk -v w="${CMS[worker.$s.$t]}" 'BEGIN { printf "%.0f", w }') ms CPU). Checks, BODY.PEEK[2] / BODY.PEEK[]: cold and cached answers byte-identical $(chk $s identical); the cached audio is $t, 60.0 s long ($([ "$t" = amr ] && echo '`#!AMR\n` magic, frames counted' || echo 'RIFF WAVE, fmt code 6, 8000 Hz mono, data length'); decoded from base64) $(chk $s format_ok); the original audio is the deposited file byte for byte $(chk $s orig_ok)"
done
emit ""

emit "Whole run: $(($(date +%s) - T_START)) s."
emit "" "## Appendix: raw RESULT lines" "" '```'
sed "s|$TMP|\$TMP|g" "$RAW" >>"$OUT"
emit '```'

sed -i "s|LOAD_END_PLACEHOLDER|load average $(cut -d' ' -f1-3 /proc/loadavg); busy: $(busy_others)|" "$OUT"
# The findings are written by hand after a run and kept across runs: taken
# from the previous results.md when it has them.
if [ -f "$RESULTS" ] && grep -q '^<!-- findings -->' "$RESULTS"; then
	sed -n '/^<!-- findings -->/,/^<!-- \/findings -->/p' "$RESULTS" >"$TMP/findings.md"
else
	printf '%s\n' '<!-- findings -->' '(none written yet: see the tables)' '<!-- /findings -->' >"$TMP/findings.md"
fi
sed -i -e "/^FINDINGS_PLACEHOLDER$/{r $TMP/findings.md" -e 'd}' "$OUT"
cp "$OUT" "$RESULTS"
log "== wrote $RESULTS"
cat "$RESULTS"
