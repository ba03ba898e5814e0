"""The model-based store checker (issue 11): long random sequences of
operations against the real mount, vvm-imapd, vvm-smtpd and the media
worker, with clean remounts, SIGKILLs (also with a deposit in flight) and
retention purges among them, and after every operation a comparison of
everything observable with an in-memory model of what must be there
(storemodel.py). A divergence prints its seed and the shortest operation
list found that fails the same way, as a replayable script.

The parts: storemodel.py (the model and the messages), storecheck.py
(the real system and the comparison), storeops.py (the operations),
storerun.py (runs, shrinking, reports, a command line).

By default a fixed set of seeds runs, bounded to a few minutes under the
ASan build. The environment changes that:

    VVM_MODEL_SECONDS=1800   run seeds for that long (a long run)
    VVM_MODEL_SEED=N         the first seed (default 1; random with SECONDS)
    VVM_MODEL_SEEDS=N        how many seeds (default 12)
    VVM_MODEL_STEPS=N        operations per seed (default 130)
    VVM_MODEL_SHRINK_SECONDS=S   time bound of each shrink (default 180)
    VVM_MODEL_REPLAY=FILE    run one printed operation list instead
"""
import os
import time

import pytest

from storerun import campaign, format_ops, load_ops, run_ops, summary

SEEDS = int(os.environ.get("VVM_MODEL_SEEDS", "12"))
STEPS = int(os.environ.get("VVM_MODEL_STEPS", "130"))
SECONDS = int(os.environ.get("VVM_MODEL_SECONDS", "0")) or None
SHRINK_SECONDS = int(os.environ.get("VVM_MODEL_SHRINK_SECONDS", "180"))
# A default run stops after this many seconds even if seeds remain, so a
# slow machine still ends in bounded time (the summary says how many
# seeds ran); it stops at its first divergence.
CI_BUDGET = 240


def test_store_matches_model(capsys):
    replay = os.environ.get("VVM_MODEL_REPLAY")
    if replay:
        seed = int(os.environ.get("VVM_MODEL_SEED", "0"))
        result = run_ops(seed, load_ops(replay))
        if result.failure is not None:
            pytest.fail("%s\n%s" % (getattr(result.failure, "text",
                                            result.failure),
                                    format_ops(result)), pytrace=False)
        return
    lines = []
    if SECONDS:
        # A long run says what it does as it goes.
        seed = os.environ.get("VVM_MODEL_SEED")

        def log(text):
            lines.append(text)
            print(text, flush=True)
        with capsys.disabled():
            stats, failures = campaign(
                seconds=SECONDS, steps=max(STEPS, 300),
                first_seed=int(seed) if seed else None,
                shrink_seconds=SHRINK_SECONDS, log=log)
    else:
        start = time.monotonic()
        stats, failures = campaign(
            seconds=CI_BUDGET, seeds=SEEDS, steps=STEPS,
            first_seed=int(os.environ.get("VVM_MODEL_SEED", "1")),
            shrink_seconds=SHRINK_SECONDS, log=lines.append,
            stop_on_failure=True)
        stats["seconds"] = int(time.monotonic() - start)
    with capsys.disabled():
        print("\n" + summary(stats))
    if failures:
        pytest.fail("\n".join(lines), pytrace=False)
