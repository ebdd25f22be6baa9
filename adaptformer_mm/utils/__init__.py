"""Tooling helpers that are not part of a model.

* :mod:`.pipeline`: reading pipeline configs (``step_name``), shared by the
  datasets and the benchmarks;
* :mod:`.input_shape`: the clip shape a config trains on;
* :mod:`.measure`: devices, peak memory, FLOPs and timing;
* :mod:`.benchmark`: one recognizer's training step and inference
  (``tools/benchmark.py``); :mod:`.data_benchmark`: the data path
  (``tools/benchmark_data.py``);
* :mod:`.prepare_videos`: the offline ffmpeg re-encoder
  (``tools/prepare_videos.py``; training reads its output through the
  ordinary datasets);
* :mod:`.cli`: the command line the converter tools share and the one the
  two benchmark tools share;
* :mod:`.comparison`: the built-in comparison's bookkeeping
  (``tools/run_demo.py``).

Not imported by ``adaptformer_mm/__init__.py``: importing the package for a
config must not pay for tools it does not run.
"""
