"""Process-wide registry of things that must never outlive the test run.

Clusters and daemons register a cleanup callable here. It runs from the
pytest finalizer / context manager in the normal case, and from atexit or a
SIGTERM/SIGHUP/SIGINT handler when the run is interrupted, so a failed or
killed test run does not leave a PostgreSQL running as the test user.
"""

import atexit
import os
import signal
import threading

_lock = threading.Lock()
_pending = {}  # token -> callable, in registration order
_next_token = 0
_installed = False


def register(fn):
    """Remember fn until unregister(token); returns the token."""
    global _next_token
    _install_handlers()
    with _lock:
        _next_token += 1
        _pending[_next_token] = fn
        return _next_token


def unregister(token):
    with _lock:
        _pending.pop(token, None)


def run_all():
    """Run every pending cleanup, newest first (daemons before the clusters
    they talk to). Never raises: an interrupted run must clean up as much as
    it can."""
    while True:
        with _lock:
            if not _pending:
                return
            token = max(_pending)
            fn = _pending.pop(token)
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - keep cleaning the rest
            print(f"harness cleanup: {exc!r}", flush=True)


def _on_signal(signum, _frame):
    run_all()
    # Die the way the signal asked, so the caller sees the right status.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_handlers():
    global _installed
    if _installed:
        return
    _installed = True
    atexit.register(run_all)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                signal.signal(sig, _on_signal)
