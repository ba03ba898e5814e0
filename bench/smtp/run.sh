#!/usr/bin/env bash
# VVM deposits over SMTP and LMTP: vvm-smtpd (over vvmfs) in both of its
# launch modes (one exec per connection under systemd-socket-activate
# --inetd, and its own listener, --listen, forking per connection) against
# the LMTP server of Dovecot from Debian (Maildir), side by side, in one
# run, with Postfix's smtp-source as the load. Builds the tree, mounts a fresh store
# and starts a private Dovecot under a temporary directory, runs every
# level, checks that every message sent was stored, writes
# bench/smtp/results.md and prints it.
#
#   bench/smtp/run.sh [--build DIR] [--levels "1 8"] [--messages N]
#                     [--rounds R] [--keep]
#
# Must run as root (Dovecot's master drops privileges, vvmfs mounts with
# allow_other). Not part of `meson test`. Everything it starts is stopped,
# and the mount unmounted, on exit.
set -euo pipefail
shopt -s inherit_errexit
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$TOP/build
LEVELS="1 8"
MESSAGES=300
ROUNDS=5
KEEP=0
# Recipient n of a run (smtp-source -N numbers them from 1) is the
# subscriber "<n>$SUFFIX": one recipient per message, each a different
# subscriber, the same ones every run.
SUFFIX=600000000
DOMAIN=vvm.bench
SENDER=31699999999@$DOMAIN
CMDLINE="bench/smtp/run.sh${*:+ $*}"

while [ $# -gt 0 ]; do
	case $1 in
	--build) BUILD=$(realpath -m "$2"); shift ;;
	--levels) LEVELS=$2; shift ;;
	--messages) MESSAGES=$2; shift ;;
	--rounds) ROUNDS=$2; shift ;;
	--keep) KEEP=1 ;;
	-h|--help) sed -n '2,16p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

[ "$(id -u)" = 0 ] || { echo "run.sh: must run as root" >&2; exit 1; }
for t in dovecot fusermount3 python3 smtp-source systemd-socket-activate; do
	command -v $t >/dev/null || { echo "run.sh: $t not found (apt-get install dovecot-lmtpd postfix fuse3 python3 systemd)" >&2; exit 1; }
done
[ -x /usr/lib/dovecot/lmtp ] || { echo "run.sh: /usr/lib/dovecot/lmtp missing (apt-get install dovecot-lmtpd)" >&2; exit 1; }

echo "== building ($BUILD)" >&2
if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD" "$TOP" --buildtype=release >&2
fi
ninja -C "$BUILD" vvmfs/vvmfs shims/smtp/vvm-smtpd >&2
BUILDTYPE=$(meson introspect --buildoptions "$BUILD" |
	python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "buildtype"))')
[ "$BUILDTYPE" = release ] ||
	echo "run.sh: warning: $BUILD is a $BUILDTYPE build; numbers are for release builds" >&2

VVMFS=$BUILD/vvmfs/vvmfs
SMTPD=$BUILD/shims/smtp/vvm-smtpd
RESULTS=$TOP/bench/smtp/results.md
T_START=$(date +%s)

TMP=$(mktemp -d /tmp/smtpbench.XXXXXX)
chmod 755 "$TMP"	# Dovecot's lmtp writes the Maildirs here as nobody
MNT=$TMP/mnt
DV=$TMP/dovecot
MSG=$TMP/voice.eml
VVMFS_PID='' SMTP_PID='' LMTP_PID='' SMTPL_PID='' LMTPL_PID='' DOVECOT_PID=''
mkdir -p "$MNT" "$DV/run" "$DV/state" "$DV/mail"

stop_pid() {	# stop_pid PID: SIGTERM, wait (it is our child)
	if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
		kill -TERM "$1" 2>/dev/null || true
		wait "$1" 2>/dev/null || true
	fi
}

