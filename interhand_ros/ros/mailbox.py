"""One-slot mailbox and the worker threads that drain it.

Callbacks put each new frame into the mailbox, replacing the one waiting there: the worker
always takes the newest frame, so published poses lag by about one inference time however fast
the camera is (no queue of stale frames builds up). With a stamp grid (processing/frame_grid.py,
for multi-camera rigs) the mailbox keeps the first frame of the newest slot not taken yet
instead and skips the rest; the worker tells the grid how long each frame kept it busy. The
worker is two threads: the inference thread handles a frame up to its network result, and what
is left (the teleop stage, building and publishing the messages) runs on an output thread in
the same order while the inference thread already takes the next frame, so the network runs
back to back. Stopping wakes a waiting worker at once, waits for a frame in the estimator to
finish (an inference cannot be interrupted) and publishes what was handled.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from interhand_ros.processing.frame_grid import FrameGrid

T = TypeVar('T')
Finish = Callable[[], None]  # the rest of an item's work, run on the output thread


class LatestMailbox(Generic[T]):
    """Holds at most one item; put() replaces and returns the item nobody took.

    With an enabled grid (and `stamp`, an item's stamp in s), put() lets in only the items the
    grid admits; the others are counted in `skipped` (passed over on purpose, not lost).
    """

    def __init__(self, grid: FrameGrid | None = None,
                 stamp: Callable[[T], float] | None = None) -> None:
        self._item: T | None = None
        self._closed = False
        self._ready = threading.Condition()
        self._grid = grid if grid is not None and grid.enabled else None
        if self._grid is not None and stamp is None:
            raise ValueError('a mailbox on a stamp grid needs the items\' stamps')
        self._stamp = stamp
        self.skipped = 0

    @property
    def slot_width(self) -> float:
        """s, the grid's current slot width (0: no grid, the newest item wins)."""
        return 0.0 if self._grid is None else self._grid.width

    def put(self, item: T) -> T | None:
        with self._ready:
            if self._grid is not None and self._stamp is not None:
                waiting = None if self._item is None else self._stamp(self._item)
                if not self._grid.admits(self._stamp(item), waiting):
                    self.skipped += 1
                    return None
            replaced, self._item = self._item, item
            self._ready.notify()
            return replaced

    def take(self, timeout: float | None = None) -> T | None:
        """The waiting item (emptying the slot), or None after timeout / when closed."""
        with self._ready:
            self._ready.wait_for(lambda: self._item is not None or self._closed, timeout)
            item, self._item = self._item, None
            if item is not None and self._grid is not None and self._stamp is not None:
                self._grid.took(self._stamp(item))
            return item

    def handled(self, seconds: float) -> None:
        """The worker was busy `seconds` with the item it took (the grid's level follows)."""
        if self._grid is not None:
            with self._ready:
                self._grid.busy(seconds)

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()


class Worker(Generic[T]):
    """Runs handle(item) for each item taken from a mailbox on one thread until stopped; what
    handle returns (if not None) runs on a second thread, in the order handled.

    An exception from either goes to on_error and the loop continues with the next frame. One
    finished item may wait for the output thread: a slower output thread holds the inference
    thread back instead of queueing frames.
    """

    def __init__(self, mailbox: LatestMailbox[T], handle: Callable[[T], Finish | None],
                 on_error: Callable[[BaseException], None], name: str = 'inference') -> None:
        self._mailbox = mailbox
        self._handle = handle
        self._on_error = on_error
        self._stopping = threading.Event()
        self._finishing: queue.Queue[Finish | None] = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._output = threading.Thread(target=self._finish, name=f'{name}-output', daemon=True)
        self._handling = self._publishing = False

    @property
    def busy(self) -> bool:
        """Handling or finishing an item (read by the node when it stops)."""
        return self._handling or self._publishing or not self._finishing.empty()

    def start(self) -> None:
        self._output.start()
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """No new item; wait up to `timeout` s for the one being handled and its finish."""
        deadline = time.monotonic() + timeout
        self._stopping.set()
        self._mailbox.close()
        self._thread.join(timeout)
        try:  # after the last finish; a hung output thread is left (daemon) at the deadline
            self._finishing.put(None, timeout=max(0.0, deadline - time.monotonic()))
        except queue.Full:
            return
        self._output.join(max(0.0, deadline - time.monotonic()))

    def _run(self) -> None:
        while not self._stopping.is_set():
            item = self._mailbox.take(timeout=0.5)
            if item is None:
                continue
            self._handling = True
            start = time.monotonic()
            try:
                finish = self._handle(item)
                if finish is not None:  # waits while the output thread is behind: busy too
                    self._finishing.put(finish)
            except Exception as error:  # noqa: BLE001 - one bad frame must not stop the node
                self._on_error(error)
            finally:
                self._handling = False
                self._mailbox.handled(time.monotonic() - start)

    def _finish(self) -> None:
        while (finish := self._finishing.get()) is not None:
            self._publishing = True
            try:
                finish()
            except Exception as error:  # noqa: BLE001 - one bad frame must not stop the node
                self._on_error(error)
            finally:
                self._publishing = False
