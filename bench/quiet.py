"""The measuring process must not pause in the middle of a measurement.

The bench process imports the whole application for its in-process pairs, and a full
collection of its heap took about 45 ms. In the open-loop generator such a pause delays every
request scheduled during it, and in the lag probe every reading: the pause was counted against
the gateway (it was the 47 ms stall of the gateway's first round, which the direct rounds
escaped by chance) and against the projections. So during a measured window the collector is
off: what was made before is collected first, what is made during it, after.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Collect now, then no automatic collection until the block ends (nesting is safe)."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
