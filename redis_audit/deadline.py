"""A deadline that is a wall: past it, no socket of the audit stays open, whatever the server does.

One `Deadline` belongs to one audit (or one census, one probe): several audits in one process each
have their own. A socket timeout bounds one `recv`, so a server that sends a byte a second never
trips it; the deadline bounds the whole. Every socket the engine opens is *watched* by its deadline
(`watch`, with a duplicate of the socket's descriptor, so the watcher never races the owner's
close): when the deadline passes, a watchdog thread shuts every watched socket down, and a read
blocked in any thread (a drip, a TLS handshake that never completes) returns at once. A watch can
also be *armed* with a budget of its own (one handshake, one reply): the watchdog shuts the socket
when that budget is spent, too. The owner then raises what the watch says (`Watch.failure`).
"""

from __future__ import annotations

import contextlib
import math
import socket
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from redis.exceptions import TimeoutError as RedisTimeoutError

if TYPE_CHECKING:
    from redis_audit.client import Timeouts

# How often the watchdog looks at armed budgets: a budget is enforced within this much.
TICK_S = 0.05


class DeadlineExceeded(RedisTimeoutError):
    """The deadline passed before or during this step (a timeout: the step did not finish in time)."""


class BudgetExceeded(RedisTimeoutError):
    """One armed operation (a handshake, a reply) did not finish within its own budget."""


class Watch:
    """One watched socket. `arm` and `disarm` are plain attribute writes: cheap enough for a hot path."""

    __slots__ = ("_deadline", "_dup", "by_deadline", "reason", "tripped", "until", "what")

    def __init__(self, deadline: Deadline, dup: socket.socket | None, what: str) -> None:
        self._deadline = deadline
        self._dup = dup
        self.what = what
        self.until: float | None = None  # monotonic end of the armed operation's budget
        self.reason = ""  # what the armed operation is, for the message when it overruns
        self.tripped: str | None = None  # why the socket was shut down (None: it was not)
        self.by_deadline = False

    def arm(self, seconds: float, reason: str) -> None:
        self.reason = reason
        self.until = time.monotonic() + seconds
        deadline = self._deadline
        if deadline._idle:  # the watchdog sleeps until the deadline: it has a budget to poll now
            deadline._idle = False
            deadline._wake.set()

    def disarm(self) -> None:
        self.until = None

    def failure(self) -> Exception | None:
        """The exception the owner raises once the watchdog shut its socket (None: it did not)."""
        if self.tripped is None:
            return None
        return DeadlineExceeded(self.tripped) if self.by_deadline else BudgetExceeded(self.tripped)

    def trip(self, reason: str, by_deadline: bool) -> None:
        if self.tripped is not None:
            return
        self.tripped, self.by_deadline = reason, by_deadline
        if self._dup is not None:
            with contextlib.suppress(OSError):
                self._dup.shutdown(socket.SHUT_RDWR)

    def release(self) -> None:
        self._deadline._release(self)

    def _close(self) -> None:
        dup, self._dup = self._dup, None
        if dup is not None:
            with contextlib.suppress(OSError):
                dup.close()


