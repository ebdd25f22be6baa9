# The paper's video recipe (videomae_vit-base-p16_k400-pre_8x4x1.py) at ViT-H
# width (videomae_vit-huge-p16.py): VideoMAE ViT-H/16 self-supervised on
# Kinetics-400 (1600 epochs, pre-train checkpoint of
# https://github.com/MCG-NJU/VideoMAE/blob/main/MODEL_ZOO.md), converted once:
#   python tools/convert_ckpt.py checkpoint.pth \
#       checkpoints/videomae_vit-huge-p16_k400-pre-1600e_mmaction.pth
# Memory: see videomae_vit-large-p16_k400-pre_8x4x1.py (fewer clips per GPU
# with optim_wrapper.accumulative_counts; sharded full fine-tuning:
# configs/fsdp/).
_base_ = ['./videomae_vit-base-p16_k400-pre_8x4x1.py']

pretrained = 'checkpoints/videomae_vit-huge-p16_k400-pre-1600e_mmaction.pth'

model = dict(
    backbone=dict(
        embed_dims=1280, depth=32, num_heads=16,
        init_cfg=dict(checkpoint=pretrained)),
    cls_head=dict(in_channels=1280))
