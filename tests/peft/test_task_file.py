"""Task files: trainable tensors with metadata, plain data only, tied to the
backbone they were trained on by checksum."""
import os
import os.path as osp
import pickle

import pytest
import torch
from torch import nn

from adaptformer_mm.peft import (AdapterConfig, AdaptMLP, set_trainable,
                                 tunable_state_dict)
from adaptformer_mm.peft.task_file import (TASK_FILE_FORMAT,
                                           BackboneMismatchError,
                                           backbone_state, frozen_checksum,
                                           load_task_file, make_task_file,
                                           read_task_file, save_task_file,
                                           write_task_file)


class ToyRecognizer(nn.Module):
    """backbone (frozen linear + trainable adapter) and a BatchNorm head."""

    def __init__(self, num_classes=3):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8))
        self.backbone.add_module('adaptmlp', AdaptMLP(8, bottleneck=2))
        self.cls_head = nn.Sequential(nn.BatchNorm1d(8, affine=False),
                                      nn.Linear(8, num_classes))
        set_trainable(self, lambda n: 'adaptmlp' in n or
                      n.startswith('cls_head.'))

    def forward(self, x):
        x = self.backbone[1](self.backbone[0](x))
        return self.cls_head(x + self.backbone.adaptmlp(x))


def trained_toy(seed=0, **kwargs):
    torch.manual_seed(0)  # same frozen weights for every seed
    toy = ToyRecognizer(**kwargs)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in toy.parameters():
            if p.requires_grad:
                p.copy_(torch.randn(p.shape, generator=gen))
        toy.cls_head[0].running_mean.normal_(generator=gen)
    return toy


def test_round_trip_keeps_prefixed_keys_buffers_and_metadata(tmp_path):
    toy = trained_toy(1)
    path = str(tmp_path / 'task.pth')
    write_task_file(path, toy, config="model = dict(type='Toy')",
                    classes=('run', 'jump', 'sit'), extra_meta=dict(epoch=3))
    # Plain torch can read it without allowing any global.
    raw = torch.load(path, weights_only=True)
    assert raw['meta']['format'] == TASK_FILE_FORMAT
    task = read_task_file(path)
    expected = tunable_state_dict(toy)
    assert list(task.state_dict) == list(expected)
    assert 'cls_head.0.running_mean' in task.state_dict  # BN statistics
    assert 'backbone.adaptmlp.down.weight' in task.state_dict
    assert not any(k.startswith('backbone.0.') for k in task.state_dict)
    for key, value in expected.items():
        assert torch.equal(task.state_dict[key], value), key
    assert task.classes == ['run', 'jump', 'sit']
    assert task.config == "model = dict(type='Toy')"
    assert task.meta['epoch'] == 3
    assert task.meta['method'] == 'Sequential'
    assert task.meta['tunable_params'] == sum(
        p.numel() for p in toy.parameters() if p.requires_grad)
    assert task.backbone_checksum == frozen_checksum(toy)

    fresh = trained_toy(2)
    x = torch.randn(4, 8)
    assert not torch.equal(fresh.eval()(x), toy.eval()(x))
    load_task_file(fresh, path)
    assert torch.equal(fresh.eval()(x), toy.eval()(x))


def test_checksum_covers_frozen_weights_only_and_ignores_prefix():
    toy = trained_toy(1)
    reference = frozen_checksum(toy)
    assert reference.startswith('sha256:')
    assert frozen_checksum(trained_toy(5)) == reference  # trainables differ
    assert frozen_checksum(toy.backbone) == reference  # no 'backbone.'
    with torch.no_grad():
        toy.backbone[0].weight[0, 0] += 1e-6
    assert frozen_checksum(toy) != reference


def test_other_backbone_is_refused_naming_both_checksums(tmp_path):
    toy = trained_toy(1)
    path = str(tmp_path / 'task.pth')
    write_task_file(path, toy)
    other = trained_toy(1)
    with torch.no_grad():
        other.backbone[1].weight.mul_(2)
    before = {k: v.clone() for k, v in other.state_dict().items()}
    with pytest.raises(BackboneMismatchError) as err:
        load_task_file(other, path, backbone_name='other.pth')
    msg = str(err.value)
    assert frozen_checksum(toy) in msg and frozen_checksum(other) in msg
    assert path in msg and 'other.pth' in msg
    for key, value in other.state_dict().items():  # nothing was loaded
        assert torch.equal(value, before[key]), key


def test_wrong_head_or_method_names_the_keys(tmp_path):
    path = str(tmp_path / 'task.pth')
    write_task_file(path, trained_toy(1))
    no_adapter = trained_toy(1)
    del no_adapter.backbone.adaptmlp
    with pytest.raises(KeyError, match='unexpected backbone.adaptmlp'):
        load_task_file(no_adapter, path)
    with pytest.raises(RuntimeError, match='size mismatch'):
        load_task_file(trained_toy(1, num_classes=5), path)


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / 'pwned'

    class Exploit:

        def __reduce__(self):
            return (os.system, (f'touch {marker}', ))

    path = str(tmp_path / 'evil.pth')
    torch.save(dict(meta=dict(format=TASK_FILE_FORMAT, version=1,
                              backbone_checksum='sha256:0', x=Exploit()),
                    state_dict={}), path)
    with pytest.raises(RuntimeError, match='refusing to load task file'):
        read_task_file(path)
    assert not marker.exists()
    with pytest.raises(RuntimeError, match='refusing'):
        load_task_file(trained_toy(), path)
    assert not marker.exists()


