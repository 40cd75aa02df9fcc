"""A delaying TCP proxy for tests: a delay line on loopback, no tc netem needed.

Each chunk from the client is stamped on arrival and forwarded to the server at arrival + delay,
in order, so pipelined requests are not serialised behind each other. Replies pass through. It
runs an asyncio loop in a daemon thread and stops when closed (or at the end of a `with`).

`stall(seconds)` holds every request that arrives in the next `seconds` until they are over: to the
client this is a server that stops answering, like `DEBUG SLEEP` (which the sandbox's servers do not
allow: enable-debug-command is off, and cannot be changed at runtime).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class DelayProxy:
    def __init__(self, upstream_port: int, delay_s: float) -> None:
        self.upstream_port = upstream_port
        self.delay_s = delay_s
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.Server | None = None
        self._hold_until = 0.0  # loop time before which nothing is forwarded

    def __enter__(self) -> DelayProxy:
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("the delay proxy did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def stall(self, seconds: float) -> None:
        """From now on, for `seconds`, forward nothing (thread-safe)."""
        self._loop.call_soon_threadsafe(self._hold, seconds)

    def _hold(self, seconds: float) -> None:
        self._hold_until = self._loop.time() + seconds

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        self._server.close()
        tasks = asyncio.all_tasks(self._loop)
        for task in tasks:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_w.close()
            return
        loop = asyncio.get_running_loop()
        last = 0.0

        def forward_at() -> float:
            nonlocal last  # strictly increasing, so that chunks held by a stall keep their order
            last = max(loop.time() + self.delay_s, self._hold_until, last + 1e-6)
            return last

        async def upstream() -> None:
            while data := await client_r.read(65536):
                loop.call_at(forward_at(), server_w.write, data)  # the delay line
            loop.call_at(forward_at(), server_w.close)

        async def downstream() -> None:
            while data := await server_r.read(65536):
                client_w.write(data)
            client_w.close()

        with contextlib.suppress(OSError, ConnectionError):
            await asyncio.gather(upstream(), downstream())
