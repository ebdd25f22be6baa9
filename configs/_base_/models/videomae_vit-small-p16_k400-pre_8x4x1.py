# The paper's video recipe (videomae_vit-base-p16_k400-pre_8x4x1.py) at ViT-S
# width (videomae_vit-small-p16.py): VideoMAE ViT-S/16 self-supervised on
# Kinetics-400 (1600 epochs, pre-train checkpoint of
# https://github.com/MCG-NJU/VideoMAE/blob/main/MODEL_ZOO.md), converted once
# (layout detected from the keys):
#   python tools/convert_ckpt.py checkpoint.pth \
#       checkpoints/videomae_vit-small-p16_k400-pre-1600e_mmaction.pth
_base_ = ['./videomae_vit-base-p16_k400-pre_8x4x1.py']

pretrained = 'checkpoints/videomae_vit-small-p16_k400-pre-1600e_mmaction.pth'

model = dict(
    backbone=dict(
        embed_dims=384, depth=12, num_heads=6,
        init_cfg=dict(checkpoint=pretrained)),
    cls_head=dict(in_channels=384))
