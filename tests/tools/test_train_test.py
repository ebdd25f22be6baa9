"""tools/train.py, tools/test.py (and tools/demo.py) on the demo config and
on a paper recipe, both shrunk to seconds, through their ``main`` in this
process; once as a script, from another folder."""
import glob
import os.path as osp
import re
import warnings

import pytest
import torch
from mmengine.config import Config

import adaptformer_mm  # noqa: F401  (stack fixes before mmaction)
from adaptformer_mm.apis import build_model
from adaptformer_mm.peft import tunable_state_dict
from mmaction.models.backbones.vit_mae import VisionTransformer
from ..conftest import (DEMO_CONFIG, REPO, load_tool, run_python, run_tool,
                        tiny_demo_overrides)


@pytest.fixture(scope='module')
def trained(tmp_path_factory, synthetic_root):
    work_dir = str(tmp_path_factory.mktemp('train') / 'wd')
    run = run_tool('train', [DEMO_CONFIG, '--work-dir', work_dir] +
                   tiny_demo_overrides(synthetic_root, epochs=1))
    return work_dir, run


def test_train_saves_checkpoint_and_reports_paths(trained):
    work_dir, run = trained
    ckpt = osp.join(work_dir, 'epoch_1.pth')
    assert osp.isfile(ckpt)
    assert f'checkpoint: {ckpt}' in run.stdout
    assert f'work dir:   {work_dir}' in run.stdout
    assert 'Epoch(val) [1]' in run.output
    assert 'Epoch(train) [1]' in run.output  # what a resume must not redo


@pytest.mark.slow
def test_train_runs_as_a_script_from_another_folder(synthetic_root,
                                                    tmp_path):
    """``python tools/train.py`` outside the checkout, as a user runs it: a
    relative --work-dir is under the current folder, and the report names
    it whole."""
    proc = run_python([osp.join(REPO, 'tools', 'train.py'), DEMO_CONFIG,
                       '--work-dir', 'wd'] +
                      tiny_demo_overrides(synthetic_root), cwd=str(tmp_path))
    work_dir = osp.realpath(str(tmp_path / 'wd'))
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    assert f'work dir:   {work_dir}' in proc.stdout
    assert 'Epoch(val) [1]' in proc.stdout + proc.stderr


def test_resume_continues_from_last_checkpoint(trained, synthetic_root):
    work_dir, _ = trained
    log = run_tool('train', [DEMO_CONFIG, '--work-dir', work_dir, '--resume'] +
                   tiny_demo_overrides(synthetic_root, epochs=2)).output
    assert 'resumed epoch: 1' in log
    assert 'Epoch(train) [1]' not in log  # epoch 1 is not trained again
    assert osp.isfile(osp.join(work_dir, 'epoch_2.pth'))


def test_fresh_run_refuses_to_overwrite_checkpoints(trained, synthetic_root):
    work_dir, _ = trained
    before = open(osp.join(work_dir, 'epoch_1.pth'), 'rb').read()
    with pytest.raises(FileExistsError) as refused:
        run_tool('train', [DEMO_CONFIG, '--work-dir', work_dir] +
                 tiny_demo_overrides(synthetic_root))
    assert f'work dir {work_dir} already holds checkpoints' in \
        str(refused.value)
    assert '--resume' in str(refused.value)
    assert open(osp.join(work_dir, 'epoch_1.pth'), 'rb').read() == before


def test_test_tool_evaluates_checkpoint(trained, synthetic_root, tmp_path):
    work_dir, _ = trained
    dump = str(tmp_path / 'preds.pkl')
    run = run_tool('test', [DEMO_CONFIG, osp.join(work_dir, 'epoch_1.pth'),
                            '--work-dir', str(tmp_path / 'test'), '--dump',
                            dump] + tiny_demo_overrides(synthetic_root))
    assert 'Epoch(test) [2/2]' in run.output
    assert 'acc/top1' in run.output
    assert osp.isfile(dump)
    again = run_tool('test', [DEMO_CONFIG, osp.join(work_dir, 'epoch_1.pth'),
                              '--dump', dump], check=False)
    assert again.returncode == 2
    assert f'--dump {dump} exists' in again.stderr


def test_cli_errors_name_the_problem(tmp_path):
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError) as raised:
        run_tool('test', [DEMO_CONFIG, missing])
    assert f'checkpoint not found: {missing}' in str(raised.value)
    with pytest.raises(RuntimeError) as raised:
        run_tool('train', [DEMO_CONFIG, '--amp', '--work-dir',
                           str(tmp_path / 'amp')])
    assert '--amp needs a GPU' in str(raised.value)


# ------------------------------------------- a paper recipe, shrunk, on a CPU
RECIPE = ('configs/adaptformer/adaptformer-64_vit-base-p16_videomae-k400-pre_'
          '8xb128-8x4x1-90e_hmdb51-split1.py')
AMP_WARNING = "optim_wrapper.type='AmpOptimWrapper' (bfloat16 autocast) needs"


