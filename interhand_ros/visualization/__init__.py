"""Drawing the estimate: 2D overlay, RViz markers and a 3D plot."""