# stop_listener PID: SIGTERM to a vvm-smtpd --listen, which closes its
# socket and exits (sessions still running finish on their own); waits up
# to 10 s, then SIGKILL. Sets STOP_RC (its exit status) and STOP_MS.
stop_listener() {
	STOP_RC='' STOP_MS=''
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
	local t0 i
	t0=$(date +%s%N)
	kill -TERM "$1" 2>/dev/null || true
	for i in $(seq 200); do
		kill -0 "$1" 2>/dev/null || break
		# a zombie (our child, not yet waited for) has stopped too
		[ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ] && break
		sleep 0.05
	done
	if [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null || echo gone)" != Z ] &&
	   kill -0 "$1" 2>/dev/null; then
		echo "run.sh: vvm-smtpd --listen ($1) still runs 10 s after SIGTERM; SIGKILL" >&2
		kill -KILL "$1" 2>/dev/null || true
	fi
	STOP_RC=0
	wait "$1" 2>/dev/null || STOP_RC=$?
	STOP_MS=$((($(date +%s%N) - t0) / 1000000))
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_pid "$SMTP_PID"
	stop_pid "$LMTP_PID"
	stop_listener "$SMTPL_PID"
	stop_listener "$LMTPL_PID"
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
	die "nothing listens on port $1"
}
# tree_cpu PID...: CPU seconds (user + system) of these processes, their
# living descendants and every child any of them has reaped
tree_cpu() {
	[ $# -gt 0 ] || { echo 0; return; }
	python3 - "$@" <<'EOF'
import os, sys
hz = os.sysconf("SC_CLK_TCK")
kids, cpu = {}, {}
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        f = open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    kids.setdefault(int(f[1]), []).append(int(p))
    cpu[int(p)] = sum(int(x) for x in f[11:15])
todo, seen, total = [int(a) for a in sys.argv[1:]], set(), 0
while todo:
    p = todo.pop()
    if p in seen:
        continue
    seen.add(p)
    total += cpu.get(p, 0)
    todo += kids.get(p, [])
print("%.2f" % (total / hz))
EOF
}

# ============================================================ the message
# A deposit as a VVM client makes it (the spec's Example J, with a To
# header): a text part and ~29 KB of pseudo-audio behind an AMR magic,
# base64 in 76-column lines; ~40 KB in all. LF line ends: smtp-source
# sends each line with CRLF.
python3 - "$SENDER" "$DOMAIN" >"$MSG" <<'EOF'
import base64, random, sys
rnd = random.Random(2026)
audio = b"#!AMR\n" + rnd.randbytes(29 * 1024 - 6)
print("""From: %s
To: 1600000000@%s
Date: Sun, 22 Nov 2026 12:00:00 +0000
Subject: voice mail
Message-ID: <smtpbench.1@%s>
MIME-Version: 1.0
Importance: Normal
Message-Context: voice-message
Content-Duration: 17
Content-Type: multipart/mixed; boundary="----=_Part_6_16713087.1135179290661"

------=_Part_6_16713087.1135179290661
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: 7bit

Open the attached file
------=_Part_6_16713087.1135179290661
Content-Type: audio/amr
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="x.amr"
Content-Duration: 17

%s------=_Part_6_16713087.1135179290661--""" % (sys.argv[1], sys.argv[2],
      sys.argv[2], base64.encodebytes(audio).decode()))
EOF
MSG_BYTES=$(($(wc -c <"$MSG") + $(wc -l <"$MSG")))	# on the wire, CRLF

# ===================================================== vvmfs + vvm-smtpd
log "== vvmfs, $MESSAGES subscribers"
cat >"$TMP/vvm.conf" <<EOF
[imap]
mount = $MNT
hostname = $DOMAIN
[smtp]
# smtp-source cannot AUTH
require_auth = false
max_recipients = 100
EOF
"$VVMFS" -f -o "config=$TMP/vvm.conf" "$TMP/store" "$MNT" >>"$TMP/vvmfs.log" 2>&1 &
VVMFS_PID=$!
for _ in $(seq 400); do
	is_mounted "$MNT" && break
	kill -0 "$VVMFS_PID" 2>/dev/null || die "vvmfs exited at start"
	sleep 0.05
done
is_mounted "$MNT" || die "vvmfs did not mount"

: >"$DV/passwd"
for n in $(seq "$MESSAGES"); do
	m=$n$SUFFIX
	mkdir "$MNT/$m"
	echo N >"$MNT/$m/profile/status"
	echo R >"$MNT/$m/profile/status"
	echo "$m:{PLAIN}unused:65534:65534::$DV/mail/$m::" >>"$DV/passwd"
done
chown -R 65534:65534 "$DV/mail"

# five different free ports: vvm SMTP and LMTP under
# systemd-socket-activate, vvm SMTP and LMTP --listen, Dovecot
PORTS=()
while [ ${#PORTS[@]} -lt 5 ]; do
	p=$(free_port)
	[[ " ${PORTS[*]} " == *" $p "* ]] || PORTS+=("$p")
done
SPORT=${PORTS[0]} LPORT=${PORTS[1]} SLPORT=${PORTS[2]} LLPORT=${PORTS[3]} DPORT=${PORTS[4]}
systemd-socket-activate --inetd -a -l "127.0.0.1:$SPORT" \
	"$SMTPD" -c "$TMP/vvm.conf" </dev/null >>"$TMP/smtpd.log" 2>&1 &
SMTP_PID=$!
systemd-socket-activate --inetd -a -l "127.0.0.1:$LPORT" \
	"$SMTPD" -c "$TMP/vvm.conf" --lmtp </dev/null >>"$TMP/lmtpd.log" 2>&1 &
LMTP_PID=$!
# the standalone mode: vvm-smtpd listens itself and forks per connection
"$SMTPD" -c "$TMP/vvm.conf" --listen "127.0.0.1:$SLPORT" \
	</dev/null >>"$TMP/smtpd-listen.log" 2>&1 &
SMTPL_PID=$!
"$SMTPD" -c "$TMP/vvm.conf" --lmtp --listen "127.0.0.1:$LLPORT" \
	</dev/null >>"$TMP/lmtpd-listen.log" 2>&1 &
LMTPL_PID=$!

# ============================================================== Dovecot
log "== Dovecot $(dovecot --version | cut -d' ' -f1)"
cat >"$DV/dovecot.conf" <<EOF
# A private Dovecot for smtpbench: Debian's defaults except where noted.
base_dir = $DV/run
state_dir = $DV/state
instance_name = smtpbench
listen = 127.0.0.1
protocols = lmtp
ssl = no
log_path = $DV/dovecot.log
mail_location = maildir:$DV/mail/%n
# fsync every write, as vvmfs syncs its WAL before each 250
mail_fsync = always
# RCPT TO:<msisdn@domain> is the user msisdn, as for vvm-smtpd
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $DV/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%n $DV/passwd
}
# Debian's defaults for 2.3, spelled out: lmtp processes serve one
# connection at a time and are reused.
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $DPORT
  }
  client_limit = 1
  service_count = 0
  process_min_avail = 0
}
EOF
dovecot -F -c "$DV/dovecot.conf" >>"$DV/master.log" 2>&1 &
DOVECOT_PID=$!
wait_listen "$SPORT"
wait_listen "$LPORT"
wait_listen "$SLPORT"
wait_listen "$LLPORT"
wait_listen "$DPORT"

