# The AdaptFormer recipe (sgd-bf16_linear-warmup_cosine_90e.py) for loaders
# with repeated augmentation K=2 (the *_video_fast.py datasets): an epoch
# there has twice the iterations of a K=1 epoch (64 videos x 2 clips per
# step), so 45 epochs with 5 of warmup are the paper's 90 and 10 in
# iterations, clips seen and learning-rate curve.
_base_ = ['./sgd-bf16_linear-warmup_cosine_90e.py']

max_epochs = 45
warmup_epochs = 5

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=0.0, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
# auto_scale_lr counts the loader's batch, i.e. videos: 8 GPUs x 64 videos.
auto_scale_lr = dict(base_batch_size=512)
