"""``alstrial serve --workers 2`` as a user runs it: several processes answer on one port,
and a SIGTERM stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.helpers import free_port, port_answers

ALSTRIAL = str(Path(sys.executable).parent / "alstrial")


def test_serve_with_two_workers_answers_and_stops(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    env = os.environ | {"ALSTRIAL_SECRET_KEY": "serve-test-secret-key-0123456789-abcdefghij"}
    subprocess.run([ALSTRIAL, "init", "--database", url], check=True, env=env, capture_output=True)
    port = free_port()
    command = [ALSTRIAL, "serve", "--port", str(port), "--workers", "2", "--no-access-log"]
    server = subprocess.Popen([*command, "--database", url], env=env)
    try:
        deadline = time.monotonic() + 30
        while not port_answers(port):
            assert server.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
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
