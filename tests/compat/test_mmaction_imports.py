"""The two import-time breakages of mmaction2 1.2.0 and their fixes.

Each test runs a fresh interpreter: once without the fix (the failure must
reproduce, otherwise the fix is obsolete) and once with ``adaptformer_mm``.
"""
import os
import textwrap

from ..conftest import REPO, run_python

FIX_FILE = os.path.join(REPO, 'adaptformer_mm', 'compat',
                        'mmaction_imports.py')
# Loads only the drn half of the fix (importing the package would apply the
# VindLU half too), so what fails is the transformers import.
STOCK_WITH_DRN_STUB = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location('fix', {path!r})
fix = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fix)
sys.meta_path.insert(0, fix._DRNStubFinder())
import mmaction.models
"""

IMPORT_WITH_FIX = ('import adaptformer_mm; from mmaction.registry import '
                   'MODELS; print(MODELS.get("VisionTransformer").__name__)')


def test_stock_mmaction_models_import_fails_on_missing_drn():
    proc = run_python(['-c', 'import mmaction.models'], check=False)
    assert proc.returncode != 0
    assert "No module named 'mmaction.models.localizers.drn'" in proc.stderr


def test_adaptformer_mm_makes_mmaction_models_importable():
    proc = run_python(['-c', IMPORT_WITH_FIX])
    assert proc.stdout.strip().endswith('VisionTransformer')


def test_drn_placeholder_explains_itself():
    proc = run_python(['-c', textwrap.dedent('''
        import adaptformer_mm
        from mmaction.registry import MODELS
        try:
            MODELS.build(dict(type='DRN'))
        except ImportError as e:
            print('ERR', e)
        ''')])
    assert 'ERR DRN is missing from the installed mmaction2 wheel' in \
        proc.stdout


def _fake_transformers(root):
    """A current-looking transformers without apply_chunking_to_forward."""
    pkg = root / 'transformers'
    pkg.mkdir()
    (pkg / '__init__.py').write_text('__version__ = "5.17.0"\n')
    (pkg / 'modeling_utils.py').write_text('class PreTrainedModel: pass\n')
    dist = root / 'transformers-5.17.0.dist-info'
    dist.mkdir()
    (dist / 'METADATA').write_text(
        'Metadata-Version: 2.1\nName: transformers\nVersion: 5.17.0\n')
    return {'PYTHONPATH': str(root) + os.pathsep +
            os.environ.get('PYTHONPATH', '')}


def test_vindlu_import_with_current_transformers(tmp_path):
    env = _fake_transformers(tmp_path)
    # Without the fix mmaction2 imports VindLU, which fails.
    stock = run_python(['-c', STOCK_WITH_DRN_STUB.format(path=FIX_FILE)],
                       env=env, check=False)
    assert stock.returncode != 0
    assert 'multimodal/vindlu' in stock.stderr  # failed inside VindLU
    # With it: imports, and VindLU is a placeholder with a clear message.
    fixed = run_python(['-c', textwrap.dedent('''
        import adaptformer_mm
        from mmaction.registry import MODELS
        try:
            MODELS.build(dict(type='VindLUVQA'))
        except ImportError as e:
            print('ERR', e)
        ''')], env=env)
    # (mmaction2's placeholder names the last VindLU class whatever is built)
    assert fixed.stdout.startswith('ERR VindLU')
    assert 'requires extra multi-modal dependencies' in fixed.stdout
