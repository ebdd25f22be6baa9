"""Measuring a recognizer and its data path.

* :mod:`.input_shape`: the clip or image shape a config trains on;
* :mod:`.measure`: devices, peak memory, FLOPs and timing;
* :mod:`.model`: one recognizer's training step and inference
  (``tools/benchmark.py``);
* :mod:`.data`: the data path, decode to batch (``tools/benchmark_data.py``);
* :mod:`.gpu`: the GPU reports, every measurement of the models or of the
  data path in one run within a time budget (``tools/gpu_report.sh``,
  ``tools/gpu_data_report.sh``).

Not imported by ``adaptformer_mm/__init__.py``: building a model from a
config does not pay for the benchmarks.
"""
