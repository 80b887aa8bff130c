"""Is the process that wrote a run still alive? (so a "running" run can be told from an interrupted one)

Every metrics.json a server writes carries :data:`WRITER`, the identity of that
process: host name, pid and (on Linux) its start time from ``/proc``, which
tells a reused pid apart. :func:`writer_alive` checks such an identity.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

# A run written on another machine (a shared folder) cannot be checked for a
# live writer; after this long without an update it is taken as interrupted.
FOREIGN_WRITER_STALE_S = 24 * 3600


def process_start_ticks(pid: int) -> int | None:
    """Start time of a process in clock ticks (Linux), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22; the command name (field 2) may hold spaces, so split after its ")".
    try:
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (IndexError, ValueError):
        return None


#: Identity of this server process, written into every run it trains.
WRITER = {
    "host": socket.gethostname(),
    "pid": os.getpid(),
    "start_ticks": process_start_ticks(os.getpid()),
}


def writer_alive(writer: Any, updated_at: float) -> bool:
    """Whether the process that wrote a run's metrics (a :data:`WRITER` dict) still runs.

    ``updated_at`` (seconds since the epoch) is the last write: a writer on another
    host counts as alive for ``FOREIGN_WRITER_STALE_S`` after it.
    """
    if not isinstance(writer, dict):
        return False
    if writer.get("host") != WRITER["host"]:
        return time.time() - updated_at < FOREIGN_WRITER_STALE_S
    pid = writer.get("pid")
    if not isinstance(pid, int):
        return False
    if pid == WRITER["pid"] and writer.get("start_ticks") == WRITER["start_ticks"]:
        # This process: its training threads always write a final status
        # (core.training records every exception), so it is alive.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    ticks = writer.get("start_ticks")
    return ticks is None or process_start_ticks(pid) == ticks
