# The demo's broad pre-training corpus: 3 filled shapes (rectangle, triangle,
# ellipse) x 8 motions (four translations, clockwise, counter-clockwise,
# grow, shrink) = 24 classes, random size, colour, speed and noise, 64x64,
# 16 frames. Written under data_root on first use and reused (the folder name
# holds the generator settings). The downstream tasks' bar and outline square
# are held out. Pipelines and loaders are the direction task's.
_base_ = ['./synthetic_direction.py']

synthetic = dict(task='prim24', num_train=1024, num_val=128)
train_dataloader = dict(dataset=synthetic)
val_dataloader = dict(dataset=synthetic)
test_dataloader = dict(dataset=synthetic)
