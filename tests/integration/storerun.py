"""Runs of the model-based store checker: random operation lists from a
seed, runs on a fresh store, shrinking a failing run (delta debugging)
and the report, and a command line. test_store_model.py is the pytest
entry; this file also runs on its own, with VVM_BUILD_DIR set as for
the tests:

    python3 tests/integration/storerun.py run [--seed N] [--seeds N]
        [--steps N] [--seconds S]
    python3 tests/integration/storerun.py replay FILE [--seed N]

FILE holds an operation list as a failure prints it (a Python literal,
optionally after "ops = ").
"""
import ast
import os
import pprint
import random
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from storecheck import SUBS  # noqa: E402
from storemodel import (ACTIVE, KINDS, QUOTA_KEYS,  # noqa: E402
                        Divergence)
from storeops import BAD_BOX_NAMES, BOX_NAMES, Runner  # noqa: E402

ACCEPTS = ["", "audio/amr", "audio/wav", "audio/wav; codec=g711a",
           "audio/amr-wb", "audio/qcelp", "audio/amr,audio/wav",
           "audio/wav; codec=g711u,audio/amr", "audio/x-wav",
           "audio/qcelp,audio/wav; codec=g711a",
           "audio/wav; codec=g711a,audio/amr,audio/wav"]
FAR_EXPIRES = 2208988800          # 2040-01-01: never purged in a run


# --- generating operations ---------------------------------------------------

