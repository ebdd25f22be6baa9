"""The GPU reports: every GPU measurement of the models, or of the data
path, in one run within a time budget, with a summary table and one JSON.

* :mod:`.model_report`: throughput targets and speed levers of the models
  (``tools/benchmark.py`` a measurement) and a short Runner training;
  ``tools/gpu_report.sh``;
* :mod:`.data_report`: clips/s of each data path (``tools/benchmark_data.py``)
  and whether GPU decoding gives decord's output;
  ``tools/gpu_data_report.sh``;
* :mod:`.decoders`: the GPU decoding libraries' probe and the comparison of
  their output with decord's (run as processes by the data report);
* :mod:`.facts`: the machine's facts;
* :mod:`.steps`: running the steps within a time budget, the options the
  reports share.
"""
