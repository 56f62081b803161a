"""Instructions per web save, counted by ``valgrind --tool=callgrind``: a figure that the
machine's neighbours do not change, unlike the saves per second of ``bench_web.py``.

The web application is built as ``alstrial serve`` builds it, on a fresh SQLite store with
``bench_web.py``'s study, and driven in this process through ASGI (no sockets, no client
process): a coordinator logs in, then posts the form ``--form`` (the 40-item dictionary form
by default, or the vital signs) a number of times, each save a new instance through the same
route, CSRF check, parsing, service, audit trail and commit as a person's. The whole program
runs under callgrind twice, with ``--small`` and ``--large`` saves; the difference of the two
totals divided by the difference of the saves is one save's instructions, start-up and
set-up cancelled out. Needs valgrind (Debian's package); about five minutes on a 2-core
machine.

Run: ``.venv/bin/python bench/bench_save_instructions.py`` (``--form vitals|dictionary``,
``--small``, ``--large``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-key-0123456789-abcdefghijklmnop"


async def _post(app: Any, path: str, body: bytes, cookie: str) -> int:
    """One POST through the ASGI application; its status."""
    route, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": route,
        "raw_path": route.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"cookie", cookie.encode()),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    sent = False
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(int(message["status"]))

    await app(scope, receive, send)
    return statuses[0]


async def _drive(app: Any, saves: int, form: str) -> None:
    """Log in, warm up with three saves (the first request's imports), then ``saves``."""
    import httpx2
    from bench.bench_web import PASSWORD, _body

    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        page = (await http.get("/login")).text
        token = page.split('name="csrf" value="')[1].split('"')[0]
        login = {"username": "coord", "password": PASSWORD, "csrf": token}
        await http.post("/login", data=login)
        page = (await http.get("/password")).text
        csrf = page.split('name="csrf" value="')[1].split('"')[0]
        cookie = "; ".join(f"{name}={value}" for name, value in http.cookies.items())
    day0 = date.today() - timedelta(days=70)
    path = (
        "/subjects/B00/crf/bench40?visit=D0"
        if form == "dictionary"
        else "/subjects/B00/visits/D0/vitals"
    )
    for n in range(saves + 3):
        status = await _post(app, path, _body(form, csrf, n, day0), cookie)
        if status != 303:
            raise SystemExit(f"save {n} refused with status {status}")


def child(saves: int, form: str) -> None:
    """The program callgrind counts: a fresh store, the application, ``saves`` saves."""
    sys.path.insert(0, str(ROOT))
    from bench.bench_web import prepare

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        os.environ["ALSTRIAL_DATABASE_URL"] = url
        os.environ["ALSTRIAL_SECRET_KEY"] = SECRET
        prepare(url, form)
        from alstrial.web.asgi import app_from_settings

        asyncio.run(_drive(app_from_settings(), saves, form))


def instructions(saves: int, form: str, folder: Path) -> int:
    """The instructions callgrind counted for the whole program with ``saves`` saves."""
    out = folder / f"callgrind.{saves}.out"
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable]
    command += [__file__, "--child", str(saves), "--form", form]
    subprocess.run(command, check=True, capture_output=True)
    found = re.search(r"^summary:\s+(\d+)", out.read_text(errors="replace"), re.MULTILINE)
    if found is None:
        raise SystemExit(f"callgrind wrote no summary in {out}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--form", choices=["vitals", "dictionary"], default="dictionary")
    parser.add_argument("--small", type=int, default=20, help="saves in the first run")
    parser.add_argument("--large", type=int, default=120, help="saves in the second run")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.form)
        return
    if args.large <= args.small:
        raise SystemExit("--large must be more saves than --small")
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    sys.path.insert(0, str(ROOT))
    from bench.machine import cpu_model

    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores (instructions do not depend on its load)")
    with tempfile.TemporaryDirectory() as folder:
        small = instructions(args.small, args.form, Path(folder))
        large = instructions(args.large, args.form, Path(folder))
    per_save = (large - small) / (args.large - args.small)
    label = "40-item dictionary form" if args.form == "dictionary" else "vital-signs form"
    print(
        f"{label}: {per_save / 1e6:.2f} M instructions per save "
        f"(callgrind: {small:,} with {args.small} saves, {large:,} with {args.large})"
    )


if __name__ == "__main__":
    main()
