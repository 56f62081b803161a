"""No answer leaves before the commits it acknowledges are on disk.

:class:`DurableAnswers` (pure ASGI, outermost of the application's own middleware) opens a
:func:`~alstrial.store.sqlite_durability.syncs_owed` block around each HTTP request. A commit
the request makes on a SQLite file owes its ``fsync`` to the block instead of making it
while the route runs; the middleware makes the owed ``fsync`` in a thread just before the
answer's first message (``http.response.start``) goes out, so the worker's event loop runs
another request meanwhile, and the answer, a redirect that says "saved" included, is sent
only after it. A request that ends without an answer (an unhandled error, answered 500 by
Starlette's outer middleware) makes it before its error goes on. A commit after the answer
started (a streamed body) is synced at once, as outside a request.

On PostgreSQL nothing is owed: the server's commit is durable when it returns.
"""

from __future__ import annotations

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alstrial.store.sqlite_durability import SyncsOwed, fsync_files, syncs_owed

__all__ = ["DurableAnswers"]


class DurableAnswers:
    """ASGI middleware: the owed ``fsync`` of a request's commits before its answer (module
    docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with syncs_owed() as owed:

            async def send_when_durable(message: Message) -> None:
                if owed.open and message["type"] == "http.response.start":
                    await _settle(owed)
                await send(message)

            try:
                await self.app(scope, receive, send_when_durable)
            finally:
                await _settle(owed)


async def _settle(owed: SyncsOwed) -> None:
    """Make what ``owed`` holds durable, off the event loop; close it."""
    files = owed.take()
    if files:
        await anyio.to_thread.run_sync(fsync_files, files)
