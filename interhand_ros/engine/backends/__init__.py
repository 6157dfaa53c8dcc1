"""Backends: the ways to run InterNet (torch, OpenVINO, ONNX Runtime), one module each.

A backend is found by name in registry.BACKENDS (one line each), so the node's `backend`
parameter, interhand-run, interhand-quantize and the benchmark offer whatever is registered and
nothing else has to change when one is added. base.py holds what every backend module provides
and returns; compiled.py what the compiled (model-cache) backends share. Nothing here imports a
backend's library until that backend is asked for.
"""
