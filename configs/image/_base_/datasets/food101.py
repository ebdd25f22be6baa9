# Food-101 through mmpretrain's Food101: data/food-101/images/<class>/<id>.jpg
# and data/food-101/meta/{train,test}.txt (lines "<class>/<id>"), the layout of
# http://data.vision.ee.ethz.ch/cvl/food-101.tar.gz. The paper's image recipe:
# RandomResizedCrop 224 + flip for training; resize 256 + center crop 224 for
# testing. Total batch 1024 = 8 GPUs x 128.
dataset_type = 'Food101'
data_root = 'data/food-101'

# Merged into the model's preprocessor by the leaf configs: images are decoded
# as BGR and turned to RGB there.
data_preprocessor = dict(num_classes=101, to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
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
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test',
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
