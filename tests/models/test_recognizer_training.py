"""A tiny Recognizer3D through mmengine's Runner: frozen tensors stay
bit-identical after training and after resuming, and the log says what
trains."""
import glob
import os.path as osp

import torch
from mmengine.dataset import pseudo_collate
from mmengine.runner import Runner
from torch.utils.data import DataLoader, Dataset

import adaptformer_mm  # noqa: F401  (compat patch needed to resume)
import adaptformer_mm.engine.hooks.tunable_summary  # noqa: F401
from mmaction.structures import ActionDataSample


class RandomClips(Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, index):
        gen = torch.Generator().manual_seed(index)
        clip = torch.randn(1, 3, 4, 32, 32, generator=gen)
        return dict(inputs=clip,
                    data_samples=ActionDataSample().set_gt_label(index % 3))


def runner_for(work_dir, pretrained, max_epochs, resume=False):
    backbone = dict(
        type='AdaptFormerVideoViT',
        img_size=32, patch_size=16, embed_dims=64, depth=2, num_heads=4,
        num_frames=4, tubelet_size=2, drop_path_rate=0.2, drop_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained))
    return Runner(
        model=dict(
            type='Recognizer3D',
            backbone=backbone,
            cls_head=dict(type='BNLinearHead', num_classes=3, in_channels=64),
            data_preprocessor=dict(
                type='ActionDataPreprocessor', format_shape='NCTHW')),
        work_dir=work_dir,
        train_dataloader=DataLoader(
            RandomClips(), batch_size=4, shuffle=False,
            collate_fn=pseudo_collate),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        # No paramwise_cfg on purpose: frozen parameters then sit in the
        # optimizer, with momentum and weight decay, and must still not move.
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=dict(type='SGD', lr=0.5, momentum=0.9,
                           weight_decay=1e-2)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=1)),
        custom_hooks=[dict(type='TunableSummaryHook')],
        default_scope='mmaction',
        resume=resume,
        randomness=dict(seed=0))


def test_frozen_tensors_identical_after_training_and_resume(tmp_path):
    from mmaction.models.backbones.vit_mae import VisionTransformer
    torch.manual_seed(0)
    stock = VisionTransformer(img_size=32, patch_size=16, embed_dims=64,
                              depth=2, num_heads=4, num_frames=4)
    pretrained = str(tmp_path / 'stock.pth')
    torch.save({'state_dict': stock.state_dict()}, pretrained)
    frozen = {k: v.clone() for k, v in stock.state_dict().items()
              if not k.startswith('fc_norm')}
    work_dir = str(tmp_path / 'work')

    def check(model):
        backbone = model.backbone
        state = backbone.state_dict()
        for key, value in frozen.items():
            assert torch.equal(state[key], value), key
        trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        assert trainable == {n for n, _ in model.named_parameters()
                             if 'adaptmlp' in n or 'fc_norm' in n
                             or n.startswith('cls_head.')}
        return {n: p.detach().clone() for n, p in model.named_parameters()
                if 'adaptmlp.up' in n}

    first = runner_for(work_dir, pretrained, max_epochs=2)
    first.train()
    ups = check(first.model)
    assert all(v.abs().sum() > 0 for v in ups.values())  # adapters trained
    assert osp.exists(osp.join(work_dir, 'epoch_2.pth'))

    resumed = runner_for(work_dir, pretrained, max_epochs=3, resume=True)
    resumed.train()
    assert resumed.epoch == 3 and resumed.iter == 6
    after = check(resumed.model)
    assert any(not torch.equal(after[n], ups[n]) for n in ups)

    logs = ''.join(open(f).read() for f in glob.glob(
        osp.join(work_dir, '*', '*.log')))
    assert 'Tunable parameters of the model:' in logs
    assert 'trainable params: ' in logs and 'blocks.{0-1}.adaptmlp' in logs
    assert 'cls_head' in logs
