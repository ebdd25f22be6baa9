"""The built-in main job (tools/run_demo.py) in its --quick form.

Checks the table's structure, exact parameter counts and the files written;
accuracy ordering is not asserted (2 epochs on 16 clips mean nothing).
"""
import json
import os.path as osp

import pytest

from ..conftest import run_python

METHODS = ['linear probe', 'VPT-deep (4 tokens)', 'AdaptFormer (r=8)',
           'full fine-tune']
D, DEPTH, CLASSES, R, TOKENS = 64, 4, 4, 8, 4
HEAD = D * CLASSES + CLASSES  # BNLinearHead: BatchNorm without affine
FC_NORM = 2 * D
ADAPTER = D * R + R + R * D + D


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp('demo')
    work_dir = str(root / 'run')
    proc = run_python(['tools/run_demo.py', '--quick', '--work-dir', work_dir,
                       '--data-root', str(root / 'data')])
    return work_dir, proc


def test_report_files_and_table(demo):
    work_dir, proc = demo
    report = json.load(open(osp.join(work_dir, 'results.json')))
    rows = report['transfer']
    assert [r['method'] for r in rows] == METHODS
    for r in rows:
        assert 0.0 <= r['top1'] <= 1.0
        assert r['seconds'] > 0
        assert len(r['losses']) == 8  # 2 epochs x 4 iterations, logged each
        assert osp.isfile(osp.join(work_dir, r['checkpoint'].split('/')[-2],
                                   r['checkpoint'].split('/')[-1]))
        assert r['percent'] == pytest.approx(100 * r['trainable'] /
                                             r['total'])
    md = open(osp.join(work_dir, 'results.md')).read()
    assert '| Method | Tunable params | Tunable % | Top-1 on task B |' in md
    for r in rows:
        assert f'| {r["method"]} | {r["trainable"]:,} |' in md
        assert f'| {r["method"]} | {r["trainable"]:,} |' in proc.stdout
    png = open(osp.join(work_dir, 'comparison.png'), 'rb').read()
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 10_000


def test_exact_parameter_counts(demo):
    work_dir, _ = demo
    rows = {r['method']: r for r in
            json.load(open(osp.join(work_dir, 'results.json')))['transfer']}
    total = rows['full fine-tune']['total']
    assert rows['full fine-tune']['trainable'] == total
    assert rows['linear probe']['trainable'] == FC_NORM + HEAD
    assert rows['AdaptFormer (r=8)']['trainable'] == \
        FC_NORM + HEAD + DEPTH * ADAPTER
    assert rows['VPT-deep (4 tokens)']['trainable'] == \
        FC_NORM + HEAD + DEPTH * TOKENS * D
    assert rows['linear probe']['total'] == total


def test_transfer_stages_load_the_pretrained_backbone(demo):
    work_dir, _ = demo
    report = json.load(open(osp.join(work_dir, 'results.json')))
    pretrained = report['pretrain']['checkpoint']
    assert osp.isfile(pretrained)
    for stage in ('linear-probe', 'vpt-deep-4', 'adaptformer-8',
                  'full-finetune'):
        log = open(osp.join(work_dir, stage, 'console.log')).read()
        assert f'load backbone. in model from: {pretrained}' in log
        assert 'FROZEN' not in log  # every pretrained tensor was found


def test_refuses_a_used_work_dir(demo):
    work_dir, _ = demo
    proc = run_python(['tools/run_demo.py', '--quick', '--work-dir',
                       work_dir], check=False)
    assert proc.returncode != 0
    assert f'{work_dir} is not empty' in proc.stderr
