"""`make bench`: run every benchmark script in this folder, one after another, and print what each measured.

Benchmarks are not tests: they print figures (the README keeps the latest) and assert nothing about speed.
Pass names to run a subset: `make bench ARGS="wilayah classifier"`.
"""

import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
APART = {"history"}
"""Benchmarks with a target of their own (`make bench-history`), run here only when named."""


def machine() -> str:
    cpus = Path("/proc/cpuinfo").read_text().count("processor\t:") if Path("/proc/cpuinfo").exists() else "?"
    model = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    return f"{platform.system()} {platform.machine()}, {cpus} cores ({model}), Python {platform.python_version()}"


def main() -> int:
    wanted = set(sys.argv[1:])
    scripts = [
        p
        for p in sorted(HERE.glob("bench_*.py"))
        if (name := p.stem.removeprefix("bench_")) in wanted or (not wanted and name not in APART)
    ]
    print(f"machine: {machine()}", flush=True)
    failed = []
    for script in scripts:
        print(f"\n== {script.stem.removeprefix('bench_')} ==", flush=True)
        started = time.monotonic()
        if subprocess.run([sys.executable, str(script)]).returncode != 0:
            failed.append(script.stem)
        print(f"({time.monotonic() - started:.0f} s)", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
