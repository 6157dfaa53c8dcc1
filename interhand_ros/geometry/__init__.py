"""Pure geometry (no ROS, no torch): pinhole camera, boxes, crop transform, root depth,
hand scale and the MANO wrist frame."""