class Deadline:
    """A point in monotonic time after which no network call starts, and every watched socket is shut."""

    def __init__(self, at: float, seconds: float | None = None, name: str = "run") -> None:
        self.at = at
        self.seconds = seconds if seconds is not None else max(0.0, at - time.monotonic())
        self.name = name  # "run", "census", "probe"...: said in the message at expiry
        self._lock = threading.Lock()
        self._watches: set[Watch] = set()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._idle = False  # the watchdog sleeps until the deadline (no armed budget to poll)

    @classmethod
    def after(cls, seconds: float, name: str = "run") -> Deadline:
        return cls(time.monotonic() + seconds, seconds, name)

    @classmethod
    def none(cls, name: str = "run") -> Deadline:
        """No deadline (armed budgets are still enforced)."""
        return cls(math.inf, math.inf, name)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def expired(self) -> bool:
        return time.monotonic() >= self.at

    def message(self, doing: str = "") -> str:
        what = f"the {self.name}'s deadline of {self.seconds:g} s expired"
        return f"{what} during {doing}" if doing else what

    def check(self, doing: str = "") -> None:
        """Raise DeadlineExceeded when the deadline has passed."""
        if self.expired():
            raise DeadlineExceeded(self.message(doing))

    def timeouts(self, base: Timeouts) -> Timeouts:
        """The base timeouts, shortened so that no call outlives the deadline."""
        from redis_audit.client import Timeouts

        left = self.remaining()
        if left <= 0:
            raise DeadlineExceeded(self.message())
        return Timeouts(min(base.connect_s, left), min(base.command_s, left))

    # -- watched sockets ---------------------------------------------------------------------------
    def watch(self, sock: socket.socket, what: str) -> Watch:
        """Watch a socket until `release`: shut down at the deadline, or when an armed budget is spent."""
        try:
            dup: socket.socket | None = socket.fromfd(sock.fileno(), sock.family, sock.type)
        except (OSError, ValueError):
            dup = None  # already closed: nothing to shut down
        watch = Watch(self, dup, what)
        with self._lock:
            if self._closed or self.expired():
                watch.trip(self.message(what), by_deadline=True)
                watch._close()
                return watch
            self._watches.add(watch)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watchdog, name=f"deadline-{self.name}", daemon=True)
                self._thread.start()
        return watch

    @contextlib.contextmanager
    def guard(self, sock: socket.socket, seconds: float, what: str) -> Iterator[Watch]:
        """Watch `sock` with a budget of `seconds` for `what` (a TLS handshake) for the block's duration."""
        watch = self.watch(sock, what)
        watch.arm(min(seconds, max(0.0, self.remaining())), f"{what} did not complete within {seconds:g} s")
        try:
            yield watch
        finally:
            watch.release()

    def close(self) -> None:
        """The audit is over: shut what is still watched (a stuck thread's socket) and stop the watchdog."""
        self._shut_all()
        self._wake.set()

    def _shut_all(self) -> None:
        with self._lock:
            self._closed = True
            watches, self._watches = list(self._watches), set()
        for watch in watches:
            watch.trip(self.message(watch.what), by_deadline=True)
            watch._close()

    def _release(self, watch: Watch) -> None:
        with self._lock:
            self._watches.discard(watch)
        watch._close()

    def _watchdog(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                watches = list(self._watches)
            now = time.monotonic()
            if now >= self.at:
                self._shut_all()
                return
            # Idle unless a budget is armed: arming after this line wakes the watchdog (Watch.arm).
            self._idle = True
            armed = False
            for watch in watches:
                until = watch.until
                if until is not None:
                    armed = True
                    if now >= until:
                        watch.trip(watch.reason, by_deadline=False)
            if armed:
                self._idle = False
            # Armed budgets are polled (arming costs no wake-up once polled); otherwise sleep until the deadline.
            self._wake.wait(min(self.at - now, TICK_S if armed else 3600.0))
            self._wake.clear()


@contextlib.contextmanager
def handshake_guard(sock: socket.socket, seconds: float, reason: str, deadline: Deadline | None) -> Iterator[None]:
    """A TLS handshake on `sock` within `seconds` in all, and within the deadline (a per-recv timeout
    never trips on a handshake sent a byte at a time). A cut handshake raises the budget's exception."""
    wall = deadline if deadline is not None else Deadline.none("handshake")
    try:
        with wall.guard(sock, seconds, reason) as watch:
            try:
                yield
            except Exception as exc:  # OSError, ssl.SSLError, or redis-py's ConnectionError around them
                failure = watch.failure()
                if failure is None:
                    raise
                raise failure from exc
    finally:
        if deadline is None:
            wall.close()
