"""Work on daemon threads, for the engine's pools (collection, census).

concurrent.futures' threads are not daemons, and the interpreter joins them at exit: one worker
stuck on a hostile server would keep the process alive after the report. These can be abandoned at
a deadline; the Deadline shuts their sockets, so they end soon after anyway.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def run_on_daemons(jobs: int, job: Callable[[int], T], threads: int,
                   name: str) -> queue.SimpleQueue[tuple[int, T | Exception]]:
    """Run job(0..jobs-1) on up to `threads` daemon threads; each outcome (a result or the exception
    it raised) arrives on the returned queue as (index, outcome), in the order they finish."""
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(jobs):
        todo.put(index)
    done: queue.SimpleQueue[tuple[int, T | Exception]] = queue.SimpleQueue()

    def work() -> None:
        while True:
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            try:
                done.put((index, job(index)))
            except Exception as exc:
                done.put((index, exc))

    for number in range(min(threads, jobs)):
        threading.Thread(target=work, name=f"{name}-{number}", daemon=True).start()
    return done
