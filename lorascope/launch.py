"""``lorascope train --nproc N``: start N training processes on this machine with torchrun's environment.

Every process runs ``python -m lorascope <the same arguments>`` with ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``,
``LOCAL_WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` set as ``torchrun --standalone --nproc-per-node N``
sets them, so it is the same as running that torchrun command, and either way the processes join one gloo (CPU)
or NCCL (CUDA) group (core/training/distributed.py). The launcher itself keeps the terminal clean: rank 0's output
(progress bar, tables, one-line errors) goes to the terminal; the other ranks print nothing but errors, which
are kept in a log and shown when that rank fails. When one process fails, the others are stopped (SIGTERM,
then SIGKILL after a grace period) and the launcher exits with the failing process's code. Each process gets
``OMP_NUM_THREADS`` = cores / N unless it is set, so N processes do not oversubscribe the CPU.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRACE_S = 30.0
#: The exit code of a process that stops because another one failed (and reports it): not worth a line of its own.
PEER_FAILED = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def strip_nproc(args: list[str]) -> list[str]:
    """``args`` without ``--nproc N`` / ``--nproc=N`` (the processes must not launch again)."""
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            out.append(a)
    return out


def launch(nproc: int, args: list[str], *, err=sys.stderr) -> int:
    """Run ``python -m lorascope *args`` in ``nproc`` processes (module docstring); returns the exit code."""
    port = free_port()
    threads = os.environ.get("OMP_NUM_THREADS") or str(max(1, (os.cpu_count() or 1) // nproc))
    logs = Path(tempfile.mkdtemp(prefix="lorascope-ranks-"))
    procs: list[subprocess.Popen] = []
    for rank in range(nproc):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(nproc),
                   LOCAL_WORLD_SIZE=str(nproc), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                   OMP_NUM_THREADS=threads)
        quiet = {} if rank == 0 else {"stdout": subprocess.DEVNULL, "stderr": open(logs / f"rank-{rank}.log", "w")}
        procs.append(subprocess.Popen([sys.executable, "-m", "lorascope", *args], env=env, **quiet))
    try:
        while any(p.poll() is None for p in procs):
            if any(p.returncode not in (None, 0) for p in procs):
                _stop(procs)
                break
            time.sleep(0.2)
    except KeyboardInterrupt:   # the processes got the Ctrl-C too: let them checkpoint and stop
        for p in procs:
            p.wait()
        return 130
    for p in procs:
        p.wait()
    for rank, p in enumerate(procs[1:], 1):
        if p.returncode not in (0, PEER_FAILED, -signal.SIGTERM, -signal.SIGKILL):
            text = (logs / f"rank-{rank}.log").read_text(errors="replace").strip()
            if text:
                print(f"lorascope: rank {rank}: {text.splitlines()[-1]}", file=err)
    codes = [p.returncode for p in procs]
    if codes[0]:
        return codes[0] if codes[0] > 0 else 1
    return next((c if c > 0 else 1 for c in codes if c not in (0, PEER_FAILED)), 0 if not any(codes) else 1)


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.time() + GRACE_S
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
