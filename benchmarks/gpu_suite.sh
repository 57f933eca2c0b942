#!/usr/bin/env bash
# The GPU benchmarks of docs/scale.md in one command, CPU and GPU side by side in each table:
#
#     CLIP_DIR=/path/to/clip-vit-large-patch14 bash benchmarks/gpu_suite.sh [cuda|cuda:N]
#
# CLIP_DIR: a local save_pretrained copy of openai/clip-vit-large-patch14 (nothing is downloaded); without it the
# features table uses efficientnet-lite0. Tables go to stdout, JSON to benchmarks/results/*-gpu.json, and the GPU
# tests run first (tests/test_gpu.py, skipped without CUDA).
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE="${1:-cuda}"
OUT=benchmarks/results
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
python -m pytest -q -p no:cacheprovider -rs tests/test_gpu.py
cd benchmarks
python bench_train.py --device "$DEVICE" --device-steps 50 --no-queue-grad-table --precision-effect --json "../$OUT/train-gpu.json"
python bench_predict.py --device "$DEVICE" --devices-only --json "../$OUT/predict-gpu.json"
python bench_retrieval.py --device "$DEVICE" --devices-only --device-queries 10000 --json "../$OUT/retrieval-gpu.json"
if [ -n "${CLIP_DIR:-}" ]; then
  python bench_features.py --device "$DEVICE" --devices-only --backbone clip-vit-l-14 --backbone-path "$CLIP_DIR" \
    --precision bf16 --images 4096 --batch-size 256 --workers "$(( $(nproc) - 2 ))" --cpu-images 16 \
    --json "../$OUT/features-gpu.json"
else
  python bench_features.py --device "$DEVICE" --devices-only --precision bf16 --images 4096 --batch-size 256 \
    --workers "$(( $(nproc) - 2 ))" --json "../$OUT/features-gpu.json"
fi
