"""What each process of a benchmark's stack costs: its peak resident memory and its CPU seconds, read from /proc,
and, second by second, the cores each one keeps busy (where a phase leaves the machine's cores waiting).

The services' peaks are their `VmHWM` (the high-water mark of the resident set since the process started). PostgreSQL
is one process per connection: its figure is the largest sum of its processes' private resident memory (`RssAnon`,
sampled every quarter second; the shared buffers, which every backend maps, are left out) and the CPU of the server
and every process it started (those that ended are in the server's `cutime`/`cstime`). CPU seconds load moves less
than wall time on a shared machine.
"""

import os
import threading
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from kampungkb_local import processes

_TICK = os.sysconf("SC_CLK_TCK")


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if ":" in line)


def _kib(status: dict[str, str], name: str) -> int:
    return int(status.get(name, "0 kB").split()[0])


def _stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()  # fields from the third (state) on


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """utime + stime of `pid` (with `children`: plus those of its ended children it waited for)."""
    fields = _stat(pid)
    ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if children else 0)
    return ticks / _TICK


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a server so far: `pid`, its ended children (reaped into its `cutime`/`cstime`) and the running
    ones (PostgreSQL's backends, uvicorn's workers)."""
    live = 0.0
    for child in _children(pid):
        try:
            live += cpu_seconds(child)
        except OSError:  # ended between the listing and the read: counted in the parent's cutime by now
            continue
    return cpu_seconds(pid, children=True) + live


def _children(parent: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == parent:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):  # ended meanwhile
                continue
    return found


def parent_of(pid: int) -> int:
    return int(_stat(pid)[1])


@dataclass
class Usage:
    peak_mb: float
    cpu_s: float


@dataclass
class Sampler:
    """Start before a phase, `stop` after it: each service's peak memory and CPU seconds over the phase."""

    services: list[processes.Service]
    postmaster: int
    """The PostgreSQL server's pid (the parent of any backend: `parent_of(SELECT pg_backend_pid())`)."""
    interval_s: float = 0.25
    timeline_s: float | None = None
    """Also read each process's CPU every so many seconds, for `cpu_timeline`."""
    _start_cpu: dict[str, float] = field(default_factory=dict)
    _marks: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    _pg_peak_kib: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _pids(self) -> dict[str, int]:
        return {s.name: s.process.pid for s in self.services if s.process is not None and s.running}

    def _pg_cpu(self) -> float:
        return tree_cpu_seconds(self.postmaster)

    def _pg_private_kib(self) -> int:
        total = 0
        for pid in [self.postmaster, *_children(self.postmaster)]:
            try:
                total += _kib(_status(pid), "RssAnon")
            except OSError:
                continue
        return total

    def _cpu_now(self) -> dict[str, float]:
        cpu = {}
        for name, pid in self._pids().items():
            try:
                cpu[name] = cpu_seconds(pid)
            except OSError:  # stopped meanwhile
                continue
        cpu["postgresql"] = self._pg_cpu()
        return cpu

    def _sample(self) -> None:
        next_mark = time.monotonic() + (self.timeline_s or 0.0)
        while not self._stop.wait(self.interval_s):
            self._pg_peak_kib = max(self._pg_peak_kib, self._pg_private_kib())
            if self.timeline_s is not None and time.monotonic() >= next_mark:
                self._marks.append((time.monotonic(), self._cpu_now()))
                next_mark += self.timeline_s

    def start(self) -> "Sampler":
        self._start_cpu = self._cpu_now()
        self._marks = [(time.monotonic(), dict(self._start_cpu))]
        self._pg_peak_kib = self._pg_private_kib()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, Usage]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        usage = {
            name: Usage(_kib(_status(pid), "VmHWM") / 1024, cpu_seconds(pid) - self._start_cpu.get(name, 0.0))
            for name, pid in self._pids().items()
        }
        usage["postgresql"] = Usage(self._pg_peak_kib / 1024, self._pg_cpu() - self._start_cpu["postgresql"])
        return usage

    def cpu_timeline(self) -> list[tuple[float, dict[str, float]]]:
        """With `timeline_s`: the seconds since `start` at each reading, and the cores each process kept busy over the
        interval before it (CPU seconds over wall seconds)."""
        began = self._marks[0][0]
        return [
            (now - began, {name: (cpu - before.get(name, cpu)) / (now - then) for name, cpu in after.items()})
            for (then, before), (now, after) in pairwise(self._marks)
        ]


def print_timeline(rows: list[tuple[float, dict[str, float]]], *, indent: str = "  ") -> None:
    """One line per reading: the cores each process kept busy since the one before, and their sum."""
    if not rows:
        return
    names = list(rows[0][1])
    print(f"{indent}{'s':>5}  " + "  ".join(f"{name:>15}" for name in names) + f"  {'all':>5}", flush=True)
    for seconds, cores in rows:
        cells = "  ".join(f"{cores.get(name, 0.0):15.2f}" for name in names)
        print(f"{indent}{seconds:5.1f}  {cells}  {sum(cores.values()):5.2f}", flush=True)


def print_usage(usage: dict[str, Usage], *, indent: str = "  ") -> None:
    """One line per process: peak resident memory and CPU seconds over the phase."""
    for name, figures in usage.items():
        what = "peak private resident (backends summed)" if name == "postgresql" else "peak resident (VmHWM)"
        print(f"{indent}{name:<16} {what} {figures.peak_mb:7.0f} MB   CPU {figures.cpu_s:7.2f} s", flush=True)


def print_floor(usage: dict[str, Usage], seconds: float | None, *, indent: str = "  ") -> None:
    """The phase's CPU-seconds over every process, the shortest time they fit in on this machine's cores, and (given
    the phase's wall `seconds`, which the sampler's span holds with a moment either side) how many cores were kept
    busy on average: how far the phase is from what the machine allows, and whether it needs less work or better
    overlap."""
    total = sum(figures.cpu_s for figures in usage.values())
    cores = os.cpu_count() or 1
    line = f"{indent}all of them: {total:.1f} CPU-s, {total / cores:.1f} s at best on {cores} cores"
    if seconds:
        busy = total / seconds
        line += f"; over the {seconds:.1f} s, {busy:.2f} cores busy on average ({busy / cores:.0%})"
    print(line, flush=True)
