"""A request whose client has gone is cancelled: a pure ASGI middleware.

Once the app has read a request's whole body, a watcher waits on the next receive(), which
the server answers only when the client disconnects (the watcher stops when the response
starts). A disconnect cancels the request's task, so inference it queued never starts (the
batcher drops it), and the app raises Starlette's ClientDisconnect: a client's doing, counted
as such, never a server error.
"""

import asyncio

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class CancelOnDisconnect:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        task = asyncio.current_task()
        assert task is not None
        watcher: asyncio.Task[None] | None = None
        gone = False

        async def watch() -> None:
            nonlocal gone
            if (await receive())["type"] == "http.disconnect":
                gone = True
                task.cancel()

        async def receive_and_watch() -> Message:
            nonlocal watcher
            message = await receive()
            body_read = message["type"] == "http.request" and not message.get("more_body")
            if body_read and watcher is None:
                watcher = asyncio.get_running_loop().create_task(watch())
            return message

        async def send_once_answered(message: Message) -> None:
            if message["type"] == "http.response.start" and watcher is not None:
                watcher.cancel()
            await send(message)

        try:
            await self.app(scope, receive_and_watch, send_once_answered)
        except asyncio.CancelledError:
            if not gone:
                raise
            task.uncancel()
            raise ClientDisconnect() from None
        finally:
            if watcher is not None:
                watcher.cancel()
