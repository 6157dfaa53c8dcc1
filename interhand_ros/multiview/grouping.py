"""Views grouped by image stamp, live (fusion node) or offline (bag runner), with no wall clock.

The caller passes every time: each sample's stamp and its arrival time (the node's clock, or a bag's
receive time), and `poll(now)` when nothing arrives. A group is emitted when every live view has
either joined it or moved past it (its next stamp is newer than the group's window), or, partial,
once max_wait after its first sample arrived: a slow or dead camera never blocks the others. A view
is live while it delivered within view_timeout (at the start, every configured view is live for one
view_timeout, so the first groups wait for all of them as usual, up to max_wait); a sample whose
stamp lies more than max_clock_offset from its arrival time is not used (that view's clock is off,
or it is hopelessly delayed). What happened to a view is reported as ViewEvents for the node to log.
Groups come out in stamp order; a sample for a group already emitted is late and dropped.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar('Item')

# ViewEvent kinds
CLOCK_OFF, LATE, OUT_OF_ORDER, SILENT, BACK = 'clock_off', 'late', 'out_of_order', 'silent', 'back'


@dataclass(frozen=True)
class GroupingConfig:
    """Nanoseconds. tolerance: stamps this close to a group's first stamp join it (default: half
    a 30 Hz frame period)."""

    tolerance_ns: int = 16_666_667
    max_wait_ns: int = 150_000_000
    view_timeout_ns: int = 1_000_000_000
    max_clock_offset_ns: int = 2_000_000_000

    def check(self) -> None:
        for name in ('tolerance_ns', 'max_wait_ns', 'view_timeout_ns', 'max_clock_offset_ns'):
            if not getattr(self, name) > 0:
                raise ValueError(f'{name} must be > 0, got {getattr(self, name)}')


@dataclass(frozen=True)
class Group(Generic[Item]):
    """Samples of several views taken at about the same instant."""

    stamp_ns: int                 # group_stamp of its samples' stamps
    items: dict[str, Item]        # view name -> the caller's item
    stamps_ns: dict[str, int]     # view name -> that sample's stamp
    complete: bool                # every live view is in it (else emitted after max_wait)


@dataclass(frozen=True)
class ViewEvent:
    """Something the node should say about a view (kind: CLOCK_OFF, LATE, ...)."""

    view: str
    kind: str
    message: str


@dataclass
class _Pending(Generic[Item]):
    anchor_ns: int
    first_arrival_ns: int
    items: dict[str, Item] = field(default_factory=dict)
    stamps_ns: dict[str, int] = field(default_factory=dict)


def group_stamp(stamps_ns: Iterable[int]) -> int:
    """A group's stamp: the median of its samples' stamps (the lower one of an even count)."""
    ordered = sorted(stamps_ns)
    if not ordered:
        raise ValueError('a group needs at least one stamp')
    return ordered[(len(ordered) - 1) // 2]


class StampGrouper(Generic[Item]):
    """Groups samples of the configured views by stamp (not thread-safe: one owner)."""

    def __init__(self, views: Sequence[str], config: GroupingConfig = GroupingConfig()) -> None:
        config.check()
        if len(set(views)) != len(views) or not views:
            raise ValueError(f'views must be distinct names, at least one, got {list(views)}')
        self.config = config
        self.views = tuple(views)
        self._pending: list[_Pending[Item]] = []
        self._last_stamp: dict[str, int] = {}
        self._last_arrival: dict[str, int] = {}
        self._live: set[str] = set(self.views)   # never heard of: live until view_timeout
        self._started_ns: int | None = None
        self._emitted_ns: int | None = None
        self._events: list[ViewEvent] = []

    def add(self, view: str, stamp_ns: int, arrival_ns: int, item: Item) -> list[Group[Item]]:
        """Offer one sample; returns the groups it (or the time passing) completed."""
        if view not in self.views:
            raise ValueError(f'unknown view {view!r}: configured views are {list(self.views)}')
        if self._started_ns is None:
            self._started_ns = arrival_ns
        offset = arrival_ns - stamp_ns
        if abs(offset) > self.config.max_clock_offset_ns:
            where = 'behind' if offset > 0 else 'ahead of'
            self._event(view, CLOCK_OFF, f'{view}: stamp {abs(offset) / 1e9:.2f} s {where} '
                        'its arrival time: its clock is off (or it is stalled); not used')
            return self.poll(arrival_ns)
        last = self._last_stamp.get(view)
        if last is not None and stamp_ns <= last:
            self._event(view, OUT_OF_ORDER, f'{view}: stamp not newer than its previous one; '
                        'dropped')
            return self.poll(arrival_ns)
        if last is not None and view not in self._live:
            self._event(view, BACK, f'{view}: delivering again')
        self._last_stamp[view], self._last_arrival[view] = stamp_ns, arrival_ns
        self._live.add(view)
        if self._emitted_ns is not None and \
                stamp_ns <= self._emitted_ns + self.config.tolerance_ns and \
                self._nearest(view, stamp_ns) is None:
            self._event(view, LATE, f'{view}: arrived after its group was fused; dropped')
            return self.poll(arrival_ns)
        self._place(view, stamp_ns, arrival_ns, item)
        return self.poll(arrival_ns)

    def poll(self, now_ns: int) -> list[Group[Item]]:
        """Groups ready at now_ns: complete ones, and partial ones past max_wait."""
        if self._started_ns is None:
            self._started_ns = now_ns
        for view in sorted(self._live):
            if now_ns - self._last_arrival.get(view, self._started_ns) > \
                    self.config.view_timeout_ns:
                self._live.discard(view)
                self._event(view, SILENT, f'{view}: nothing for '
                            f'{self.config.view_timeout_ns / 1e9:.2f} s; fusing without it')
        ready = -1
        for index, pending in enumerate(self._pending):
            if self._covered(pending) or \
                    now_ns - pending.first_arrival_ns >= self.config.max_wait_ns:
                ready = index
        emitted, self._pending = self._pending[:ready + 1], self._pending[ready + 1:]
        groups = []
        for pending in emitted:
            self._emitted_ns = pending.anchor_ns
            groups.append(Group(group_stamp(pending.stamps_ns.values()), pending.items,
                                pending.stamps_ns, self._live <= pending.items.keys()))
        return groups

    def live_views(self) -> list[str]:
        """Views that delivered within view_timeout (as of the last add or poll)."""
        return [view for view in self.views if view in self._live]

    def take_events(self) -> list[ViewEvent]:
        """Events since the last call (oldest first)."""
        events, self._events = self._events, []
        return events

    def reset(self) -> None:
        """Forget every pending group and view (e.g. after a lifecycle cleanup)."""
        self._pending.clear()
        self._last_stamp.clear()
        self._last_arrival.clear()
        self._live = set(self.views)
        self._started_ns = None
        self._emitted_ns = None
        self._events.clear()

    def _event(self, view: str, kind: str, message: str) -> None:
        self._events.append(ViewEvent(view, kind, message))

    def _nearest(self, view: str, stamp_ns: int) -> _Pending[Item] | None:
        candidates = [p for p in self._pending if view not in p.items
                      and abs(p.anchor_ns - stamp_ns) <= self.config.tolerance_ns]
        return min(candidates, key=lambda p: abs(p.anchor_ns - stamp_ns), default=None)

    def _place(self, view: str, stamp_ns: int, arrival_ns: int, item: Item) -> None:
        pending = self._nearest(view, stamp_ns)
        if pending is None:
            pending = _Pending(stamp_ns, arrival_ns)
            self._pending.append(pending)
            self._pending.sort(key=lambda p: p.anchor_ns)
        pending.items[view] = item
        pending.stamps_ns[view] = stamp_ns

    def _covered(self, pending: _Pending[Item]) -> bool:
        """Every live view is in the group or has moved past its window."""
        limit = pending.anchor_ns + self.config.tolerance_ns
        return all(view in pending.items or self._last_stamp.get(view, limit) > limit
                   for view in self._live)
