# The README's two commands: `make demo` (main job end to end) and `make test`.
# Both set the venv up first (a no-op when it is already up to date). Works with `make -C`/`-f`.
# make demo CHECKPOINT=/path/to/snapshot_20.pth.tar ARGS="--input video.mp4"
ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
VENV ?= $(ROOT)/.venv
PY := $(abspath $(VENV))/bin/python
export VENV

.PHONY: setup lint test demo train-smoke bench bench-gpu bench-depth bench-multiview \
	bench-calibration bench-fusion
setup:
	bash "$(ROOT)/scripts/setup_venv.sh"

# Static checks (configs: ruff.toml, mypy.ini) on the whole tree; `make test` runs them first.
lint: setup
	cd "$(ROOT)" && "$(PY)" -m ruff check . && "$(PY)" -m mypy && "$(abspath $(VENV))/bin/lint-imports"

test: lint
	cd "$(ROOT)" && "$(PY)" -m pytest -q -rs test

demo: setup
	cd "$(ROOT)" && "$(PY)" -m tools.demo $(ARGS)

# Training pipeline end to end on a generated synthetic InterHand2.6M (no dataset needed).
train-smoke: setup
	cd "$(ROOT)" && "$(PY)" -m training.smoke --out out/smoke

# Engine speed on this machine (forward, full pipeline, memory, GFLOP/s).
bench: setup
	cd "$(ROOT)" && "$(PY)" -m benchmarks.bench $(ARGS)

# The CUDA path on a GPU machine (torch fp32/fp16/bf16, CUDA graphs, TensorRT where installed).
bench-gpu: setup
	cd "$(ROOT)" && "$(PY)" -m benchmarks.gpu_bench $(ARGS)

# Metric accuracy per depth source on synthetic RGB-D scenes (numpy, about 15 s; issue 17).
bench-depth: setup
	cd "$(ROOT)" && "$(PY)" benchmarks/depth_accuracy.py $(ARGS)

# Two cameras, two int8 hands nodes and the fusion node as deployed, beside one camera (issue 21).
bench-fusion: setup
	cd "$(ROOT)" && "$(PY)" -m benchmarks.fusion_bench $(ARGS)

# Multi-view fusion accuracy (2-4 cameras, bad views, swapped labels, sync and extrinsic errors)
# and fusion time per group, on synthetic multi-camera scenes (numpy; issue 21).
bench-multiview: setup
	cd "$(ROOT)" && "$(PY)" -m benchmarks.multiview_accuracy $(ARGS)

# Calibration accuracy: ChArUco views rendered from 2-4 known cameras through interhand-calibrate's
# solver (focal length, camera-to-camera translation and rotation; issue 22; a few minutes).
bench-calibration: setup
	cd "$(ROOT)" && "$(PY)" -m benchmarks.calibration_accuracy $(ARGS)
