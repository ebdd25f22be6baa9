"""Looking at what a backbone learned, after training.

* :mod:`.features`: cached backbone features (``tools/extract_features.py``)
  and the probes trained on them;
* :mod:`.tsne`: t-SNE pictures of those features (``tools/analysis/tsne.py``);
* :mod:`.plotting`: matplotlib without a display, for these pictures and the
  comparison's figures (:mod:`adaptformer_mm.experiments.report`).

Not imported by ``adaptformer_mm/__init__.py``.
"""
