# The built-in demo: a tiny VideoMAE-architecture recognizer (mmaction2's
# VisionTransformer, embed 64, depth 4) trained from scratch on synthetic clips
# written as mp4 on first use. Runs on 2 CPU cores in a few minutes:
#   python tools/train.py configs/demo/videomae_vit-tiny-p16_scratch_adamw-30e_synthetic-direction.py
_base_ = [
    '../_base_/models/videomae_vit-base-p16.py',
    '../_base_/datasets/synthetic_direction.py',
    '../_base_/schedules/adamw_linear-warmup_cosine_30e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(
        img_size=64, embed_dims=64, depth=4, num_heads=4, num_frames=8),
    cls_head=dict(num_classes=4, in_channels=64))

max_epochs = 30
warmup_epochs = 2
base_batch_size = 16
optim_wrapper = dict(optimizer=dict(lr=2e-3, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=1e-6, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
auto_scale_lr = dict(base_batch_size=base_batch_size)

default_hooks = dict(logger=dict(interval=4))
randomness = dict(seed=0, deterministic=False)