class Generator:
    """Weighted random operations, chosen with the model's state in view
    (it generates runs; it never decides what a run means)."""

    WEIGHTS = {"cp": 14, "smtp": 6, "append": 4, "flags": 8, "store": 4,
               "fetch": 4, "move": 8, "rm": 5, "expunge": 3, "mkdir": 2,
               "rmdir": 2, "rename": 1.5, "rendition": 6, "profile": 7,
               "setmeta": 1.5, "notify": 1, "look": 3, "refused": 1,
               "send": 2, "remount": 2.5, "kill": 2, "inflight": 2.5,
               "purge": 1.5, "provision": 1, "deprovision": 1}

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.n = 0
        self.ops = list(self.WEIGHTS)
        self.weights = [self.WEIGHTS[o] for o in self.ops]

    def next(self, model):
        r = self.rng
        if len(model.pending) > 6 and r.random() < 0.5:
            return ("send", {"keep": r.choice([0, 0, 1, 2]),
                             "how": r.choice(["rm", "xattr"])})
        weights = self.weights
        total = sum(len(b.msgs) for s in model.subs.values()
                    for b in s.boxes.values())
        if total > 24:
            # Phones delete too: a store that only grows would make each
            # check slower and each run shallower.
            more = {"rm": total / 6, "expunge": 2, "store": 1.5}
            weights = [w * more.get(o, 1) for o, w in zip(self.ops, weights)]
        name = r.choices(self.ops, weights)[0]
        return (name, getattr(self, "gen_" + name, self.gen_plain)(model))

    def msg(self, greeting=False):
        self.n += 1
        r = self.rng
        spec = {"n": self.n, "kind": r.choice(KINDS if not greeting
                                              else ["amr", "g711a", "amr"]),
                "secs": r.choice([1, 1, 2, 3])}
        if greeting:
            spec["greeting"] = True
        if r.random() < 0.1:
            spec["expires"] = FAR_EXPIRES
        return spec

    def base(self, **extra):
        r = self.rng
        d = {"sub": r.choice("AAAABBC"), "box": r.randrange(1 << 16),
             "msg": r.randrange(1 << 16)}
        d.update(extra)
        return d

    def gen_plain(self, model):
        return self.base()

    def gen_cp(self, model):
        r = self.rng
        p = self.base(msg=self.msg())
        if r.random() < 0.35:
            p["box"] = 0            # INBOX
        if r.random() < 0.3:
            p["flags"] = r.choice(["\\Seen", "\\Flagged \\Seen", "",
                                   "$CNS-Greeting-On", "\\seen \\DRAFT",
                                   "\\Bogus", "\\Answered \\Deleted"])
        if r.random() < 0.3:
            p["date"] = r.randrange(1700000000, 1800000000)
        if r.random() < 0.05:
            p["name"] = r.choice(["7.eml", ".hidden"])
        if r.random() < 0.04:
            p["msg"]["bad"] = True
        return p

    def gen_smtp(self, model):
        r = self.rng
        msg = self.msg()
        if msg["kind"] in ("text", "unknown"):
            msg["kind"] = "amr"
        return {"frm": r.choice("AAABBC"), "to": r.choice("AAABBC"),
                "msg": msg}

    def gen_append(self, model):
        r = self.rng
        flags = r.choice([[], ["$CNS-Greeting-On"], ["\\Seen"],
                          ["$AppleVM-ActiveGreeting", "\\Seen"],
                          ["\\Flagged"], ["\\Deleted"]])
        p = {"sub": r.choice("AAABBC"), "msg": self.msg(greeting=True),
             "box": "INBOX" if r.random() < 0.1 else "Greetings",
             "flags": flags}
        if r.random() < 0.5:
            p["date"] = r.randrange(1700000000, 1800000000)
        return p

    def gen_flags(self, model):
        r = self.rng
        names = r.choice(["\\Seen", "\\Deleted", "\\Flagged", "\\Answered",
                          "\\Draft", "$CNS-Greeting-On",
                          "$AppleVM-ActiveGreeting", "\\seen \\deleted",
                          "\\Seen \\Flagged $CNS-Greeting-On", "\\Junk", ""])
        sign = r.choice(["+", "+", "-", ""])
        return self.base(value=sign + names)

    def gen_store(self, model):
        r = self.rng
        return self.base(mode=r.choice(["+FLAGS", "-FLAGS", "FLAGS",
                                        "+FLAGS.SILENT"]),
                         flags=r.choice([["\\Seen"], ["\\Deleted"],
                                         ["\\Seen", "\\Deleted"],
                                         ["$CNS-Greeting-On"], ["\\Flagged"],
                                         ["\\Recent", "\\Seen"], []]))

    def gen_fetch(self, model):
        return self.base(peek=self.rng.random() < 0.5,
                         newest=self.rng.random() < 0.5)

    def gen_rendition(self, model):
        return self.base(newest=self.rng.random() < 0.5)

    def gen_move(self, model):
        r = self.rng
        p = self.base(to=r.randrange(1 << 16))
        if r.random() < 0.05:
            p["other"] = True
        if r.random() < 0.05:
            p["name"] = "existing"
        return p

    def gen_expunge(self, model):
        return self.base(how=self.rng.choice(["EXPUNGE", "UID EXPUNGE",
                                              "CLOSE"]))

    def gen_mkdir(self, model):
        r = self.rng
        return {"sub": r.choice("AABC"),
                "name": r.choice(BOX_NAMES * 4 + BAD_BOX_NAMES +
                                 ["Greetings"])}

    def gen_rename(self, model):
        r = self.rng
        return self.base(to=r.choice(BOX_NAMES * 3 + BAD_BOX_NAMES[:1]))

    def gen_profile(self, model):
        r = self.rng
        sub = r.choice("AAABBC")
        if SUBS[sub] not in model.subs:
            sub = "A"
        s = model.subs[SUBS[sub]]
        key = r.choice(["quota", "quota", "quota", "accept", "accept",
                        "status", "status", "client_prefix", "app_port"])
        if key == "quota":
            which = r.choice(QUOTA_KEYS)
            key = "quota_" + which
            used = s.usage()
            cur = {"storage_kb": -(-used[0] // 1024), "messages": used[1],
                   "voice_seconds": used[2],
                   "greeting_seconds": used[3]}[which]
            value = r.choice([0, 0, cur, cur + 1, cur + 2,
                              cur + r.randrange(1, 60), max(cur - 1, 0)])
            value = str(value) if r.random() > 0.03 else "-1"
        elif key == "accept":
            value = r.choice(ACCEPTS)
        elif key == "status":
            cur = s.profile["status"]
            if cur not in ACTIVE and r.random() < 0.7:
                value = {"U": "P", "P": "R", "B": "R"}[cur]
            else:
                value = r.choice("UPNRBRRX")
        elif key == "client_prefix":
            value = r.choice(["//VVM", "//VVM", "//XYZ", "VM1", "a b", ""])
        else:
            value = r.choice(["0", "5499", "16999", "17000", "1234"])
        return {"sub": sub, "key": key, "value": value}

    def gen_setmeta(self, model):
        return {"sub": self.rng.choice("AAABBC"),
                "accept": self.rng.choice(ACCEPTS)}

    def gen_notify(self, model):
        return {"sub": self.rng.choice("AABC"),
                "what": self.rng.choice(["STATUS", "MBU"])}

    def gen_refused(self, model):
        return {"sub": self.rng.choice("AABC"),
                "command": self.rng.choice(["MOVE", "COPY", "CREATE",
                                            "DELETE", "APPEND"])}

    def gen_send(self, model):
        return {"keep": self.rng.choice([0, 0, 1, 3]),
                "how": self.rng.choice(["rm", "xattr"])}

    def gen_remount(self, model):
        return {}

    def gen_deprovision(self, model):
        return {"rename": self.rng.random() < 0.1}

    gen_kill = gen_provision = gen_remount

    def gen_inflight(self, model):
        r = self.rng
        via = r.choice(["cp", "cp", "cp", "smtp", "append", "move", "flags"])
        if via in ("move", "flags"):
            p = self.base(via=via, to=r.randrange(1 << 16),
                          value=r.choice(["+\\Seen", "-\\Seen",
                                          "\\Deleted \\Flagged"]))
        else:
            msg = self.msg(greeting=via == "append")
            if msg["kind"] in ("text", "unknown") and via == "smtp":
                msg["kind"] = "amr"
            p = {"via": via, "sub": r.choice("AAABBC"),
                 "frm": r.choice("AABC"), "msg": msg,
                 "early": r.random() < 0.3}
        p["delay_ms"] = r.choice([0, 0, 1, 2, 5, 10, 20])
        return p

    def gen_purge(self, model):
        r = self.rng
        items = [{"box": r.randrange(1 << 16), "msg": self.msg()}
                 for _ in range(r.choice([1, 1, 1, 1, 2, 3]))]
        return {"sub": r.choice("AAABBC"), "items": items}


# --- runs, shrinking and reports ---------------------------------------------

def new_stats():
    return {k: 0 for k in ("ops", "skipped", "remounts", "kills", "inflight",
                           "inflight_done", "inflight_not_done",
                           "purged", "transcoded", "ambiguous")}


class Result:
    def __init__(self, ops, failure=None, step=None, trace=None):
        self.ops = ops                  # the operations run, in order
        self.failure = failure          # a Divergence (or other error)
        self.step = step                # index of the failing operation
        self.trace = trace or []

    @property
    def category(self):
        if self.failure is None:
            return None
        return getattr(self.failure, "category", type(self.failure).__name__)


def run_ops(seed, ops=None, steps=200, deadline=None, stats=None,
            log=None):
    """Runs ops (or generates up to steps operations from seed) on a
    fresh store until the first divergence. Returns a Result."""
    stats = stats if stats is not None else new_stats()
    runner = Runner(seed, stats, log)
    gen = Generator(seed) if ops is None else None
    done, trace = [], []
    clean = False
    try:
        runner.setup()
        i = 0
        while True:
            if ops is not None:
                if i >= len(ops):
                    break
                op = ops[i]
            else:
                if i >= steps or (deadline and time.monotonic() > deadline):
                    break
                op = gen.next(runner.model)
            done.append(op)
            runner.trace = []
            try:
                runner.execute(op)
            finally:
                trace.append(runner.trace)
            i += 1
        clean = True
    except Divergence as e:
        return Result(done, e, len(done) - 1, trace)
    except Exception as e:          # a crash of the harness or a hang
        e.category = "exception:" + type(e).__name__
        e.text = traceback.format_exc()
        return Result(done, e, len(done) - 1, trace)
    finally:
        try:
            runner.teardown(clean)
        except Divergence as e:
            if clean:
                return Result(done, e, len(done) - 1, trace)
    return Result(done, None, None, trace)


def shrink(seed, result, seconds, log=print):
    """Delta debugging (ddmin) of a failing run: the shortest operation
    list found within seconds that still fails with the same category."""
    ops = result.ops[:result.step + 1]
    best = result
    deadline = time.monotonic() + seconds
    tries = 0

    def fails(candidate):
        nonlocal best, tries
        tries += 1
        r = run_ops(seed, candidate, stats=new_stats())
        if r.failure is not None and r.category == result.category:
            best = r
            return True
        return False

    n = 2
    while len(ops) >= 2 and time.monotonic() < deadline:
        chunk = -(-len(ops) // n)
        reduced = False
        for start in range(0, len(ops), chunk):
            if time.monotonic() >= deadline:
                break
            candidate = ops[:start] + ops[start + chunk:]
            if candidate and fails(candidate):
                ops = best.ops[:best.step + 1]
                n = max(n - 1, 2)
                reduced = True
                break
        if not reduced:
            if n >= len(ops):
                break
            n = min(n * 2, len(ops))
    log("shrunk to %d operations in %d tries%s" % (
        len(ops), tries, "" if time.monotonic() < deadline
        else " (time bound reached)"))
    return best


def format_ops(result):
    """A failing operation list as a replayable script, each operation
    with what it resolved to in the run."""
    lines = ["ops = ["]
    for i, op in enumerate(result.ops):
        lines.append("    %s," % pprint.pformat(op, width=200,
                                                sort_dicts=True))
        for t in (result.trace[i] if i < len(result.trace) else []):
            lines.append("    # %s" % t)
    lines.append("]")
    return "\n".join(lines)


def report(seed, result, shrunk, log=print):
    log("=" * 72)
    log("store model divergence, seed %d, at operation %d of %d:" % (
        seed, result.step + 1, len(result.ops)))
    log(getattr(result.failure, "text", str(result.failure)))
    log("-" * 72)
    log("shortest operation list that fails the same way (%s); replay "
        "with VVM_MODEL_REPLAY=<file> or storerun.py replay <file>:" %
        shrunk.category)
    log(format_ops(shrunk))
    log("its failure: %s" % getattr(shrunk.failure, "text",
                                    shrunk.failure))
    log("=" * 72)


def load_ops(path):
    text = Path(path).read_text()
    text = text[text.index("["):] if "ops = " in text else text
    return ast.literal_eval(text)


def campaign(seconds=None, seeds=None, steps=200, first_seed=None,
             shrink_seconds=300, log=print, stop_on_failure=False):
    """Runs seeds until seconds or the seed count runs out. Returns
    (stats, failures) where failures are (seed, result, shrunk)."""
    stats = new_stats()
    stats["seeds"] = 0
    failures = []
    shrunk_categories = set()
    start = time.monotonic()
    deadline = start + seconds if seconds else None
    seed = first_seed if first_seed is not None else \
        random.SystemRandom().randrange(1 << 32)
    while True:
        if seeds is not None and stats["seeds"] >= seeds:
            break
        if deadline and time.monotonic() > deadline:
            break
        stats["seeds"] += 1
        result = run_ops(seed, steps=steps, stats=stats,
                         deadline=deadline + 5 if deadline else None)
        if result.failure is not None:
            log("seed %d: divergence at operation %d: [%s]" % (
                seed, result.step + 1, result.category))
            shrunk = None
            if result.category not in shrunk_categories:
                # One shrink per kind of divergence: the next of a kind
                # is most likely the same one again.
                shrunk_categories.add(result.category)
                shrunk = shrink(seed, result, shrink_seconds, log)
                report(seed, result, shrunk, log)
            else:
                log(getattr(result.failure, "text",
                            str(result.failure))[:2000])
            failures.append((seed, result, shrunk))
            stats["failures"] = len(failures)
            if stop_on_failure:
                break
        else:
            log("seed %d: %d operations, no divergence" % (seed,
                                                          len(result.ops)))
        seed = (seed + 1) & 0xFFFFFFFF
    stats["seconds"] = int(time.monotonic() - start)
    stats.setdefault("failures", 0)
    return stats, failures


def summary(stats):
    keys = ["seeds", "ops", "skipped", "remounts", "kills", "inflight",
            "inflight_done", "inflight_not_done", "purged", "transcoded",
            "ambiguous", "failures", "seconds"]
    text = ", ".join("%s %s" % (k, stats.get(k, 0)) for k in keys)
    by_op = stats.get("by_op", {})
    text = "store model: " + text + "\n  by operation: " + ", ".join(
        "%s %d" % kv for kv in sorted(by_op.items()))
    return text


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sp = ap.add_subparsers(dest="cmd", required=True)
    r = sp.add_parser("run")
    r.add_argument("--seed", type=int)
    r.add_argument("--seeds", type=int)
    r.add_argument("--steps", type=int, default=200)
    r.add_argument("--seconds", type=int)
    r.add_argument("--shrink-seconds", type=int, default=600)
    p = sp.add_parser("replay")
    p.add_argument("file")
    p.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.cmd == "replay":
        ops = load_ops(args.file)
        result = run_ops(args.seed, ops)
        for i, t in enumerate(result.trace):
            print("%3d %r" % (i + 1, result.ops[i]))
            for line in t:
                print("      %s" % line)
        if result.failure is None:
            print("no divergence")
            return 0
        print(getattr(result.failure, "text", result.failure))
        return 1
    stats, failures = campaign(args.seconds, args.seeds, args.steps,
                               args.seed, args.shrink_seconds)
    print(summary(stats))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
