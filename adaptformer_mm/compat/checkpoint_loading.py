"""mmengine checkpoints load under torch >= 2.6 (stack.md #2).

mmengine 0.10.7 calls ``torch.load(filename)`` without ``weights_only``. Since
torch 2.6 that means ``weights_only=True``, which rejects the
``HistoryBuffer`` and numpy objects every mmengine checkpoint carries in its
``message_hub``: ``resume``, ``load_from`` and ``Pretrained`` init all fail with
"Unsupported global: mmengine.logging.history_buffer.HistoryBuffer".

Instead of turning ``weights_only`` off (which would execute any pickled code
in a downloaded file), mmengine's local-file loader is re-registered
(``force=True``) to read through
:func:`adaptformer_mm.engine.checkpoint_io.safe_torch_load`: weights only,
plus exactly the types mmengine itself writes, with errors that name the file.

Versions: written for mmengine 0.10.7 on torch >= 2.6. On torch < 2.6 it is
skipped: ``torch.load`` unpickles fully there and mmengine reads its files as
it was written to. On another mmengine it is applied with a warning: the
upstream fix is merged but unreleased, and reading through the allow-list is
safe whether or not mmengine still needs it.
"""
from ._guard import APPLY, SKIP, version_guard

_FIX = "mmengine's checkpoint reading under torch.load(weights_only=True)"


def patch_checkpoint_loader() -> None:
    if not (version_guard('torch', '>=2.6', _FIX, elsewhere=SKIP)
            and version_guard('mmengine', '==0.10.7', _FIX, elsewhere=APPLY)):
        return
    from mmengine.runner.checkpoint import CheckpointLoader

    if CheckpointLoader._schemes.get('') is load_from_local:
        return
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local, force=True)


def load_from_local(filename, map_location):
    """mmengine's local-file loader, reading weights only (its name is
    mmengine's, whose log calls it the 'local' backend)."""
    # Imported here: the fixes run before the package's engine is importable.
    from adaptformer_mm.engine.checkpoint_io import safe_torch_load
    return safe_torch_load(filename, map_location)
