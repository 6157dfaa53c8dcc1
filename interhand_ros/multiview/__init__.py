"""Multi-view fusion: several calibrated cameras' two-hand estimates -> one pair of hands in a
world frame (numpy, OpenCV, scipy; no rclpy, no torch). Used by the fusion node and by
interhand-run alike.

Stable API:

- ``ViewObservation(name, stamp_ns, camera, world_from_camera, estimate)`` (frozen; checked
  when built, ObservationError): name the view namespace ('/cam1'); camera a
  geometry.camera.CameraModel from the view's CameraInfo (raw: K and D); world_from_camera a
  4 x 4 rigid transform, metres, optical frame -> world; estimate the view's own unfiltered
  TwoHandEstimate (pixels: distorted pixels of the original image; joints: its own 3D in its
  optical frame).
- ``MultiViewFuser(FusionConfig()).fuse(views) -> FusionResult``; ``.reset()`` forgets the
  session (bone lengths, last wrists). FusionError: no views, a name twice.
- ``FusionResult``: ``estimate`` (TwoHandEstimate in the world frame: pixels NaN, roi empty,
  depth_source DepthSource.TRIANGULATED for a triangulated hand, the view's own source for a
  single-view hand), ``stamp_ns`` (grouping.group_stamp of the views), ``views_used``,
  ``reprojection_error_px`` (view -> px), ``rejected`` (view -> reason), ``swapped`` (views),
  ``sources`` (side -> HandSource(kind TRIANGULATED / SINGLE_VIEW / NOT_SEEN, views)),
  ``problems`` (view -> what was not used and why: NaN pixels, pixels outside its image,
  views that disagree by more than max_reprojection_px, whose hand then falls back to one
  view's own 3D).
- ``StampGrouper(views, GroupingConfig(tolerance_ns, max_wait_ns, view_timeout_ns,
  max_clock_offset_ns))``: ``add(view, stamp_ns, arrival_ns, item) -> [Group]``,
  ``poll(now_ns) -> [Group]``, ``take_events() -> [ViewEvent(view, kind, message)]``,
  ``live_views()``, ``reset()``. ``Group(stamp_ns, items, stamps_ns, complete)``.
- ``DisagreementTracker`` (health.py): ``update(result.reprojection_error_px)`` -> view ->
  the recalibration warning, for a view consistently off while the others agree.
"""
