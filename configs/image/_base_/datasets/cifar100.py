# CIFAR-100 through mmpretrain's CIFAR100 (the python pickle batches in
# data/cifar100/cifar-100-python/{train,test,meta}, from
# https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz; download=False so
# nothing downloads at run time). The paper's image recipe: RandomResizedCrop
# 224 + flip for training; resize 256 + center crop 224 for testing (the 32x32
# images are upsampled). Total batch 1024 = 8 GPUs x 128.
dataset_type = 'CIFAR100'
data_root = 'data/cifar100'

# Merged into the model's preprocessor by the leaf configs: the arrays are
# already RGB.
data_preprocessor = dict(num_classes=100, to_rgb=False)

train_pipeline = [
    dict(type='RandomResizedCrop', scale=224, backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow',
         interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

# drop_last: the last incomplete batch of an epoch is dropped. The MAE and
# Swin recipes put a BatchNorm neck (ClsBatchNormNeck, batch statistics)
# before the head, which cannot normalise a last batch of one image.
train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    drop_last=True,
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 download=False, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test',
                 download=False, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
