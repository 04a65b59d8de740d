"""Child processes that never outlive the local stack: own process group, parent-death signal, atexit."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

_PR_SET_PDEATHSIG = 1
_live: set[subprocess.Popen[bytes]] = set()
_lock = threading.Lock()


def _load_prctl() -> Any:
    # Looked up in the parent: the child, between fork and exec, must not load libraries.
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_prctl = _load_prctl() if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # The kernel sends SIGTERM to the child when its parent dies, even by SIGKILL: nothing is orphaned.
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(
    argv: Sequence[str],
    *,
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
    log: IO[Any] | int | None = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    """Starts argv in its own process group (so Ctrl-C in a terminal reaches us, not it) and tracks it."""
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT if log not in (None, subprocess.DEVNULL) else log,
        start_new_session=True,
        preexec_fn=_die_with_parent if _prctl is not None else None,  # noqa: PLW1509
    )
    with _lock:
        _live.add(proc)
    return proc


def terminate(proc: subprocess.Popen[bytes] | None, timeout: float = 5.0) -> None:
    """SIGTERM the child's whole process group, SIGKILL it if it lingers, and reap it."""
    if proc is None:
        return
    with _lock:
        _live.discard(proc)
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@atexit.register
def terminate_all() -> None:
    """Last line of defence: whatever is still tracked when the interpreter exits is stopped."""
    with _lock:
        procs = list(_live)
    for proc in procs:
        terminate(proc, timeout=2.0)
