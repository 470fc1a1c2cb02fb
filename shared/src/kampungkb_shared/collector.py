"""Keeping Python's cyclic garbage collector out of the way: paused while a burst of acyclic objects is built, and
kept off the objects a service holds for its whole life.

Batch work (a classifier batch, an import's rows) allocates hundreds of thousands of containers that reference
counting frees anyway; the collector's generational passes over them cost a quarter of the work or more. Pauses
nest (the collector resumes when the last one ends) and may span awaits: other coroutines of the process then run
without cyclic collection for that long, which only delays freeing cycles.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_depth = 0
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic collector off (if it was on), restoring it when the outermost pause ends."""
    global _depth, _was_enabled
    if _depth == 0:
        _was_enabled = gc.isenabled()
        gc.disable()
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0 and _was_enabled:
            gc.enable()


def freeze_startup_objects() -> None:
    """Move everything alive now (modules, models, routes, rule sets: objects that live as long as the process) out
    of the collector's reach, once a service has started.

    A full collection of a started registry-api walks some 150,000 such objects, about 80 ms during which every
    request of the process waits: that is what its slowest requests were made of. Frozen, they are never walked.
    """
    gc.collect()
    gc.freeze()
