"""InterNet and its runtimes: the network (model), checkpoint loading, decoding of its heatmaps,
the backends that execute it (backends/) and the estimator that applies it to images
(estimator). Nothing here imports rclpy."""
