"""Development tools, not installed with the package: the demo and its camera, the node
latency probe, synthetic test hands."""
