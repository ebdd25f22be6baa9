# Synthetic "how does the bar change" clips: grow, shrink, rotate clockwise or
# counter-clockwise (4 classes, 64x64, 16 frames), generated under data_root
# on first use: no download needed. Few training clips on purpose: transfer
# with little data is where the methods differ. Settings are chosen on val
# and reported on the held-out test split. Pipelines and loaders are the
# direction task's.
_base_ = ['./synthetic_direction.py']

synthetic = dict(task='dynamics', num_train=128, num_val=128, num_test=256)
train_dataloader = dict(dataset=synthetic)
val_dataloader = dict(dataset=synthetic)
test_dataloader = dict(dataset=dict(split='test', **synthetic))
