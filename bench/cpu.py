"""CPU time by process tree, read from /proc (Linux): where a pair's work goes on the machine.

Latency on a shared 2-core machine moves from round to round far more than the work done per
request does; CPU time per request tells a change in cost from a change in luck, and shows
which process (the gateway, its usage writer, the worker, Postgres) pays for what.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
Snapshot = dict[str, dict[int, float]]  # CPU seconds used so far, by group, then by pid


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds), or None for a process that is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the command name may hold spaces and ')'
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


def snapshot(groups: Mapping[str, Sequence[int]]) -> Snapshot:
    """Each group's processes and all their descendants (a gateway's usage writer, a
    Postgres server's backends), with the CPU time each has used."""
    stats = {int(name): found for name in os.listdir("/proc")
             if name.isdigit() and (found := _stat(int(name))) is not None}
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (parent, _) in stats.items():
        children[parent].append(pid)
    taken: Snapshot = {}
    for group, roots in groups.items():
        tree, pending = {}, list(roots)
        while pending:
            pid = pending.pop()
            if pid in stats and pid not in tree:
                tree[pid] = stats[pid][1]
                pending.extend(children[pid])
        taken[group] = tree
    return taken


def used(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """CPU seconds each group used between the snapshots: a process started meanwhile counts
    from zero; one that ended meanwhile is missed (pooled connections and servers live on)."""
    return {group: sum(seconds - before.get(group, {}).get(pid, 0.0)
                       for pid, seconds in tree.items())
            for group, tree in after.items()}


def used_by(before: Snapshot, after: Snapshot, group: str, pid: int) -> float:
    """CPU seconds one process of a group used between the snapshots (its children apart)."""
    return after.get(group, {}).get(pid, 0.0) - before.get(group, {}).get(pid, 0.0)
