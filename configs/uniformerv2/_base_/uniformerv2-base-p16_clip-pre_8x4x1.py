# UniFormerV2-B/16 from the CLIP visual encoder, 8 frames: mmaction2's model
# of recognition/uniformerv2/uniformerv2-base-p16-res224_clip_8xb32-u8_
# kinetics400-rgb.py (K400 84.3 top-1 in mmaction2's metafile, fully
# fine-tuned from CLIP with AdamW over uniformly sampled frames): CLIP ViT-B/16
# blocks without local MHRA (no_lmhra=True), 4 global UniBlocks reading
# blocks 8-11, UniFormerHead, CLIP's input normalisation as mmaction2 sets it.
# Method configs beside this file pick the backbone type (TunableUniFormerV2
# for linear probing / full fine-tuning, AdaptFormerUniFormerV2,
# VPTUniFormerV2, LoRAUniFormerV2), the data set and the project's shared
# SGD recipe (method-spec "Baselines"; 8 frames at stride 4).
#
# What trains under tuning='peft' is train_uniblocks (TunableUniFormerV2):
# True (default) trains the 4 UniBlocks, the temporal CLS token and the
# fusion (balance, norm): 28,446,720 parameters, new modules when starting
# from CLIP (UniFormerV2 starts their output projections at zero); False
# freezes them with CLIP, so only the method and the head train.
#
# Weights: mmaction2's CLIP ViT-B/16 visual encoder (bare keys, 2-D patch
# kernel inflated over time at load; nothing here downloads):
#   https://download.openmmlab.com/mmaction/v1.0/recognition/uniformerv2/clipVisualEncoder/vit-base-p16-res224_clip-rgb_20221219-b8a5da86.pth
# mmaction2's K400 UniFormerV2-B/16 (a recognizer: init_cfg prefix=
# 'backbone.', its UniBlocks pretrained, so train_uniblocks=False fits it):
#   https://download.openmmlab.com/mmaction/v1.0/recognition/uniformerv2/uniformerv2-base-p16-res224_clip_8xb32-u8_kinetics400-rgb/uniformerv2-base-p16-res224_clip_8xb32-u8_kinetics400-rgb_20230313-e29fc968.pth
pretrained = 'checkpoints/vit-base-p16-res224_clip-rgb_20221219-b8a5da86.pth'
num_frames = 8

model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='TunableUniFormerV2',
        input_resolution=224,
        patch_size=16,
        width=768,
        layers=12,
        heads=12,
        t_size=num_frames,
        dw_reduction=1.5,
        backbone_drop_path_rate=0.,
        temporal_downsample=False,
        no_lmhra=True,
        double_lmhra=True,
        return_list=[8, 9, 10, 11],
        n_layers=4,
        n_dim=768,
        n_head=12,
        mlp_factor=4.,
        drop_path_rate=0.,
        mlp_dropout=[0.5, 0.5, 0.5, 0.5],
        # The stock option downloads the encoder at init; the Pretrained
        # init below reads a local file (and tunable-only checkpoints find
        # their frozen weights there).
        clip_pretrained=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    cls_head=dict(
        type='UniFormerHead',
        dropout_ratio=0.5,
        num_classes=400,
        in_channels=768,
        # Logits averaged over the 4 clips x 3 crops of the test protocol.
        average_clips='score'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[114.75, 114.75, 114.75],
        std=[57.375, 57.375, 57.375],
        format_shape='NCTHW'))