def tiny_recipe(path, data_root, pretrained):
    """The AdaptFormer recipe as it is (runtime, checkpoint hooks, bf16
    AmpOptimWrapper, schedule) on a tiny backbone and the demo's synthetic
    data (the same small set as tiny_demo_overrides)."""
    cfg = Config.fromfile(osp.join(REPO, RECIPE))
    demo = Config.fromfile(DEMO_CONFIG)
    backbone = cfg.model.backbone
    backbone.update(img_size=64, embed_dims=32, depth=2, num_heads=2,
                    num_frames=8)
    backbone.adapter_cfg.bottleneck = 8
    backbone.init_cfg.checkpoint = pretrained
    cfg.model.cls_head.update(num_classes=4, in_channels=32)
    stock = VisionTransformer(**{k: v for k, v in backbone.items() if k in (
        'img_size', 'patch_size', 'embed_dims', 'depth', 'num_heads',
        'mlp_ratio', 'qkv_bias', 'num_frames', 'norm_cfg')})
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in
                               stock.state_dict().items()}}, pretrained)
    for name in ('train_pipeline', 'val_pipeline'):
        cfg[name] = demo[name]
    cfg.test_pipeline = demo.val_pipeline
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader] = demo[loader]
        cfg[loader].update(batch_size=4, num_workers=0,
                           persistent_workers=False)
        cfg[loader].dataset.update(data_root=data_root, num_train=16,
                                   num_val=8)
    cfg.val_evaluator = cfg.test_evaluator = demo.val_evaluator
    cfg.train_cfg.val_interval = 1
    cfg.dump(path)
    return path


@pytest.fixture(scope='module')
def peft_run(tmp_path_factory, synthetic_root):
    tmp = tmp_path_factory.mktemp('peft')
    config = tiny_recipe(str(tmp / 'tiny_recipe.py'), synthetic_root,
                         str(tmp / 'pretrained.pth'))
    work_dir = str(tmp / 'wd')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')  # each one, however often issued
        run = run_tool('train', [config, '--work-dir', work_dir,
                                 '--cfg-options', 'train_cfg.max_epochs=1'])
    warned = [str(w.message) for w in caught]
    return config, work_dir, str(tmp / 'pretrained.pth'), run, warned


def test_recipe_on_cpu_trains_fp32_with_one_warning(peft_run):
    _, _, _, run, warned = peft_run
    # Once, whether warned or logged.
    amp = [m for m in warned if AMP_WARNING in m]
    assert run.output.count(AMP_WARNING) + sum(
        m.count(AMP_WARNING) for m in warned) == 1
    assert 'training in fp32 with OptimWrapper instead' in amp[0]
    assert 'Epoch(val) [1]' in run.output


def test_recipe_checkpoints_hold_only_the_trainable_tensors(peft_run):
    config, work_dir = peft_run[:2]
    ckpt = torch.load(osp.join(work_dir, 'epoch_1.pth'), weights_only=False)
    model = build_model(config)
    assert set(ckpt['state_dict']) == set(tunable_state_dict(model))
    assert len(ckpt['state_dict']) < len(model.state_dict()) / 2
    assert 'tunable_only' in ckpt['meta']
    assert osp.isfile(osp.join(work_dir, 'task.pth'))


def test_resume_test_and_demo_run_on_tunable_only_checkpoints(
        peft_run, synthetic_root, tmp_path):
    config, work_dir = peft_run[:2]
    with pytest.warns(UserWarning, match=re.escape(AMP_WARNING)):
        log = run_tool('train', [config, '--work-dir', work_dir, '--resume',
                                 '--cfg-options',
                                 'train_cfg.max_epochs=2']).output
    assert 'resumed epoch: 1' in log
    assert 'Epoch(train) [1]' not in log
    ckpt = osp.join(work_dir, 'epoch_2.pth')
    first = torch.load(osp.join(work_dir, 'epoch_1.pth'), weights_only=False)
    second = torch.load(ckpt, weights_only=False)
    assert set(second['state_dict']) == set(first['state_dict'])
    assert second['meta']['epoch'] == 2
    run = run_tool('test', [config, ckpt, '--work-dir',
                            str(tmp_path / 'test')])
    assert 'acc/top1' in run.output
    video = sorted(glob.glob(osp.join(synthetic_root, '**', '*.mp4'),
                             recursive=True))[0]
    run = run_tool('demo', [video, config, ckpt, '--topk', '2'])
    assert f'{video}: top-2 of 4 classes' in run.stdout


def test_amp_becomes_fp32_only_without_a_gpu(monkeypatch):
    train = load_tool('train')
    optimizer = dict(type='SGD', lr=0.1, momentum=0.9)
    cfg = Config(dict(optim_wrapper=dict(
        type='AmpOptimWrapper', dtype='bfloat16',
        loss_scale=dict(enabled=False), optimizer=optimizer,
        clip_grad=dict(max_norm=1.0))))
    for name in ('is_cuda_available', 'is_npu_available', 'is_mlu_available',
                 'is_musa_available'):
        monkeypatch.setattr(train, name, lambda: False)
    monkeypatch.setattr(train, 'is_cuda_available', lambda: True)
    assert train.fp32_without_amp_device(cfg) is None
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    monkeypatch.setattr(train, 'is_cuda_available', lambda: False)
    with pytest.warns(UserWarning) as record:
        message = train.fp32_without_amp_device(cfg)
    assert [str(w.message) for w in record] == [message]
    assert message.startswith(AMP_WARNING)
    # Same optimizer and clipping; autocast and loss scaling gone.
    assert cfg.optim_wrapper == dict(type='OptimWrapper', optimizer=optimizer,
                                     clip_grad=dict(max_norm=1.0))
    assert train.fp32_without_amp_device(cfg) is None  # nothing left to do
