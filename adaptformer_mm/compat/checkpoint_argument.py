"""A checkpoint argument that is not a path fails as a bad argument.

mmengine 0.10.7's ``CheckpointLoader`` picks a loader by matching the
argument against its URL prefixes with ``re.match``, so anything but a
``str`` fails inside ``re``: ``TypeError: expected string or bytes-like
object, got 'list'``, which names neither the value nor where it came from.
It happens, for instance, to mmaction2's Video Swin with ``pretrained2d=True``
and ``pretrained=None`` (or a list), and to any ``pathlib.Path``.

The lookup now checks the argument first with
:func:`adaptformer_mm.engine.checkpoint_io.checkpoint_path`: a ``TypeError``
as before, naming the value and what is valid; an ``os.PathLike`` is matched
as its string. Nothing else changes.

Versions: written for mmengine 0.10.7; on another mmengine it is applied with
a warning (it raises the same exception type where mmengine would raise one,
so it is harmless where the defect is gone).
"""

from ._guard import APPLY, version_guard, wrap_method

_MARK = '_adaptformer_mm_checks_argument'


def patch_checkpoint_argument() -> None:
    if not version_guard('mmengine', '==0.10.7',
                         "mmengine's error for a checkpoint that is no path",
                         elsewhere=APPLY):
        return
    from mmengine.runner.checkpoint import CheckpointLoader

    def make(original):
        def _get_checkpoint_loader(cls, path):
            # Imported here: the fixes run before the package's engine is
            # importable.
            from adaptformer_mm.engine.checkpoint_io import checkpoint_path
            return original(cls, checkpoint_path(path))
        return _get_checkpoint_loader

    wrap_method(CheckpointLoader, '_get_checkpoint_loader', _MARK, make)
