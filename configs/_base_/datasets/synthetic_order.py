# Synthetic temporal-order clips, Something-Something style: an outline
# square moves right, left, right and back, or left and back (4 classes);
# the first half of an "and back" clip looks like a plain one. The demo's
# second downstream task (tools/run_demo.py --tasks dynamics order).
_base_ = ['./synthetic_dynamics.py']

synthetic = dict(task='order')
train_dataloader = dict(dataset=synthetic)
val_dataloader = dict(dataset=synthetic)
test_dataloader = dict(dataset=synthetic)
