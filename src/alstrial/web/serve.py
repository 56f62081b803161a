"""Running the web application: one uvicorn process, or several sharing the port.

With several workers, this process listens on the port and hands each connection it accepts
to the workers in turn (round robin), over a Unix socket to each (``SCM_RIGHTS``, the file
descriptor itself); each worker serves the connections it is given with uvicorn. Browsers
keep their connections open, so how connections are spread decides how the work is spread:

- uvicorn's own ``--workers`` shares one listening socket, and the first worker to wake
  accepts a whole burst of connections: one process at 80 % CPU, the other at 0 %
  (``bench/bench_web.py``).
- One listening socket per worker with ``SO_REUSEPORT`` (what alstrial did before) lets the
  kernel pick the worker by a hash of the client's address and port, that is at random:
  16 connections came out 10 and 6, or 11 and 5, and the busier worker's core was the limit
  while the other's idled. Measured with the 40-item form (Intel Xeon, 2 cores, same hour):
  314-327 saves/s with a p99 of 95-103 ms at random, 360-384 saves/s with a p99 of 81-84 ms
  with 8 connections each.

Round robin gives each worker its share of a burst exactly; a worker that stops stops the
service (so that a process manager sees the failure and restarts it). Where the platform
cannot pass a descriptor (Windows) uvicorn's own workers are used.

The application is built in each worker from the settings (:mod:`alstrial.web.asgi`).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import socket
import sys
from itertools import cycle
from multiprocessing.connection import wait
from typing import Any

__all__ = ["serve"]

_APP = "alstrial.web.asgi:app_from_settings"
_LOG = logging.getLogger("alstrial.serve")

#: Connections the kernel queues for this process to accept (uvicorn's default).
_BACKLOG = 2048


def _options(access_log: bool) -> dict[str, Any]:
    return {
        "factory": True,
        "access_log": access_log,
        "log_level": "info" if access_log else "warning",
    }


def _worker(channel: socket.socket, host: str, port: int, access_log: bool) -> None:
    """Serve the connections that arrive on ``channel`` until told to stop."""
    import uvicorn

    class HandedConnections(uvicorn.Server):
        """A uvicorn server with no listening socket of its own: its connections arrive on
        ``channel`` as descriptors, each served by uvicorn's HTTP protocol like one it had
        accepted."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            self._starting: set[asyncio.Task[None]] = set()
            await super().startup(sockets=[])
            loop = asyncio.get_running_loop()
            channel.setblocking(False)
            loop.add_reader(channel.fileno(), self._take, loop)

        def _take(self, loop: asyncio.AbstractEventLoop) -> None:
            try:
                _, descriptors, _, _ = socket.recv_fds(channel, 1, 64)
            except BlockingIOError:
                return
            except OSError:
                descriptors = []
            if not descriptors:  # the parent closed its end (it is gone): stop
                loop.remove_reader(channel.fileno())
                self.should_exit = True
                return
            for descriptor in descriptors:
                connection = socket.socket(fileno=descriptor)
                connection.setblocking(False)
                task = loop.create_task(self._serve_connection(loop, connection))
                self._starting.add(task)  # held until done: the loop keeps only a weak one
                task.add_done_callback(self._starting.discard)

        async def _serve_connection(
            self, loop: asyncio.AbstractEventLoop, connection: socket.socket
        ) -> None:
            try:
                await loop.connect_accepted_socket(self._protocol, connection)
            except OSError as error:  # the client went away before it was served
                _LOG.info("a handed connection could not be served: %s", error)
                connection.close()

        def _protocol(self) -> asyncio.Protocol:
            config = self.config
            protocol: asyncio.Protocol = config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state
            )
            return protocol

    config = uvicorn.Config(_APP, host=host, port=port, **_options(access_log))
    HandedConnections(config).run()


def serve(host: str, port: int, *, workers: int = 1, access_log: bool = True) -> None:
    """Serve until interrupted; with ``workers > 1``, one process per worker fed by this one
    (module docstring). When a worker stops, the others are stopped too."""
    import uvicorn

    if workers <= 1 or not hasattr(socket, "send_fds") or not hasattr(socket, "AF_UNIX"):
        uvicorn.run(_APP, host=host, port=port, workers=workers, **_options(access_log))
        return
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    bound = listener.getsockname()[1]
    context = multiprocessing.get_context("spawn")
    channels = [socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(workers)]
    processes = [
        context.Process(target=_worker, args=(theirs, host, bound, access_log), daemon=True)
        for _, theirs in channels
    ]
    for process in processes:
        process.start()
    for _, theirs in channels:
        theirs.close()  # the worker holds its own copy
    # Listening only now: a client that finds the port open finds the workers started (a
    # test that looked for them as soon as the port answered found none, on a busy machine).
    listener.listen(_BACKLOG)
    listener.setblocking(False)

    def stop(signum: int, frame: object) -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if access_log:
        print(f"alstrial: serving http://{host}:{bound} with {workers} workers", file=sys.stderr)
    turns = cycle([ours for ours, _ in channels])
    sentinels = [process.sentinel for process in processes]
    try:
        while True:
            ready = wait([listener, *sentinels])
            if any(sentinel in ready for sentinel in sentinels):
                break  # a worker stopped: stop the service
            _hand_out(listener, turns)
    finally:
        listener.close()
        stop(signal.SIGTERM, None)
        for process in processes:
            process.join(timeout=10)
        for ours, _ in channels:
            ours.close()


def _hand_out(listener: socket.socket, turns: cycle[socket.socket]) -> None:
    """Accept every waiting connection and give each to the next worker in turn."""
    while True:
        try:
            connection, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:  # out of descriptors, a connection reset before accept
            _LOG.warning("a connection could not be accepted: %s", error)
            return
        with connection:
            try:
                socket.send_fds(next(turns), [b"c"], [connection.fileno()])
            except OSError as error:  # that worker is gone: its sentinel stops the service
                _LOG.warning("a connection could not be handed to a worker: %s", error)
                return
