"""tools/extract_features.py on the tiny synthetic demo: features written
once and reused, never overwritten by another key unless --force, loaded
from a full checkpoint or a backbone-only one, and a probe on them."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from adaptformer_mm.apis import build_model
from adaptformer_mm.analysis.features import FeatureSet

from ..conftest import DEMO_CONFIG, load_tool, tiny_demo_overrides


@pytest.fixture(scope='module')
def tool():
    return load_tool('extract_features')


@pytest.fixture(scope='module')
def setup(tool, tmp_path_factory, synthetic_root):
    """A tiny VPT demo model's full checkpoint and the tool's options (one
    work dir for the module: default feature files are shared)."""
    tmp_path = tmp_path_factory.mktemp('extract')
    options = tiny_demo_overrides(synthetic_root) + [
        'model.backbone.type=VPTVideoViT', f'work_dir={tmp_path / "wd"}']
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict(
        tool.parse_args([DEMO_CONFIG, 'ckpt'] + options).cfg_options)
    torch.manual_seed(0)
    model = build_model(cfg)
    ckpt = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    return ckpt, options, model


def test_features_are_written_once_and_reused(tool, setup, tmp_path,
                                              capsys):
    ckpt, options, model = setup
    model = copy.deepcopy(model)
    out = str(tmp_path / 'val.pth')
    args = [DEMO_CONFIG, ckpt, '--split', 'val', '--out', out] + options
    first = tool.main(args)['val'][0]
    assert 'wrote' in capsys.readouterr().out
    assert first.features.shape == (8, 32)
    assert first.meta['backbone'] == 'VPTVideoViT'
    assert len(first.meta['classes']) == 4
    assert first.labels.tolist() == FeatureSet.load(out).labels.tolist()

    mtime = osp.getmtime(out)
    again = tool.main(args)['val'][0]
    assert 'reused' in capsys.readouterr().out
    assert osp.getmtime(out) == mtime
    assert torch.equal(again.features, first.features)

    # Another checkpoint under the same --out: refused, then --force.
    with torch.no_grad():
        model.backbone.prompts.prompts.normal_()  # (a shift: LN undoes it)
    other = str(tmp_path / 'other.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), other)
    args[1] = other
    with pytest.raises(FileExistsError, match='pass --force'):
        tool.main(args)
    forced = tool.main(args + ['--force'])['val'][0]
    assert (forced.features - first.features).abs().max() > 1e-4


def test_backbone_only_reads_any_checkpoint_with_the_backbone(
        tool, setup, tmp_path):
    ckpt, options, model = setup
    # A checkpoint with another head (a pre-training run's, say).
    state = dict(model.state_dict())
    state['cls_head.fc_cls.weight'] = torch.zeros(24, 32)
    state['cls_head.fc_cls.bias'] = torch.zeros(24)
    pre = str(tmp_path / 'pre.pth')
    torch.save(dict(state_dict=state), pre)
    base = [DEMO_CONFIG, '--split', 'val'] + options
    full, full_path = tool.main(base[:1] + [ckpt] + base[1:])['val']
    with pytest.raises(RuntimeError, match='size mismatch'):
        tool.main(base[:1] + [pre] + base[1:])
    only = tool.main(base[:1] + [pre] + base[1:] + ['--backbone-only'])
    torch.testing.assert_close(only['val'][0].features, full.features)
    # Default files live under the work dir, one per key.
    assert osp.dirname(only['val'][1]) == osp.dirname(full_path)
    assert osp.basename(full_path).startswith('val_')
    assert only['val'][1] != full_path


def test_probe_trains_on_cached_train_features(tool, setup, capsys):
    ckpt, options, _ = setup
    tool.main([DEMO_CONFIG, ckpt] + options)  # val (the test above's file)
    capsys.readouterr()
    results = tool.main([DEMO_CONFIG, ckpt, '--probe', '--probe-epochs', '5']
                        + options)
    out = capsys.readouterr().out
    assert 'wrote' in out and 'reused' in out  # train extracted, val reused
    assert results['train'][0].features.shape == (16, 32)
    assert 0.0 <= results['probe_top1'] <= 1.0
    assert 'linear probe on cached train features: top-1 on val' in out


def repeated_aug_config(tmp_path, synthetic_root):
    """The demo config with its training set wrapped as the fast recipes
    wrap theirs (RepeatedAugDataset and its collate function)."""
    config = tmp_path / 'demo_repeated_aug.py'
    config.write_text(
        f"_base_ = [{DEMO_CONFIG!r}]\n"
        "train_dataloader = dict(collate_fn=dict(type='repeated_aug_collate'),"
        " dataset=dict(_delete_=True, type='RepeatedAugDataset', "
        "num_repeats=2, dataset=dict(type='SyntheticVideoDataset', "
        f"data_root={synthetic_root!r}, split='train', "
        "pipeline={{_base_.train_pipeline}}, task='direction', num_train=16, "
        "num_val=8, num_frames=16, size=64, seed=0)))\n")
    return str(config)


def test_a_repeated_aug_training_set_is_read_once_and_keyed_apart(
        tool, setup, synthetic_root, tmp_path, capsys):
    """--split train and --probe of a config whose training set is a
    RepeatedAugDataset: one view per video (the wrapper and its collate
    function dropped), the same features as the unwrapped config's, but
    in a file of their own (the key covers the wrapper)."""
    ckpt, options, _ = setup
    wrapped = repeated_aug_config(tmp_path, synthetic_root)
    options = [o for o in options if not o.startswith('work_dir=')] + [
        f'work_dir={tmp_path / "wd"}']  # no feature file yet
    # The wrapped config's training set is set in the file, not by options.
    wrapped_options = [o for o in options
                       if not o.startswith('train_dataloader.')]
    data, path = tool.main([wrapped, ckpt, '--split', 'train']
                           + wrapped_options)['train']
    assert 'wrote' in capsys.readouterr().out
    assert data.features.shape == (16, 32)
    plain, plain_path = tool.main([DEMO_CONFIG, ckpt, '--split', 'train']
                                  + options)['train']
    assert 'wrote' in capsys.readouterr().out and plain_path != path
    assert torch.equal(data.labels, plain.labels)
    torch.testing.assert_close(data.features, plain.features)
    probe = tool.main([wrapped, ckpt, '--probe', '--probe-epochs', '2']
                      + wrapped_options)
    assert f'reused {path}: train split' in capsys.readouterr().out
    assert 'probe_top1' in probe
