"""`mim train adaptformer_mm CONFIG` finds our packaged configs and tools.

This needs the README's install (``pip install .``): an editable install
(PEP 660) does not ship ``adaptformer_mm/.mim`` and this test fails, as it
should, when that install step is missing.
"""
import importlib.metadata
import os.path as osp
import subprocess
import sys

from ..conftest import tiny_demo_overrides

DEMO = 'configs/demo/videomae_vit-tiny-p16_scratch_adamw-30e_synthetic-direction.py'


def _installed_package_root():
    dist = importlib.metadata.distribution('adaptformer_mm')
    return osp.join(str(dist.locate_file('')), 'adaptformer_mm')


def test_installed_package_ships_configs_and_tools():
    mim_root = osp.join(_installed_package_root(), '.mim')
    assert osp.isfile(osp.join(mim_root, 'tools', 'train.py')), (
        f'{mim_root}/tools/train.py missing: install with `pip install .` '
        '(not -e) as the README says')
    assert osp.isfile(osp.join(mim_root, DEMO))


def test_mim_train_runs_packaged_config(tmp_path, synthetic_root):
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    work_dir = str(tmp_path / 'wd')
    # run from an empty folder: the config must come from the package
    proc = subprocess.run(
        [mim, 'train', 'adaptformer_mm', DEMO, '--work-dir', work_dir] +
        tiny_demo_overrides(synthetic_root), cwd=str(tmp_path),
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert 'Training finished successfully' in proc.stdout
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
