"""Make ``import mmaction.models`` work with mmaction2 1.2.0 from PyPI.

Two independent failures, both at import time of ``mmaction.models``:

1. The 1.2.0 wheel lacks ``mmaction/models/localizers/drn`` (upstream issue
   open-mmlab/mmaction2#2714) while ``localizers/__init__.py`` imports
   ``.drn.drn.DRN``: ``ModuleNotFoundError``. We register a stand-in module whose
   ``DRN`` raises a clear error if anyone builds it; nothing else changes.
2. When ``transformers`` is installed, mmaction2 imports its VindLU models,
   which import ``apply_chunking_to_forward`` from
   ``transformers.modeling_utils``; transformers >= 4.56 no longer has it, so
   the import fails on any machine with a current transformers. This project
   never uses VindLU, so we register mmaction2's own placeholders for it
   instead of importing it (building VindLU then raises mmaction2's
   "requires extra multi-modal dependencies" error).

Versions: written for mmaction2 1.2.0; on another mmaction2 it is applied
with a warning. It is harmless where the defects are gone: the ``drn``
stand-in is only served when the folder is missing from the installed wheel,
and the project never builds VindLU.
"""
import importlib.util
import os.path as osp
import sys
import types

_DRN_MODULES = ('mmaction.models.localizers.drn',
                'mmaction.models.localizers.drn.drn')


def _mmaction_root() -> str:
    spec = importlib.util.find_spec('mmaction')
    if spec is None or not spec.submodule_search_locations:
        raise ImportError('adaptformer_mm needs mmaction2; install it with '
                          '`pip install -r requirements/runtime.txt`.')
    return list(spec.submodule_search_locations)[0]


def _missing_drn_placeholder() -> type:
    from torch import nn

    class DRN(nn.Module):
        """Stand-in for the DRN localizer missing from the mmaction2 wheel."""

        def __init__(self, *args, **kwargs):
            raise ImportError(
                'DRN is missing from the installed mmaction2 wheel '
                '(open-mmlab/mmaction2#2714); install mmaction2 from source '
                'to use it. adaptformer_mm does not need it.')

    return DRN


class _DRNStubFinder:
    """Meta-path finder that serves the missing ``drn`` package on demand.

    Registering a class in ``MODELS`` from here would import
    ``mmaction.registry`` too early, so the module body is created lazily,
    only when ``mmaction.models.localizers`` asks for it.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _DRN_MODULES:
            return None
        return importlib.util.spec_from_loader(
            fullname, self, is_package=fullname == _DRN_MODULES[0])

    def create_module(self, spec):
        return types.ModuleType(spec.name)

    def exec_module(self, module):
        if module.__name__ == _DRN_MODULES[0]:
            module.__path__ = []
            return
        from mmaction.registry import MODELS
        module.DRN = MODELS.register_module(
            name='DRN', module=_missing_drn_placeholder(), force=True)


def _drn_is_missing() -> bool:
    return not osp.isdir(osp.join(_mmaction_root(), 'models', 'localizers',
                                  'drn'))


def _disable_vindlu() -> None:
    # ``mmaction.models.multimodal`` reads this flag when it is imported.
    try:
        import mmaction.utils.dependency as dependency
    except ImportError:
        return  # a release without the multimodal switch: no VindLU
    dependency.WITH_MULTIMODAL = False


def patch_mmaction_imports() -> None:
    if 'mmaction.models' in sys.modules:
        return  # already imported successfully: nothing left to fix
    # Imported here: tests load this file on its own to apply the drn half.
    from ._guard import APPLY, version_guard

    _mmaction_root()  # a clear error when mmaction2 is not installed
    if not version_guard('mmaction2', '==1.2.0',
                         'import mmaction.models (missing drn, VindLU with '
                         'a current transformers)', elsewhere=APPLY):
        return
    if _drn_is_missing() and not any(
            isinstance(f, _DRNStubFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _DRNStubFinder())
    _disable_vindlu()
