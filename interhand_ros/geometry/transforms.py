"""Rigid transforms and a small transform buffer: what the fusion node needs of tf2, without ROS.

tf2_ros is not on PyPI, so the fusion node keeps its own buffer of the /tf_static and /tf
transforms it hears (ros/tf_listener.py feeds it) and asks it for world <- camera at a view's
stamp. Frames form a tree (each child has one parent, as in tf2); a lookup composes the chain
through the frames' common ancestor. Static transforms hold at every time; a dynamic one is
taken at the stored stamp nearest to the one asked for, within a tolerance (tf2 interpolates;
cameras on a rig move slowly or not at all, so the nearest sample is enough here).
Matrices are 4 x 4 homogeneous, `a_from_b` maps points in frame b to frame a; quaternions are
(x, y, z, w) as in geometry_msgs. add_message takes any tf2_msgs/TFMessage-like object (rclpy's
live, rosbags' from a bag): attribute access only.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import transforms3d.quaternions as quaternions
from numpy.typing import ArrayLike

from interhand_ros.stamps import stamp_to_ns

MAX_CHAIN = 32  # frames walked up from a frame before the tree is declared cyclic


class TransformError(LookupError):
    """No transform between two frames at a stamp; the message says which link is missing."""


def matrix_from(translation: ArrayLike, quaternion_xyzw: ArrayLike) -> np.ndarray:
    """4 x 4 from a translation (m) and a unit quaternion (x, y, z, w); ValueError if it is not
    finite or not (close to) unit length: a malformed transform must not become a rotation."""
    t = np.asarray(translation, dtype=np.float64)
    x, y, z, w = (float(c) for c in np.asarray(quaternion_xyzw, dtype=np.float64))
    q = np.array([w, x, y, z])
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(q))):
        raise ValueError(f'transform is not finite: translation {t}, rotation {q}')
    norm = float(np.linalg.norm(q))
    if abs(norm - 1.0) > 1e-3:
        raise ValueError(f'rotation quaternion has length {norm:.4g}, not 1')
    matrix = np.eye(4)
    matrix[:3, :3] = quaternions.quat2mat(q / norm)
    matrix[:3, 3] = t
    return matrix


def invert(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a rigid 4 x 4 (transpose of the rotation, no general inverse)."""
    inverse = np.eye(4)
    rotation = matrix[:3, :3].T
    inverse[:3, :3] = rotation
    inverse[:3, 3] = -rotation @ matrix[:3, 3]
    return inverse


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 3) points mapped by a 4 x 4 (NaN rows stay NaN)."""
    return np.asarray(points, dtype=np.float64) @ matrix[:3, :3].T + matrix[:3, 3]


@dataclass
class _Link:
    """parent <- child: one matrix (static), or matrices by stamp (dynamic)."""

    parent: str
    static: np.ndarray | None = None
    stamps: list[int] = field(default_factory=list)
    matrices: list[np.ndarray] = field(default_factory=list)


class TransformBuffer:
    """parent_from_child transforms by child frame; lookups compose a chain at a stamp.

    history_ns: dynamic samples older than this behind the newest one of their link are
    dropped (memory stays bounded). A frame set static and later dynamic (or the reverse) takes
    the newest kind, as tf2 does for a re-published frame.
    """

    def __init__(self, history_ns: int = 10_000_000_000) -> None:
        self.history_ns = history_ns
        self._links: dict[str, _Link] = {}

    def frames(self) -> set[str]:
        """Every frame named by a stored transform."""
        return set(self._links) | {link.parent for link in self._links.values()}

    def set_transform(self, parent: str, child: str, stamp_ns: int, matrix: np.ndarray,
                      static: bool) -> None:
        """Store parent_from_child (a 4 x 4) heard at stamp_ns."""
        if not parent or not child or parent == child:
            raise ValueError(f'transform needs two different frame ids, got {parent!r} -> '
                             f'{child!r}')
        link = self._links.get(child)
        if link is None or link.parent != parent or (link.static is not None) != static:
            link = self._links[child] = _Link(parent)
        if static:
            link.static = matrix
            return
        index = bisect.bisect_left(link.stamps, stamp_ns)
        if index < len(link.stamps) and link.stamps[index] == stamp_ns:
            link.matrices[index] = matrix
        else:
            link.stamps.insert(index, stamp_ns)
            link.matrices.insert(index, matrix)
        old = bisect.bisect_left(link.stamps, link.stamps[-1] - self.history_ns)
        del link.stamps[:old], link.matrices[:old]

    def add_message(self, msg: Any, static: bool) -> list[str]:
        """Every transform of a TFMessage (leading '/' of frame ids dropped, as tf2 does);
        returns why each malformed one was refused (the others are stored)."""
        problems = []
        for transform in msg.transforms:
            parent = transform.header.frame_id.lstrip('/')
            child = transform.child_frame_id.lstrip('/')
            t, r = transform.transform.translation, transform.transform.rotation
            try:
                self.set_transform(parent, child, stamp_to_ns(transform.header.stamp),
                                   matrix_from((t.x, t.y, t.z), (r.x, r.y, r.z, r.w)), static)
            except ValueError as error:
                problems.append(f"{'/tf_static' if static else '/tf'} {parent!r} <- {child!r} "
                                f'refused: {error}')
        return problems

    def lookup(self, target: str, source: str, stamp_ns: int,
               tolerance_ns: int) -> np.ndarray:
        """target_from_source at stamp_ns; TransformError naming the missing link otherwise."""
        if target == source:
            return np.eye(4)
        up_source = self._chain(source)
        up_target = self._chain(target)
        common = next((frame for frame in up_source if frame in up_target), None)
        if common is None:
            known = ', '.join(sorted(self.frames())) or 'none'
            missing = [frame for frame in (target, source) if frame not in self.frames()]
            why = (f"frame {' and '.join(repr(f) for f in missing)} never heard" if missing
                   else 'the frames are in trees that are not connected')
            raise TransformError(f'no transform from {source!r} to {target!r}: {why} '
                                 f'(frames: {known})')
        root_from_source = self._to_ancestor(up_source, common, stamp_ns, tolerance_ns)
        root_from_target = self._to_ancestor(up_target, common, stamp_ns, tolerance_ns)
        return invert(root_from_target) @ root_from_source

    def _chain(self, frame: str) -> list[str]:
        """frame, its parent, grandparent, ... up to the root."""
        chain = [frame]
        while chain[-1] in self._links:
            chain.append(self._links[chain[-1]].parent)
            if len(chain) > MAX_CHAIN:
                raise TransformError(f'transform tree above {frame!r} is cyclic or deeper '
                                     f'than {MAX_CHAIN}: {" <- ".join(chain[:5])} ...')
        return chain

    def _to_ancestor(self, chain: list[str], ancestor: str, stamp_ns: int,
                     tolerance_ns: int) -> np.ndarray:
        """ancestor_from_chain[0], composed link by link at stamp_ns."""
        result = np.eye(4)
        for child in chain[:chain.index(ancestor)]:
            result = self._link_matrix(child, stamp_ns, tolerance_ns) @ result
        return result

    def _link_matrix(self, child: str, stamp_ns: int, tolerance_ns: int) -> np.ndarray:
        link = self._links[child]
        if link.static is not None:
            return link.static
        index = bisect.bisect_left(link.stamps, stamp_ns)
        nearby = [i for i in (index - 1, index) if 0 <= i < len(link.stamps)]
        best = min(nearby, key=lambda i: abs(link.stamps[i] - stamp_ns))
        offset = link.stamps[best] - stamp_ns
        if abs(offset) > tolerance_ns:
            raise TransformError(
                f'transform {link.parent!r} <- {child!r} (/tf) has no sample within '
                f'{tolerance_ns * 1e-6:.0f} ms of the stamp: nearest {offset * 1e-6:+.0f} ms')
        return link.matrices[best]
