# ViT-B/16 pre-trained by MAE on ImageNet-1k (self-supervised; the paper's
# image backbone, Table 1), as an mmpretrain ImageClassifier with the paper's
# head: BatchNorm1d(affine=False, eps=1e-6) then Linear with trunc-normal
# std 0.01 (MAE's linear-probe head, mmpretrain's ClsBatchNormNeck +
# VisionTransformerClsHead). Method configs replace the backbone type.
#
# Checkpoint: https://dl.fbaipublicfiles.com/mae/pretrain/mae_pretrain_vit_base.pth
# converted to mmpretrain keys (nothing here downloads):
#   python tools/convert_image_ckpt.py mae_pretrain_vit_base.pth \
#       checkpoints/vit-base-p16_mae-in1k_mmpretrain.pth
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='TunableViT',
        arch='base',
        img_size=224,
        patch_size=16,
        out_type='cls_token',
        final_norm=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/vit-base-p16_mae-in1k_mmpretrain.pth',
            prefix='backbone.')),
    neck=dict(type='ClsBatchNormNeck', input_features=768),
    head=dict(
        type='VisionTransformerClsHead',
        num_classes=1000,
        in_channels=768,
        loss=dict(type='CrossEntropyLoss'),
        init_cfg=[dict(type='TruncNormal', layer='Linear', std=0.01)]),
    # MAE normalises with the ImageNet statistics (RGB order). A leaf config
    # adds the dataset's channel order and class count with
    # `data_preprocessor=_base_.data_preprocessor` (mmengine forbids one key
    # in two bases, so the dataset base cannot set it here).
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375]))
