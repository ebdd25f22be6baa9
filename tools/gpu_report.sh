#!/usr/bin/env bash
# The GPU report of the models, in one run: every throughput target and speed
# lever (tools/benchmark.py), a short Runner training, a summary table.
#   bash tools/gpu_report.sh [--dry-run] [--out DIR] [--only REGEX] [--list] ...
# runs `python -m adaptformer_mm.benchmark.gpu.model_report` (see its --help;
# GPU_REPORT_* variables set its defaults), after installing the wheels in
# GPU_REPORT_WHEELS (.whl) into GPU_REPORT_SITE (/tmp/site) where the
# OpenMMLab stack does not import. PYTHON: the interpreter (python3).
cd "$(dirname "$0")/.." || exit 2
. tools/_carried_wheels.sh "${GPU_REPORT_WHEELS:-.whl}" "${GPU_REPORT_SITE:-/tmp/site}" || exit 2
exec "${PYTHON:-python3}" -m adaptformer_mm.benchmark.gpu.model_report "$@"
