"""tools/train.py and tools/test.py on the demo config (shrunk to seconds)."""
import os.path as osp

import pytest

from ..conftest import DEMO_CONFIG, run_python, tiny_demo_overrides


@pytest.fixture(scope='module')
def trained(tmp_path_factory, synthetic_root):
    work_dir = str(tmp_path_factory.mktemp('train') / 'wd')
    proc = run_python(['tools/train.py', DEMO_CONFIG, '--work-dir', work_dir] +
                      tiny_demo_overrides(synthetic_root, epochs=1))
    return work_dir, proc


def test_train_saves_checkpoint_and_reports_paths(trained):
    work_dir, proc = trained
    ckpt = osp.join(work_dir, 'epoch_1.pth')
    assert osp.isfile(ckpt)
    assert f'checkpoint: {ckpt}' in proc.stdout
    assert f'work dir:   {work_dir}' in proc.stdout
    assert 'Epoch(val) [1]' in proc.stdout + proc.stderr


def test_resume_continues_from_last_checkpoint(trained, synthetic_root):
    work_dir, _ = trained
    proc = run_python(['tools/train.py', DEMO_CONFIG, '--work-dir', work_dir,
                       '--resume'] + tiny_demo_overrides(synthetic_root,
                                                         epochs=2))
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 1' in log
    assert 'Epoch(train) [1]' not in log  # epoch 1 is not trained again
    assert osp.isfile(osp.join(work_dir, 'epoch_2.pth'))


def test_fresh_run_refuses_to_overwrite_checkpoints(trained, synthetic_root):
    work_dir, _ = trained
    before = open(osp.join(work_dir, 'epoch_1.pth'), 'rb').read()
    proc = run_python(['tools/train.py', DEMO_CONFIG, '--work-dir', work_dir] +
                      tiny_demo_overrides(synthetic_root), check=False)
    assert proc.returncode != 0
    assert f'work dir {work_dir} already holds checkpoints' in proc.stderr
    assert '--resume' in proc.stderr
    assert open(osp.join(work_dir, 'epoch_1.pth'), 'rb').read() == before


def test_test_tool_evaluates_checkpoint(trained, synthetic_root, tmp_path):
    work_dir, _ = trained
    dump = str(tmp_path / 'preds.pkl')
    proc = run_python(['tools/test.py', DEMO_CONFIG,
                       osp.join(work_dir, 'epoch_1.pth'), '--work-dir',
                       str(tmp_path / 'test'), '--dump', dump] +
                      tiny_demo_overrides(synthetic_root))
    assert 'Epoch(test) [2/2]' in proc.stdout + proc.stderr
    assert 'acc/top1' in proc.stdout + proc.stderr
    assert osp.isfile(dump)
    again = run_python(['tools/test.py', DEMO_CONFIG,
                        osp.join(work_dir, 'epoch_1.pth'), '--dump', dump],
                       check=False)
    assert f'--dump {dump} exists' in again.stderr


def test_cli_errors_name_the_problem(tmp_path):
    missing = str(tmp_path / 'nope.pth')
    proc = run_python(['tools/test.py', DEMO_CONFIG, missing], check=False)
    assert f'checkpoint not found: {missing}' in proc.stderr
    proc = run_python(['tools/train.py', DEMO_CONFIG, '--amp', '--work-dir',
                       str(tmp_path / 'amp')], check=False)
    assert '--amp needs a GPU' in proc.stderr
