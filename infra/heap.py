"""Keeping what a process builds at start-up off the garbage collector."""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Keep the collector off what start-up built: modules, the app, pools, caches.

    A serving process holds a few hundred thousand long-lived objects. Without this, every
    full collection walks them all: about 100 ms with the GIL held, every second or two
    under load, which was most of the gateway's p99 and of the projections' lag p99. Frozen
    objects are never collected, so the garbage is collected first; what is made later is
    collected as usual. Called by every long-running process once it is set up: `bitstride
    serve` and `worker`, the gateway's usage writer, the reference model server."""
    gc.collect()
    gc.freeze()
