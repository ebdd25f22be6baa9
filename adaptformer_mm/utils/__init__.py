"""Tooling helpers that are not part of a model.

* :mod:`.pipeline`: reading pipeline and dataset configs (``step_name``,
  ``innermost_dataset_cfg``), shared by the datasets, the benchmarks and the
  feature cache;
* :mod:`.input_shape`: the clip shape a config trains on;
* :mod:`.measure`: devices, peak memory, FLOPs and timing;
* :mod:`.benchmark`: one recognizer's training step and inference
  (``tools/benchmark.py``); :mod:`.data_benchmark`: the data path
  (``tools/benchmark_data.py``);
* :mod:`.prepare_videos`: the offline ffmpeg re-encoder
  (``tools/prepare_videos.py``; training reads its output through the
  ordinary datasets);
* :mod:`.cli`: the command-line pieces the tools share;
* :mod:`.plotting`: matplotlib without a display, for the comparison's
  figures (:mod:`adaptformer_mm.experiments.report`) and the t-SNE
  pictures;
* :mod:`.features`: cached backbone features and probes on them
  (``tools/extract_features.py``); :mod:`.tsne`: their t-SNE pictures
  (``tools/analysis/tsne.py``).

Not imported by ``adaptformer_mm/__init__.py``: importing the package for a
config must not pay for tools it does not run.
"""