# ============================================================== targets
# smtp, lmtp: vvm-smtpd exec'd per connection by systemd-socket-activate
# --inetd; smtpl, lmtpl: vvm-smtpd --listen (fork per connection, no exec)
TARGETS="smtp lmtp smtpl lmtpl dovecot"
VVM_TARGETS="smtp lmtp smtpl lmtpl"
NTARGETS=$(wc -w <<<"$TARGETS")
declare -A NAME=([smtp]="vvm SMTP (inetd)" [lmtp]="vvm LMTP (inetd)"
	[smtpl]="vvm SMTP (--listen)" [lmtpl]="vvm LMTP (--listen)"
	[dovecot]="Dovecot LMTP")
declare -A PORT=([smtp]=$SPORT [lmtp]=$LPORT [smtpl]=$SLPORT [lmtpl]=$LLPORT [dovecot]=$DPORT)
declare -A LFLAG=([smtp]="" [lmtp]="-L" [smtpl]="" [lmtpl]="-L" [dovecot]="-L")
declare -A SENT=([vvm]=0 [dovecot]=0)
store_of() { [ "$1" = dovecot ] && echo dovecot || echo vvm; }

# stored vvm|dovecot: messages in every INBOX of that store
stored() {
	if [ "$1" = vvm ]; then
		find "$MNT"/*/INBOX -maxdepth 1 -name '*.eml' | wc -l
	else
		find "$DV"/mail/*/new "$DV"/mail/*/cur -maxdepth 1 -type f 2>/dev/null | wc -l
	fi
}
# the processes whose CPU is the server's: sessions (the per-connection
# processes and what spawns them: systemd-socket-activate, the vvm-smtpd
# --listen listener, Dovecot's master; the children each has reaped are
# in its cutime/cstime), daemon (what they store through)
sessions_of() {
	case $1 in smtp) echo "$SMTP_PID" ;; lmtp) echo "$LMTP_PID" ;;
	smtpl) echo "$SMTPL_PID" ;; lmtpl) echo "$LMTPL_PID" ;;
	*) echo "$DOVECOT_PID" ;; esac
}
daemon_of() { [ "$1" = dovecot ] || echo "$VVMFS_PID"; }

RAW=$TMP/raw.txt
: >"$RAW"
# bench TARGET SESSIONS: one timed smtp-source run of $MESSAGES messages,
# checked; sets RESULT to its RESULT line (not in a subshell: it counts
# the messages sent in SENT)
bench() {
	local t=$1 c=$2 st cs0 cs1 cd0 cd1 t0 t1 n
	st=$(store_of "$t")
	# shellcheck disable=SC2046 # daemon_of prints nothing for Dovecot
	cs0=$(tree_cpu $(sessions_of $t)) cd0=$(tree_cpu $(daemon_of $t))
	t0=$(date +%s.%N)
	# shellcheck disable=SC2086
	/usr/bin/time -o "$TMP/time.txt" -f '%U %S' \
		smtp-source ${LFLAG[$t]} -N -s "$c" -m "$MESSAGES" -F "$MSG" \
		-f "$SENDER" -t "$SUFFIX@$DOMAIN" "127.0.0.1:${PORT[$t]}" \
		>>"$TMP/smtp-source.log" 2>&1 ||
		die "smtp-source against ${NAME[$t]} failed (see $TMP/smtp-source.log)"
	t1=$(date +%s.%N)
	# shellcheck disable=SC2046
	cs1=$(tree_cpu $(sessions_of $t)) cd1=$(tree_cpu $(daemon_of $t))
	SENT[$st]=$((SENT[$st] + MESSAGES))
	n=$(stored "$st")
	[ "$n" = "${SENT[$st]}" ] ||
		die "${NAME[$t]}: ${SENT[$st]} messages accepted in all, $n stored"
	RESULT=$(awk -v t=$t -v c="$c" -v m="$MESSAGES" -v t0="$t0" -v t1="$t1" \
		-v cs0="$cs0" -v cs1="$cs1" -v cd0="$cd0" -v cd1="$cd1" -v n="$n" \
		-v cc="$(awk '{ print $1 + $2 }' "$TMP/time.txt")" \
		'BEGIN { s = t1 - t0; printf "RESULT target=%s sessions=%d messages=%d secs=%.3f rate=%.1f cpu_sessions_ms_per_msg=%.2f cpu_daemon_ms_per_msg=%.2f client_cpu_ms_per_msg=%.2f stored_total=%d", t, c, m, s, m / s, (cs1 - cs0) * 1000 / m, (cd1 - cd0) * 1000 / m, cc * 1000 / m, n }')
	echo "$RESULT" >>"$RAW"
	log "${NAME[$t]}: $RESULT"
}

# Warm-up, not measured: every subscriber's first message (Dovecot
# creates the Maildir and its index files; vvmfs warms its caches).
log "== warm-up"
for t in $TARGETS; do bench $t 8; done

OUT=$TMP/results.md
emit() { printf '%s\n' "$@" >>"$OUT"; }
LOAD_START="load average $(cut -d' ' -f1-3 /proc/loadavg); busy: $(busy_others)"

emit "# SMTP/LMTP deposit benchmark: vvm-smtpd (inetd and --listen) against Dovecot LMTP" ""
emit "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
emit "- machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, kernel $(uname -r); $TMP (the vvmfs store and the Maildirs) on $(df --output=fstype "$TMP" | tail -1) ($(df --output=source "$TMP" | tail -1)); a shared VM: smtp-source, the servers and vvmfs/Dovecot's daemons all run on these $(nproc) CPUs"
emit "- command: \`$CMDLINE\` (as root, from the top of the tree); build: \`$BUILD\` ($BUILDTYPE)"
emit "- servers: vvm-smtpd $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$TOP" diff --quiet 2>/dev/null && [ -z "$(git -C "$TOP" status --porcelain -- shims/smtp 2>/dev/null)" ] || echo ' (+ uncommitted changes)') over vvmfs, in its two launch modes: \"inetd\", exec'd per connection by \`systemd-socket-activate --inetd -a\` ($(systemd-socket-activate --version 2>/dev/null | head -1 || echo '?')), and \"--listen\", its own listener forking a child per connection (\`vvm-smtpd -c CONF [--lmtp] --listen 127.0.0.1:PORT\`, default \`--max-children\` 200); Dovecot $(dovecot --version) LMTP from Debian ($(dpkg-query -W -f '${Version}' dovecot-lmtpd 2>/dev/null || echo '?')); load from smtp-source of Postfix $(dpkg-query -W -f '${Version}' postfix 2>/dev/null || echo '?')"
emit "- other load on the machine before the first level: ${LOAD_START:-?}; after the last: LOAD_END_PLACEHOLDER"
emit "- message: one VVM voice message of $MSG_BYTES bytes on the wire (Example J's shape: From/To/Date/MIME-Version/Message-Context: voice-message/Content-Duration, multipart/mixed, a text part and a base64 audio/amr attachment of $((29 * 1024)) bytes starting \`#!AMR\`), the same file to every target"
emit "- each run: \`smtp-source [-L] -N -s SESSIONS -m $MESSAGES -F voice.eml -f $SENDER -t $SUFFIX@$DOMAIN 127.0.0.1:PORT\`; smtp-source opens one connection per message (connect, greeting, HELO or LHLO, MAIL, RCPT, DATA, QUIT) and \`-N\` numbers the recipients: message n of a run goes to \`n$SUFFIX@$DOMAIN\`, so each message has one recipient and every recipient of a run is a different subscriber ($MESSAGES subscribers provisioned on both servers, the same ones every run)"
emit "- each level: $ROUNDS rounds, the $NTARGETS targets in a rotating order (each round starts one target further on); the table shows the median of the rounds; before the levels, one unmeasured run per target (every subscriber's first message: Dovecot creates the Maildir and its index files)"
emit ""

# ============================================================ the levels
log "== levels: $LEVELS"
emit "## Deposits per second" ""
emit "Deposits/s = $MESSAGES / the wall time of the smtp-source run. After every run the messages in the store are counted (vvmfs: the \`*.eml\` files of every \`MOUNT/<msisdn>/INBOX\`; Dovecot: the files in every Maildir's \`new/\` and \`cur/\`) and must equal those accepted so far, or the run fails; smtp-source itself fails on any reply other than the expected 2xx/3xx." ""
emit "| sessions | target | msg/s | vs Dovecot | ≥ 1.0× |" "|---|---|---|---|---|"
ge() { awk -v a="$1" -v b="$2" 'BEGIN { print (a >= b) ? "yes" : "**no**" }'; }
declare -A RATE MED
ALL_ROUNDS=()
for c in $LEVELS; do
	declare -A R=() L=()
	for r in $(seq "$ROUNDS"); do
		# rotate the order every round
		set -- $TARGETS
		for _ in $(seq $(((r - 1) % NTARGETS))); do set -- "${@:2}" "$1"; done
		for t in "$@"; do
			bench $t "$c"
			R[$t]="${R[$t]:-} $(kv "$RESULT" rate)"
			L[$t$r]=$RESULT
		done
	done
	for t in $TARGETS; do
		RATE[$t$c]=$(printf '%s\n' ${R[$t]} | median)
		for r in $(seq "$ROUNDS"); do
			[ "$(kv "${L[$t$r]}" rate)" = "${RATE[$t$c]}" ] && MED[$t$c]=${L[$t$r]}
		done
	done
	d=${RATE[dovecot$c]}
	for t in $VVM_TARGETS; do
		emit "| $c | ${NAME[$t]} | ${RATE[$t$c]} | $(ratio "${RATE[$t$c]}" "$d") | $(ge "${RATE[$t$c]}" "$d") |"
	done
	emit "| $c | Dovecot LMTP | $d | — | — |"
	row="| $c |"
	for t in $TARGETS; do row="$row ${R[$t]} |"; done
	ALL_ROUNDS+=("$row $(busy_others) |")
	unset R L
done
hdr="| sessions |" sep="|---|"
for t in $TARGETS; do hdr="$hdr ${NAME[$t]} |" sep="$sep---|"; done
emit "" "Every round, deposits/s (in the order of the rounds):" "" "$hdr processes > 10 % CPU over 2 s right after the level (anyone's) |" "$sep---|"
emit "${ALL_ROUNDS[@]}" ""

emit "### CPU per message (median round of each level)" ""
emit "From /proc/PID/stat (utime + stime of the processes, of their living descendants, and of the children they reaped) before and after the run, divided by $MESSAGES. \"sessions\": vvm (inetd): systemd-socket-activate and every vvm-smtpd it spawned; vvm (--listen): the listener and every child it forked (the reaped ones are in the listener's cutime/cstime); Dovecot: the master and everything under it (lmtp, auth, log, config, anvil, stats). \"daemon\": vvmfs (Dovecot has none apart from its master's tree). \"client\": smtp-source. With $(nproc) CPUs, the CPU ms per message × msg/s cannot exceed $(($(nproc) * 1000))." ""
emit "| sessions | target | msg/s | CPU ms/msg: sessions | daemon | server total | client |" "|---|---|---|---|---|---|---|"
for c in $LEVELS; do
	for t in $TARGETS; do
		l=${MED[$t$c]}
		emit "| $c | ${NAME[$t]} | $(kv "$l" rate) | $(kv "$l" cpu_sessions_ms_per_msg) | $( [ $t = dovecot ] && echo — || kv "$l" cpu_daemon_ms_per_msg) | $(awk -v a="$(kv "$l" cpu_sessions_ms_per_msg)" -v b="$(kv "$l" cpu_daemon_ms_per_msg)" 'BEGIN { printf "%.2f", a + b }') | $(kv "$l" client_cpu_ms_per_msg) |"
	done
done
emit ""

# ========================================================= launch modes
tot() { awk -v a="$(kv "$1" cpu_sessions_ms_per_msg)" -v b="$(kv "$1" cpu_daemon_ms_per_msg)" 'BEGIN { printf "%.2f", a + b }'; }
emit "### The two launch modes" ""
emit "- **inetd** (\`smtp\`/\`lmtp\` above): a super-server (systemd-socket-activate here; systemd's \`Accept=yes\` socket units, inetd or xinetd in production) accepts the connection and fork+execs a fresh vvm-smtpd on it. Every session pays the program's start-up: the dynamic loader maps and relocates its $(ldd "$SMTPD" | grep -c '=>') shared libraries, GMime initialises, libsasl2 loads its plugins, the TLS certificate is read (see the start-up table below)."
emit "- **--listen** (\`vvm-smtpd -c CONF [--lmtp] --listen HOST:PORT\`): vvm-smtpd is its own listener. It loads GMime, libsasl2's plugins and the TLS keys once, then forks (no exec) one child per connection, at most \`--max-children\`; a child serves its session exactly as an inetd-started process would. A session costs a fork of an already-initialised process. SIGTERM closes the socket, and running sessions finish."
l1=${LEVELS%% *}
emit "- Here, at $l1 session(s), the server's CPU per message is $(tot "${MED[smtp$l1]}") ms (SMTP) and $(tot "${MED[lmtp$l1]}") ms (LMTP) in inetd mode against $(tot "${MED[smtpl$l1]}") ms and $(tot "${MED[lmtpl$l1]}") ms with --listen, vvmfs's share included; Dovecot: $(tot "${MED[dovecot$l1]}") ms."
emit "- **Which to deploy:** for high deposit rates (an MTA's LMTP feed, a busy submission port) run vvm-smtpd with \`--listen\`, as docs/smtpd.md recommends. inetd mode stays supported and behaves the same on the wire, but it keeps its per-connection exec cost; it suits low rates, or setups that want the super-server to own the socket."
emit ""

# ============================================================ start-up
# One process per connection: what starting vvm-smtpd costs, beside a
# program that does nothing.
if perf stat -e task-clock -o /dev/null true >/dev/null 2>&1; then
	log "== start-up"
	emit "### Start-up of vvm-smtpd" ""
	emit "What inetd mode pays on every connection and --listen pays once, when the listener starts. \`perf stat -r 200\` of each program with stdin at EOF (\`-c CONF\`: loads the config, writes the greeting, reads EOF and exits; \`--version\` exits before the config). vvm-smtpd links $(ldd "$SMTPD" | grep -c '=>') shared libraries ($(ldd "$SMTPD" | awk '/=>/ { print $1 }' | tr '\n' ' ' | sed 's/ $//'))." ""
	emit "| program | CPU ms (task-clock) | page faults |" "|---|---|---|"
	for cmd in "/bin/true" "$SMTPD --version" "$SMTPD -c $TMP/vvm.conf"; do
		# shellcheck disable=SC2086
		perf stat -r 200 -x, -e task-clock,page-faults $cmd </dev/null >/dev/null 2>"$TMP/pstat.txt" || true
		c=${cmd/$TMP/\$TMP}
		emit "| \`${c/$BUILD/\$BUILD}\` | $(awk -F, '$3 == "task-clock" { printf "%.2f", $1 }' "$TMP/pstat.txt") | $(awk -F, '$3 == "page-faults" { printf "%d", $1 }' "$TMP/pstat.txt") |"
	done
	emit ""
fi

# ================================================================ checks
log "== checks"
# the --listen targets are done: stop their listeners, as an operator would
declare -A STOPPED
for t in smtpl lmtpl; do
	[ $t = smtpl ] && pid=$SMTPL_PID || pid=$LMTPL_PID
	kill -0 "$pid" 2>/dev/null || die "${NAME[$t]}: the listener ($pid) died during the run"
	stop_listener "$pid"
	[ $t = smtpl ] && SMTPL_PID='' || LMTPL_PID=''
	[ "$STOP_RC" = 0 ] || die "${NAME[$t]}: the listener exited $STOP_RC on SIGTERM"
	STOPPED[$t]="exit $STOP_RC after $STOP_MS ms"
done
# every subscriber got one message per run of each store
declare -A PER
PER[vvm]=$(find "$MNT"/*/INBOX -maxdepth 1 -name '*.eml' | awk -F/ '{ n[$(NF - 2)]++ } END { for (k in n) print n[k] }' | sort -u | tr '\n' ' ')
PER[dovecot]=$(find "$DV"/mail/*/new "$DV"/mail/*/cur -maxdepth 1 -type f | awk -F/ '{ n[$(NF - 2)]++ } END { for (k in n) print n[k] }' | sort -u | tr '\n' ' ')
VVM_RUNS=$((SENT[vvm] / MESSAGES)) DV_RUNS=$((SENT[dovecot] / MESSAGES))
[ "${PER[vvm]}" = "$VVM_RUNS " ] || die "vvmfs: messages per INBOX: ${PER[vvm]}(expected $VVM_RUNS each)"
[ "${PER[dovecot]}" = "$DV_RUNS " ] || die "Dovecot: messages per Maildir: ${PER[dovecot]}(expected $DV_RUNS each)"
DV_ERRORS=$(grep -ciE 'error|fatal|panic' "$DV/dovecot.log" 2>/dev/null || true)
SAMPLE=$(find "$MNT/1$SUFFIX/INBOX" -name '*.eml' | head -1)
emit "## Checks" ""
emit "- vvm-smtpd --listen, stopped with SIGTERM after the levels: SMTP listener ${STOPPED[smtpl]}, LMTP listener ${STOPPED[lmtpl]}."
emit "- stored = accepted after every run: vvmfs ${SENT[vvm]} messages in all (the four vvm-smtpd targets write the same store), Dovecot ${SENT[dovecot]}; each of the $MESSAGES subscribers holds exactly one message per run on both ($VVM_RUNS on vvmfs, $DV_RUNS in Dovecot)."
emit "- stored sizes: vvmfs $(stat -c %s "$SAMPLE") bytes (the message with CRLF line ends, plus the Return-Path and Received lines vvm-smtpd adds); Dovecot $(stat -c %s "$(find "$DV/mail/1$SUFFIX/new" "$DV/mail/1$SUFFIX/cur" -type f | head -1)") bytes (LF line ends, plus Return-Path, Delivered-To and Received)."
emit "- Dovecot log: $DV_ERRORS error/fatal/panic lines; vvm-smtpd's stderr (inetd: shared with systemd-socket-activate, whose spawn lines are left out; --listen: the listeners' and their children's): $(cat "$TMP"/smtpd.log "$TMP"/lmtpd.log "$TMP"/smtpd-listen.log "$TMP"/lmtpd-listen.log | grep -cvE '^(Execing|Spawned|Communication attempt|Connection from|Listening on|Child [0-9]+ died)' || true) lines."
emit ""