def test_writing_refuses_overwrite_and_non_plain_metadata(tmp_path):
    toy = trained_toy(1)
    path = str(tmp_path / 'task.pth')
    write_task_file(path, toy)
    before = open(path, 'rb').read()
    with pytest.raises(FileExistsError, match='refusing to overwrite'):
        write_task_file(path, trained_toy(2))
    assert open(path, 'rb').read() == before
    write_task_file(path, trained_toy(2), overwrite=True)
    assert open(path, 'rb').read() != before
    with pytest.raises(TypeError, match=r'meta\.bad.*set is not allowed'):
        make_task_file(toy, extra_meta=dict(bad={1, 2}))
    task = make_task_file(toy)
    task.state_dict['cls_head.1.weight'] = pickle  # not a tensor
    with pytest.raises(TypeError, match='cls_head.1.weight'):
        save_task_file(task, str(tmp_path / 'other.pth'))


def test_other_files_are_named_in_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        read_task_file(str(tmp_path / 'nope.pth'))
    full = str(tmp_path / 'epoch_1.pth')
    torch.save(dict(state_dict=trained_toy().state_dict()), full)
    with pytest.raises(RuntimeError, match='not an adaptformer_mm task file.'
                       '*export_peft'):
        read_task_file(full)
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'not a checkpoint')
    with pytest.raises(RuntimeError, match='cannot read task file'):
        read_task_file(str(garbage))


def test_backbone_state_accepts_bare_and_recognizer_layouts():
    w = torch.ones(2)
    assert backbone_state({'state_dict': {'blocks.0.w': w}}) == {
        'backbone.blocks.0.w': w}
    assert backbone_state({'state_dict': {'backbone.blocks.0.w': w,
                                          'cls_head.fc.w': w}}) == {
        'backbone.blocks.0.w': w}
    assert backbone_state({'model': {'module.blocks.0.w': w}}) == {
        'backbone.blocks.0.w': w}


def test_vit_b_adaptformer_64_task_file_is_under_6_mb(tmp_path):
    from adaptformer_mm.models.backbones import AdaptFormerVideoViT
    from adaptformer_mm.models.heads import BNLinearHead

    class Recognizer(nn.Module):

        def __init__(self):
            super().__init__()
            self.backbone = AdaptFormerVideoViT(
                img_size=224, patch_size=16, embed_dims=768, depth=12,
                num_heads=12, num_frames=16, qkv_bias=True)
            self.cls_head = BNLinearHead(num_classes=174, in_channels=768)

    model = Recognizer()
    path = str(tmp_path / 'ssv2_adaptformer64.pth')
    task = write_task_file(path, model, classes=[str(i) for i in range(174)])
    assert task.meta['groups']['backbone.blocks.0.adaptmlp'] == 99_136
    adapters = sum(v for k, v in task.meta['groups'].items()
                   if 'adaptmlp' in k)
    assert adapters == 1_189_632
    # adapters + fc_norm + head (+ BatchNorm statistics), fp32
    assert task.meta['tunable_params'] == 1_189_632 + 1_536 + 768 * 174 + 174
    assert osp.getsize(path) < 6 * 10**6
    assert task.method == 'AdaptFormerVideoViT'
    # The metadata is the backbone's frozen config in plain form.
    method_cfg = task.meta['method_cfg']
    assert method_cfg['adapter_cfg'] == model.backbone.adapter_cfg.to_dict()
    assert method_cfg['adapter_cfg']['bottleneck'] == 64
    assert AdapterConfig.from_cfg(
        read_task_file(path).meta['method_cfg']['adapter_cfg']) == \
        model.backbone.adapter_cfg
    assert method_cfg['tuning'] == 'peft' and method_cfg['train_final_norm']


def test_every_method_config_is_recorded_under_its_key():
    """A backbone's method configs (here LoRA and BitFit, which no list
    names) reach the task file's ``method_cfg`` as plain dicts."""
    from adaptformer_mm.models.backbones import BitFitVideoViT, LoRAVideoViT
    from adaptformer_mm.peft.task_file import method_settings
    tiny = dict(img_size=64, patch_size=16, embed_dims=64, depth=2,
                num_heads=4, num_frames=4)
    lora = method_settings(LoRAVideoViT(lora_cfg=dict(rank=2), **tiny))
    assert lora['lora_cfg']['rank'] == 2 and lora['tuning'] == 'peft'
    bitfit = method_settings(BitFitVideoViT(**tiny))
    assert set(bitfit) == {'tuning', 'train_final_norm', 'bitfit_cfg'}
