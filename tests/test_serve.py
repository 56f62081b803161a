"""``alstrial serve --workers 2`` as a user runs it: several processes answer on one port,
and a SIGTERM stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from itertools import cycle
from pathlib import Path

import pytest

from alstrial.web.serve import _hand_out
from tests.helpers import free_port, port_answers, wait_until_served

ALSTRIAL = str(Path(sys.executable).parent / "alstrial")


def _serve_two_workers(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    """``alstrial serve --workers 2`` on a new store in ``folder``, answering; and its port."""
    url = f"sqlite:///{folder / 'serve.db'}"
    env = os.environ | {"ALSTRIAL_SECRET_KEY": "serve-test-secret-key-0123456789-abcdefghij"}
    subprocess.run([ALSTRIAL, "init", "--database", url], check=True, env=env, capture_output=True)
    port = free_port()
    command = [ALSTRIAL, "serve", "--port", str(port), "--workers", "2", "--no-access-log"]
    server = subprocess.Popen([*command, "--database", url], env=env)
    try:
        wait_until_served(server, port)
    except BaseException:
        server.kill()
        server.wait(timeout=10)
        raise
    return server, port


def _workers(server: subprocess.Popen[bytes]) -> list[str]:
    """The process ids of the server's two workers (its third child is multiprocessing's
    resource tracker)."""
    deadline = time.monotonic() + 20
    while True:  # a worker just started may still be between its fork and its exec
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        workers = [pid for pid in children if "spawn_main" in _command_line(pid)]
        if len(workers) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(workers) == 2, children
    return workers


def test_serve_with_two_workers_answers_and_stops(tmp_path: Path) -> None:
    server, port = _serve_two_workers(tmp_path)
    try:
        for _ in range(6):  # new connections, spread over the workers
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as page:
                assert page.status == 200
                assert b'name="username"' in page.read()
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=20) is not None
    deadline = time.monotonic() + 10
    while port_answers(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not port_answers(port), "a worker outlived the server"


def _listening() -> socket.socket:
    """A non-blocking listening socket on a free local port, as ``serve`` makes its own."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.setblocking(False)
    return listener


def test_connections_are_handed_to_the_workers_in_turn() -> None:
    """A burst of connections is split evenly: each worker's channel receives every other
    one, each a working connection to its client (``SO_REUSEPORT`` split 16 at random)."""
    listener = _listening()
    channels = [socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(2)]
    clients = [socket.create_connection(listener.getsockname()) for _ in range(6)]
    try:
        time.sleep(0.2)  # let the kernel queue every connection
        _hand_out(listener, cycle([ours for ours, _ in channels]))
        received = []
        for _, theirs in channels:
            theirs.setblocking(False)
            got = []
            while True:
                try:
                    got += socket.recv_fds(theirs, 1, 8)[1]
                except BlockingIOError:
                    break
            received.append([socket.socket(fileno=fd) for fd in got])
        assert [len(r) for r in received] == [3, 3]
        # Each handed descriptor is a live connection: what a client sends arrives on it.
        peers = {c.getsockname(): c for c in clients}
        for connection in received[0] + received[1]:
            peers[connection.getpeername()].sendall(b"ping")
            assert connection.recv(4) == b"ping"
            connection.close()
    finally:
        for client in clients:
            client.close()
        for pair in channels:
            for end in pair:
                end.close()
        listener.close()


def test_a_connection_for_a_worker_that_is_gone_is_closed() -> None:
    """A worker gone between two connections: the connection meant for it is closed (its
    client sees the end), nothing is raised, and the service's stop is left to the
    worker's sentinel."""
    listener = _listening()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    theirs.close()  # the worker's end: gone
    client = socket.create_connection(listener.getsockname())
    try:
        time.sleep(0.2)
        _hand_out(listener, cycle([ours]))
        client.settimeout(10)
        assert client.recv(1) == b""
    finally:
        client.close()
        ours.close()
        listener.close()


_PROC = pytest.mark.skipif(
    not Path("/proc/self/task").is_dir(),
    reason="finds the worker processes in /proc (Linux); the other serve tests run everywhere",
)


@_PROC
def test_a_worker_that_dies_stops_the_service(tmp_path: Path) -> None:
    """A process manager must see the failure: when one worker is killed, the parent stops
    the other and exits, and the port closes."""
    server, port = _serve_two_workers(tmp_path)
    workers: list[str] = []
    try:
        workers = _workers(server)
        os.kill(int(workers[0]), signal.SIGKILL)
        assert server.wait(timeout=20) is not None
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
    assert not port_answers(port)
    assert not any(_alive(pid) for pid in workers)


@_PROC
def test_the_workers_stop_when_the_parent_is_killed(tmp_path: Path) -> None:
    """A parent killed outright (SIGKILL, no shutdown) leaves no orphan workers holding
    connections and the database: each sees its channel close and stops."""
    server, _ = _serve_two_workers(tmp_path)
    workers: list[str] = []
    try:
        workers = _workers(server)
        server.kill()
        server.wait(timeout=10)
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers), "a worker outlived its parent"
    finally:
        if server.poll() is None:
            server.kill()
        for pid in workers:
            if _alive(pid):
                os.kill(int(pid), signal.SIGKILL)


def _alive(pid: str) -> bool:
    return Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid)


def _command_line(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except FileNotFoundError:
        return ""


def _state(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except FileNotFoundError:
        return "zombie"
