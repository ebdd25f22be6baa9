"""Preparing data before training: :mod:`.prepare_videos`, the offline
ffmpeg re-encoder behind ``tools/prepare_videos.py`` (training reads its
output through the ordinary datasets).

Not imported by ``adaptformer_mm/__init__.py``.
"""
