"""The classifier's bulk call counted in instructions, not seconds: what the server's handler costs a result against
the short `score()` of the same items, with no load of the machine in the figures.

Each part runs in a process of its own under valgrind's callgrind, which counts the instructions executed: the same
count for the same code and inputs whatever else the machine does. A process that only prepares (the items, the batch
body, the snapshots decoded beforehand for `score()`, the rule sets' memos warmed by a first 200 `score()`s) is counted
too and taken off the others:
- `score`: the short `score()` of every item under both rule sets, on snapshots decoded beforehand (what
  `bench_classifier.py` compares the bulk call with);
- `ceiling`: the body decoded into the scoring's inputs (`parse_batch`) and every item scored (`figures()`), with
  nothing received or written: the least a server of a JSON body can do;
- `handler`: the bulk call's handler as the server runs it, `Accept: text/csv` (`answer_batch`), which writes the
  records too; only receiving the body and sending the answer are left out.
Instructions are not time (a decoded batch is spread over more memory than the caches hold, which the paired rounds
of `bench_classifier.py` see and this does not), but they are the same from one run to the next.

Run: `.venv/bin/python bench/classifier_instructions.py` (Debian's `valgrind`; some four minutes on 2 cores). Not part
of `make bench`.
"""

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from bench_classifier import asking_both, batch_bodies, decode_and_score, short_scores, snapshot

from classifier.inputs import from_model
from classifier.routes import answer_batch
from classifier.ruleset import load_rulesets
from classifier.settings import Settings
from classifier.state import AppState
from kampungkb_shared.classification import Snapshot
from kampungkb_shared.collector import collector_paused
from kampungkb_shared.result_rows import CSV

ITEMS = 2_000
PARTS = ("prepare", "score", "ceiling", "handler")


def run_part(part: str) -> None:
    """Prepare, warm both paths, then run `part` (nothing more for `prepare`)."""
    rng = random.Random(20250601)
    raw = [snapshot(rng) for _ in range(ITEMS)]
    (body,) = asking_both(batch_bodies(raw), explain=False)
    data = [from_model(Snapshot.model_validate(s)) for s in raw]
    rulesets = load_rulesets()
    state = AppState(settings=Settings(), rulesets=rulesets, default=next(iter(rulesets)))
    short_scores(data[:200], rulesets.values())  # warms the rule sets' memos, as the server's first request does
    if part == "score":
        short_scores(data, rulesets.values())
    elif part == "ceiling":
        decode_and_score([body], rulesets)
    elif part == "handler":
        with collector_paused():  # as the server runs it
            answer_batch(state, body, media_type=CSV)


def instructions(part: str) -> int:
    """The instructions a process running `part` executes, counted by callgrind (with a fixed hash seed, so that sets
    and dicts are laid out alike from one run to the next)."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__, part]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in callgrind's output:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", nargs="?", choices=PARTS, help="run one part (what each counted process runs)")
    args = parser.parse_args()
    if args.part is not None:
        run_part(args.part)
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed: on Debian, `apt-get install valgrind`")
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:  # each process counts its own, whatever runs beside
        counts = dict(zip(PARTS, pool.map(instructions, PARTS), strict=True))
    results = ITEMS * len(load_rulesets())
    per_result = {part: (counts[part] - counts["prepare"]) / results for part in PARTS[1:]}
    print(f"instructions a result, {ITEMS:,} items under both rule sets, the preparing process's taken off:")
    for part in PARTS[1:]:
        share = per_result["score"] / per_result[part]
        print(f"  {part:8s} {per_result[part]:>9,.0f}   short score() over it: {share:.0%}")


if __name__ == "__main__":
    main()
