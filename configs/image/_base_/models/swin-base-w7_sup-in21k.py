# Swin-B (patch 4, windows 7, widths 128/256/512/1024 over 2/2/18/2 blocks)
# trained with labels on ImageNet-21k: the backbone of VPT's Swin experiment,
# as an mmpretrain ImageClassifier with the paper's head on the averaged
# last feature map (GlobalAveragePooling, then BatchNorm1d(affine=False,
# eps=1e-6) and a Linear with trunc-normal std 0.01, as
# vit-base-p16_mae-in1k.py). Method configs replace the backbone type:
# TunableSwin (linear probe / full), AdaptFormerSwin, VPTSwin.
#
# Checkpoint: Microsoft's swin_base_patch4_window7_224_22k.pth
#   https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_base_patch4_window7_224_22k.pth
# converted to mmpretrain keys with mmpretrain's converter (its repository's
# tools/model_converters/swin_to_mmpretrain.py, which also reorders the
# patch-merging channels for mmcv's PatchMerging; nothing here downloads):
#   python swin_to_mmpretrain.py swin_base_patch4_window7_224_22k.pth \
#       checkpoints/swin-base-w7_sup-in21k_mmpretrain.pth
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='TunableSwin',
        arch='base',
        img_size=224,
        patch_size=4,
        window_size=7,
        drop_path_rate=0.2,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/swin-base-w7_sup-in21k_mmpretrain.pth',
            prefix='backbone.')),
    neck=[
        dict(type='GlobalAveragePooling'),
        dict(type='ClsBatchNormNeck', input_features=1024),
    ],
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=1024,
        loss=dict(type='CrossEntropyLoss'),
        init_cfg=[dict(type='TruncNormal', layer='Linear', std=0.01)]),
    # Swin normalises with the ImageNet statistics (RGB order); a leaf
    # config adds the dataset's channel order and class count with
    # `data_preprocessor=_base_.data_preprocessor`.
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375]))
