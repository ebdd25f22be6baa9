# The paper's image recipe (method-spec "Baselines"): SGD momentum 0.9, weight
# decay 0, lr = 0.1 x batch / 256 at the reference total batch of 1024 (8 GPUs
# x 128), linear warmup per iteration for 20 epochs, then cosine to 0 at epoch
# 100, no grad clipping. With --auto-scale-lr the lr follows the real batch.
# No paramwise_cfg on purpose: it breaks mmengine's compile=True (stack.md #4);
# frozen parameters get no gradient, so SGD with weight decay 0 never moves
# them (and they are frozen at build, before the optimizer exists).
base_batch_size = 1024
max_epochs = 100
warmup_epochs = 20

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

train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=10)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(enable=False, base_batch_size=base_batch_size)
