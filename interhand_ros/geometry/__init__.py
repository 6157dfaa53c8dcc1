"""Pure geometry: pinhole camera, crop transform, root depth, wrist orientation (no ROS)."""
