"""One-slot mailbox and the inference worker thread that drains it.

Callbacks put each new frame into the mailbox, replacing the one waiting there: the worker
always takes the newest frame, so published poses lag by about one inference time however fast
the camera is (no queue of stale frames builds up). Stopping wakes a waiting worker at once and
waits for a frame in the estimator to finish (an inference cannot be interrupted).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar('T')


class LatestMailbox(Generic[T]):
    """Holds at most one item; put() replaces and returns the item nobody took."""

    def __init__(self) -> None:
        self._item: T | None = None
        self._closed = False
        self._ready = threading.Condition()

    def put(self, item: T) -> T | None:
        with self._ready:
            replaced, self._item = self._item, item
            self._ready.notify()
            return replaced

    def take(self, timeout: float | None = None) -> T | None:
        """The waiting item (emptying the slot), or None after timeout / when closed."""
        with self._ready:
            self._ready.wait_for(lambda: self._item is not None or self._closed, timeout)
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()


class Worker(Generic[T]):
    """Thread running handle(item) for each item taken from a mailbox until stopped.

    An exception from handle goes to on_error and the loop continues with the next frame.
    """

    def __init__(self, mailbox: LatestMailbox[T], handle: Callable[[T], None],
                 on_error: Callable[[BaseException], None], name: str = 'inference') -> None:
        self._mailbox = mailbox
        self._handle = handle
        self._on_error = on_error
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.busy = False  # handling an item (read by the node when it stops)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """No new item; wait up to `timeout` s for the one being handled."""
        self._stopping.set()
        self._mailbox.close()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            item = self._mailbox.take(timeout=0.5)
            if item is None:
                continue
            self.busy = True
            try:
                self._handle(item)
            except Exception as error:  # noqa: BLE001 - one bad frame must not stop the node
                self._on_error(error)
            finally:
                self.busy = False
