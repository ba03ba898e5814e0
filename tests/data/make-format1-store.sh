#!/usr/bin/env bash
# Makes store-format1-damaged.tar.gz: a store written by the last vvmfs
# of store format 1 (commit 53c1241), damaged the way its bug damaged
# stores (issue 11): three voice messages in INBOX, a rendition of the
# third cached, a clean restart, then a fourth deposit, which got message
# id 1 again and overwrote the first message's body and index. The SYNC
# SMS of the deposits are left pending in the outbox.
#
#   tests/data/make-format1-store.sh    (from the top of the tree)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
old=53c1241
work=$(mktemp -d)
trap 'fusermount3 -u "$work/mnt" 2>/dev/null || true
      git -C "$top" worktree remove --force "$work/src" 2>/dev/null || true
      rm -rf "$work"' EXIT

git -C "$top" worktree add --detach "$work/src" "$old" >/dev/null
meson setup "$work/build" "$work/src" >/dev/null
ninja -C "$work/build" vvmfs/vvmfs lib/media/vvm-media-worker >/dev/null

mkdir "$work/store" "$work/mnt"
printf '[media]\nworker = %s\n' "$work/build/lib/media/vvm-media-worker" \
	>"$work/vvm.conf"
mount_old() {
	"$work/build/vvmfs/vvmfs" -o config="$work/vvm.conf" \
		"$work/store" "$work/mnt"
	for _ in $(seq 100); do
		mountpoint -q "$work/mnt" && return
		sleep 0.1
	done
	echo "vvmfs did not mount" >&2
	exit 1
}
unmount_old() {
	fusermount3 -u "$work/mnt"
	while pgrep -f "$work/build/vvmfs/vvmfs" >/dev/null; do sleep 0.1; done
}
deposit() { # N HZ
	sox -n -r 8000 -c 1 -e a-law "$work/tone.wav" synth 3 sine "$2"
	PYTHONPATH=$top/tests/integration /usr/bin/python3 - "$1" \
		"$work/tone.wav" "$work/mnt/31612345678/INBOX" <<'PY'
import sys
from voicemsg import deposit, voice_message
n, wav, inbox = int(sys.argv[1]), sys.argv[2], sys.argv[3]
audio = open(wav, "rb").read()
print(deposit(inbox, voice_message(n, duration=3, audio=audio,
      ctype="audio/wav; codec=g711a", filename="vm.wav")))
PY
}

mount_old
sub=$work/mnt/31612345678
mkdir "$sub"
echo R >"$sub/profile/status"
deposit 1 300 >/dev/null
deposit 2 500 >/dev/null
deposit 3 700 >/dev/null
echo audio/amr >"$sub/profile/accept"
head -c 6 "$sub/INBOX/.rendition/3.eml" >/dev/null
unmount_old
mount_old
deposit 4 900 >/dev/null
unmount_old
tar czf "$top/tests/data/store-format1-damaged.tar.gz" -C "$work/store" .
echo "wrote tests/data/store-format1-damaged.tar.gz"
