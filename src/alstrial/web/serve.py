"""Running the web application: one uvicorn process, or several sharing the port.

With several workers, each process binds its own listening socket with ``SO_REUSEPORT`` and
the kernel spreads new connections over them. uvicorn's own ``--workers`` shares one
listening socket instead, and the first worker to wake accepts a whole burst of connections:
browsers keep their connections open, so one worker could serve every site while the others
idle (seen in ``bench/bench_web.py``: one process at 80 % CPU, the other at 0 %). Where the
platform has no ``SO_REUSEPORT`` the uvicorn way is used.

The application is built in each worker from the settings (:mod:`alstrial.web.asgi`).
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
from typing import Any

__all__ = ["serve"]

_APP = "alstrial.web.asgi:app_from_settings"


def _options(access_log: bool) -> dict[str, Any]:
    return {
        "factory": True,
        "access_log": access_log,
        "log_level": "info" if access_log else "warning",
    }


def _worker(host: str, port: int, access_log: bool) -> None:
    import uvicorn

    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind((host, port))
    uvicorn.Server(uvicorn.Config(_APP, **_options(access_log))).run(sockets=[listener])


def serve(host: str, port: int, *, workers: int = 1, access_log: bool = True) -> None:
    """Serve until interrupted; with ``workers > 1``, one process per worker (module
    docstring). When a worker stops, the others are stopped too, so that a process manager
    sees the failure and restarts the service."""
    import uvicorn

    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(_APP, host=host, port=port, workers=workers, **_options(access_log))
        return
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_worker, args=(host, port, access_log), daemon=True)
        for _ in range(workers)
    ]
    for process in processes:
        process.start()

    def stop(signum: int, frame: object) -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        from multiprocessing.connection import wait

        wait([process.sentinel for process in processes])
    finally:
        stop(signal.SIGTERM, None)
        for process in processes:
            process.join(timeout=10)
