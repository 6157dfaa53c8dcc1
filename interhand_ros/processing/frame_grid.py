"""Which camera frames a hands node estimates: the first of each slot of a stamp grid that
every camera of a rig shares.

Why: a node slower than its camera takes whichever frame is newest when it gets free, so the
nodes of a multi-camera rig estimate different instants and the fusion node has nothing to
triangulate (docs/fusion.md). Here time is cut into slots of base_period_s * 2**level anchored
at stamp 0, so every node with synchronised camera clocks cuts it alike; a node estimates the
first frame of each slot, and its level is the lowest whose slot is at least its busy time per
frame (slots widen in powers of two while the node is slower than its camera). A slot of one
level is exactly two of the level below, so nodes at different levels still estimate the same
frames at the coarser one's slot starts. A frame belongs to the base tick nearest its stamp:
cameras that stamp on the tick grid (synchronised cameras stamping the trigger) lie half a
tick from any slot boundary, so a little stamp jitter does not move a frame to another slot.
base_period_s = 0 turns the grid off: every frame is taken, the newest wins. No rclpy: the
node's mailbox (ros/mailbox.py) asks it.
"""
from __future__ import annotations

import math

MAX_LEVEL = 4  # widest slot: 16 base periods (0.53 s for a 30 Hz camera), under the fusion
#               node's default view_timeout (1 s), so a slow view is never taken for silent
SMOOTHING = 0.2  # weight of the newest busy time in its moving average
HYSTERESIS = 0.25  # a level is left downwards only when the busy time fits the lower level
#                    with this margin, so a busy time near a slot width does not flap


class FrameGrid:
    """The frame decision of one node: admits() on each new frame, took() when the node takes
    one, busy() with the time it spent on it. Not thread-safe: the mailbox's lock guards it."""

    def __init__(self, base_period_s: float, max_level: int = MAX_LEVEL) -> None:
        if not (math.isfinite(base_period_s) and base_period_s >= 0.0):
            raise ValueError(f'base period must be >= 0 s, got {base_period_s}')
        self.base = base_period_s
        self.max_level = max_level
        self.level = 0
        self.busy_s = math.nan  # moving average of the node's busy time per frame
        self._taken: int | None = None  # base tick of the last frame taken
        self._newest = -math.inf  # newest stamp offered

    @property
    def enabled(self) -> bool:
        return self.base > 0.0

    @property
    def width(self) -> float:
        """s, the current slot width (0 when off)."""
        return self.base * 2 ** self.level

    def slot(self, stamp: float) -> int:
        return self._tick(stamp) >> self.level

    def admits(self, stamp: float, waiting: float | None) -> bool:
        """Whether a frame stamped `stamp` replaces the frame waiting to be taken (stamped
        `waiting`; None: none waits). True when off; otherwise only the first frame of a slot
        later than the last one taken and than the waiting frame's. A stamp older than one
        offered before (looped bag, restarted camera) starts the grid again."""
        if not self.enabled:
            return True
        if stamp < self._newest:
            self._taken, self._newest = None, stamp
            return True
        self._newest = stamp
        slot = self.slot(stamp)
        if self._taken is not None and slot <= self._taken >> self.level:
            return False
        return waiting is None or self.slot(waiting) < slot

    def took(self, stamp: float) -> None:
        if self.enabled:
            self._taken = self._tick(stamp)

    def busy(self, seconds: float) -> None:
        """The node spent `seconds` on a frame: update the average and, past the hysteresis,
        the level."""
        if not self.enabled:
            return
        self.busy_s = seconds if math.isnan(self.busy_s) else (
            self.busy_s + SMOOTHING * (seconds - self.busy_s))
        up, down = self._level_for(self.busy_s), self._level_for(self.busy_s * (1 + HYSTERESIS))
        if up > self.level:
            self.level = up
        elif down < self.level:
            self.level = down

    def _tick(self, stamp: float) -> int:
        return math.floor(stamp / self.base + 0.5)

    def _level_for(self, seconds: float) -> int:
        """The lowest level whose slot is at least `seconds` long (at most max_level)."""
        level = 0
        while level < self.max_level and self.base * 2 ** level < seconds:
            level += 1
        return level
