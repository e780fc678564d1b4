"""Who owns a training run, and whether that owner is still alive: the rule behind ``stale`` runs and takeovers.

A run being trained records its owner (host name, process id and that process's start time) and a heartbeat
that the owner renews as it trains. An owner on this host is alive while a process with its pid exists and
started when the owner did (a pid the system has since given to another program does not count). An owner on
another host cannot be asked, so it counts as alive while its heartbeat is younger than :data:`STALE_AFTER_S`
(``$LORASCOPE_STALE_AFTER`` seconds overrides). A ``running`` run whose owner is gone is shown as ``stale``
and may be taken over by ``lorascope train --resume`` from its newest checkpoint; a live owner is refused.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone

#: How old another host's heartbeat may be before its run counts as stale (the owner renews it every
#: :data:`HEARTBEAT_EVERY_S` seconds while it trains).
STALE_AFTER_S = 600.0
HEARTBEAT_EVERY_S = 10.0
ENV_STALE_AFTER = "LORASCOPE_STALE_AFTER"


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    started: str | None = None       # the process's start, as :func:`process_start` gives it

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}"


def process_start(pid: int) -> str | None:
    """When process ``pid`` started: boot id and start time in clock ticks (Linux), or None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()   # the command name may hold spaces; it ends at the last ')'
    return f"{boot}:{fields[19]}" if len(fields) > 19 else None


def this_process() -> Owner:
    pid = os.getpid()
    return Owner(socket.gethostname(), pid, process_start(pid))


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:      # someone else's process: it exists
        return True
    return True


def stale_after() -> float:
    try:
        return float(os.environ.get(ENV_STALE_AFTER, STALE_AFTER_S))
    except ValueError:
        return STALE_AFTER_S


def owner_alive(owner: Owner | None, heartbeat_at: str | None, *, now: datetime | None = None) -> bool:
    """Whether the owner of a ``running`` run is still alive (module docstring)."""
    if owner is not None and owner.host == socket.gethostname():
        if not _pid_exists(owner.pid):
            return False
        current = process_start(owner.pid)
        return owner.started is None or current is None or current == owner.started
    if not heartbeat_at:
        return False
    now = now or datetime.now(timezone.utc)
    try:
        beat = datetime.fromisoformat(heartbeat_at)
    except ValueError:
        return False
    if beat.tzinfo is None:
        beat = beat.replace(tzinfo=timezone.utc)
    return (now - beat).total_seconds() < stale_after()