# ========================================================== sync calls
# fsync-family system calls per message, from a system-wide perf trace of
# one more run (1 session, 50 messages) per server, kept to the server's
# processes: vvmfs for vvm (the shim's own fsync() on its file in the mount
# is the commit request, served by vvmfs), Dovecot's master tree.
SYNC_EVENTS=syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync,syscalls:sys_enter_sync_file_range
SYNC_N=$((MESSAGES < 50 ? MESSAGES : 50))
if perf record -a -e "$SYNC_EVENTS" -o /dev/null true >/dev/null 2>&1; then
	log "== sync calls"
	emit "### fsync-family calls per message" ""
	emit "A system-wide \`perf record -e $SYNC_EVENTS\` of one more run of $SYNC_N messages, 1 session, per server; the events of the server's own processes (vvm: vvmfs, where the shim's fsync() on its message file in the mount ends up; Dovecot: the master and everything under it), divided by $SYNC_N." ""
	emit "| target | fsync | fdatasync | sync_file_range |" "|---|---|---|---|"
	for t in lmtp dovecot; do
		st=$(store_of $t)
		pids=$(if [ $t = dovecot ]; then ps -o pid= --ppid "$DOVECOT_PID"; echo "$DOVECOT_PID"; else echo "$VVMFS_PID"; fi | tr -d ' ' | tr '\n' ' ')
		# shellcheck disable=SC2086
		perf record -q -a -e "$SYNC_EVENTS" -o "$TMP/sync-$t.data" -- \
			smtp-source ${LFLAG[$t]} -N -s 1 -m "$SYNC_N" -F "$MSG" -f "$SENDER" \
			-t "$SUFFIX@$DOMAIN" "127.0.0.1:${PORT[$t]}" >>"$TMP/smtp-source.log" 2>&1 ||
			die "smtp-source against ${NAME[$t]} (perf) failed"
		SENT[$st]=$((SENT[$st] + SYNC_N))
		n=$(stored "$st")
		[ "$n" = "${SENT[$st]}" ] || die "${NAME[$t]}: ${SENT[$st]} messages accepted in all, $n stored"
		counts=$(perf script -i "$TMP/sync-$t.data" -F pid,event 2>/dev/null |
			awk -v pids="$pids" -v m="$SYNC_N" 'BEGIN { n = split(pids, a, " "); for (i = 1; i <= n; i++) mine[a[i]] = 1 }
				mine[$1] { sub(/^syscalls:sys_enter_/, "", $2); sub(/:$/, "", $2); c[$2]++ }
				END { printf "%.1f %.1f %.1f", c["fsync"] / m, c["fdatasync"] / m, c["sync_file_range"] / m }')
		read -r fs fd sfr <<<"$counts"
		emit "| ${NAME[$t]} | $fs | $fd | $sfr |"
		echo "RESULT sync target=$t messages=$SYNC_N fsync_per_msg=$fs fdatasync_per_msg=$fd sync_file_range_per_msg=$sfr" >>"$RAW"
	done
	emit ""
fi

emit "## Fairness" ""
emit "- Durability: vvm-smtpd replies 250 only after vvmfs has committed the message with the RocksDB WAL synced — one commit, one WAL sync per message. Dovecot runs with \`mail_fsync = always\` (Debian's default is \`optimized\`, which still fsyncs each saved mail file; \`always\` also syncs its index, log and uidlist writes): the message file is fsynced in tmp/ and renamed into new/ before the 250. The sync calls each makes per message are counted above. Both stores are on the same ext4 file system."
emit "- Where vvm's time goes: compare the CPU table with the start-up table. In inetd mode vvm-smtpd is exec'd per connection, and most of its CPU per message is its start-up (dynamic loading and relocation of the libraries above, GMime pulling in gpgme, GIO, libmount and libselinux); with --listen that start-up is paid once and a session costs a fork plus the session itself. vvmfs's share (parse, index, RocksDB commit) is small and the same in both modes."
emit "- Work per message: vvm-smtpd parses the whole MIME structure (GMime) and refuses anything that is not a well-formed VVM voice message (mandatory headers, base64 audio attachment, Content-Duration), adds Return-Path and Received, converts to CRLF, and vvmfs indexes the message (headers, BODYSTRUCTURE, part offsets) in the same commit. Dovecot LMTP reads the header (it does not parse the MIME structure), adds Return-Path, Delivered-To and Received, writes the mail file and updates dovecot-uidlist and its index files (dovecot.index.log, dovecot.index.cache)."
emit "- Processes: vvm-smtpd is fork+exec'd for every connection in inetd mode (by systemd-socket-activate here) and forked without exec with --listen, one process per connection either way, never reused; Dovecot's lmtp processes are reused (\`service_count = 0\`, Debian's default), so its per-connection cost is one accept() and one userdb lookup through its auth process."
emit "- Both servers see the same connection pattern: one message per connection, one recipient per message, each recipient a different subscriber. vvm-smtpd's LMTP mode is what an MTA in front of it would use; its SMTP mode (no AUTH here: \`require_auth = false\`, as smtp-source cannot authenticate) is what the phones use, so it is compared with Dovecot's LMTP too, Dovecot having no SMTP deposit of its own."
emit "- vvm-smtpd runs as root; Dovecot's lmtp switches to the mail user (uid 65534) for each delivery. This machine has no syslog daemon (/dev/log is absent), so vvm-smtpd's syslog() calls cost almost nothing, while Dovecot writes its delivery lines to a file."
emit "- The machine: $(nproc) vCPUs shared by smtp-source, the servers, the daemons and whatever else runs on the VM; rounds rotate the order of the targets and the median is kept, but expect ±20 % between runs."
emit ""
emit "Whole run: $(($(date +%s) - T_START)) s."
emit "" "## Appendix: raw RESULT lines" "" '```'
cat "$RAW" >>"$OUT"
emit '```'

sed -i "s|LOAD_END_PLACEHOLDER|load average $(cut -d' ' -f1-3 /proc/loadavg); busy: $(busy_others)|" "$OUT"
cp "$OUT" "$RESULTS"
log "== wrote $RESULTS"
cat "$RESULTS"
