"""Offline training and evaluation of InterNet on InterHand2.6M (no ROS imports).

Entry points: `python -m training.train`, `python -m training.evaluate`,
`python -m training.synthetic`. See docs/training.md.
"""
