# The AdaptFormer recipe (method-spec "Baselines"): SGD momentum 0.9, weight
# decay 0, lr = 0.1 x batch / 256 at the reference batch of 1024, linear warmup
# per iteration for 10 epochs, then cosine to 0 at epoch 90, no grad clipping.
# With --auto-scale-lr the lr follows the real total batch.
# Keep the full schedule: AdaptMLP's up-projection starts at zero and is
# scaled by 0.1, so under SGD the adapters need many steps to move (over 240
# SGD iterations they stayed exactly at the linear probe; README, "Paper
# recipes").
# No paramwise_cfg: with weight decay 0 there is nothing to exempt, and frozen
# parameters get no gradient, so SGD never moves them.
base_batch_size = 1024
max_epochs = 90
warmup_epochs = 10

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='SGD', lr=0.1 * base_batch_size / 256, momentum=0.9,
        weight_decay=0.0))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=0.0, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]

train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=1,
    val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

auto_scale_lr = dict(enable=False, base_batch_size=base_batch_size)
