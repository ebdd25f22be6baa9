#!/usr/bin/env bash
# The GPU report of the data path, in one run: clips/s of each data path
# (tools/benchmark_data.py), GPU decoding probed and compared with decord.
#   bash tools/gpu_data_report.sh [--dry-run] [--out DIR] [--workers N ...] ...
# runs `python -m adaptformer_mm.benchmark.gpu.data_report` (see its --help;
# GPU_DATA_REPORT_* variables set its defaults), after installing the wheels
# in GPU_DATA_REPORT_WHEELS (.whl) into GPU_DATA_REPORT_SITE (/tmp/site) where
# the OpenMMLab stack does not import. PYTHON: the interpreter (python3).
cd "$(dirname "$0")/.." || exit 2
. tools/_carried_wheels.sh "${GPU_DATA_REPORT_WHEELS:-.whl}" "${GPU_DATA_REPORT_SITE:-/tmp/site}" || exit 2
exec "${PYTHON:-python3}" -m adaptformer_mm.benchmark.gpu.data_report "$@"
