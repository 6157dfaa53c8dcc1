"""MediaPipe hand detector and the landmark fallback estimator (no InterNet checkpoint)."""
