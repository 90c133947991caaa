"""Ties child processes to the lifetime of the process that started them."""

from __future__ import annotations

import signal


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask Linux to send `sig` to this process when its parent dies.

    Used for child processes (the broker, hashing workers) so that a killed
    parent leaves none behind. Does nothing where prctl is unavailable.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, sig)
    except OSError:
        pass
