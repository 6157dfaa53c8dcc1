"""Per-frame processing shared by the node, interhand-run and interhand-quantize: the
estimator factory, the roi source, stamp pairing and the frame chain (no rclpy)."""
