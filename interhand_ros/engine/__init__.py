"""InterNet and its runtimes: the network (model), checkpoint loading, decoding of its heatmaps
and the estimator that runs it on images (internet). Nothing here imports rclpy."""
