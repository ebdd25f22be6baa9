# The demo's pre-training: the tiny VideoMAE-architecture backbone
# (mmaction2's VisionTransformer, embed 64, depth 4) learns the broad 24-class
# synthetic corpus (shapes x motions) from scratch, supervised, with the
# paper's BN + Linear head (the stock TimeSformerHead left features that did
# not transfer). Its checkpoint is what the transfer configs load.
#   python tools/train.py configs/demo/videomae_vit-tiny-p16_scratch_adamw-12e_synthetic-prim24.py
_base_ = [
    '../_base_/models/videomae_vit-base-p16.py',
    '../_base_/datasets/synthetic_prim24.py',
    '../_base_/schedules/adamw_linear-warmup_cosine_30e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(
        img_size=64, embed_dims=64, depth=4, num_heads=4, num_frames=8),
    cls_head=dict(type='BNLinearHead', num_classes=24, in_channels=64,
                  average_clips='prob'))

max_epochs = 12
warmup_epochs = 1
base_batch_size = 16
optim_wrapper = dict(optimizer=dict(lr=2e-3, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=1e-6, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
auto_scale_lr = dict(base_batch_size=base_batch_size)

default_hooks = dict(
    logger=dict(interval=16),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1, save_best=None))
randomness = dict(seed=0, deterministic=False)
