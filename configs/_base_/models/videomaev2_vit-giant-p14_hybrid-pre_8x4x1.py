# The paper's video recipe (videomae_vit-base-p16_k400-pre_8x4x1.py) on
# VideoMAE V2's ViT-g/14 (videomaev2_vit-giant-p14.py), self-supervised on
# UnlabeledHybrid (1.35M clips, 1200 epochs, no labels; "vit_g_hybrid_pt_1200e"
# of https://github.com/OpenGVLab/VideoMAEv2/blob/master/docs/MODEL_ZOO.md,
# weights after a download request form), converted once (the pre-training
# layout is detected from its keys, the decoder dropped):
#   python tools/convert_ckpt.py vit_g_hybrid_pt_1200e.pth \
#       checkpoints/videomaev2_vit-giant-p14_hybrid-pre-1200e_mmaction.pth
# 8 frames at patch 14: 4 x 16 x 16 = 1024 tokens (ViT-B/16: 784).
# Memory: full fine-tuning does not fit data-parallel; configs/fsdp/ shards
# it (mmengine FlexibleRunner + FSDPStrategy).
_base_ = ['./videomae_vit-base-p16_k400-pre_8x4x1.py']

pretrained = \
    'checkpoints/videomaev2_vit-giant-p14_hybrid-pre-1200e_mmaction.pth'

model = dict(
    backbone=dict(
        patch_size=14, embed_dims=1408, depth=40, num_heads=16,
        mlp_ratio=48 / 11, init_cfg=dict(checkpoint=pretrained)),
    cls_head=dict(in_channels=1408))
