"""`interhand-run`: the node's estimator offline on videos, image folders and ROS 2 bags.

inputs.py (what a path is; video and folder frames), bag.py (bags in and out, paired with the
node's ros/sync.py), outputs.py (JSONL / CSV / annotated images, staged until the run is done),
cli.py (the flags, the factory-built estimator, and run() composing the parts).
"""
