# mmaction2's VideoMAE ViT-L/16 recognizer (1024 wide, 24 deep, 16 heads),
# as mmaction2's own configs/recognition/videomae/
# vit-large-p16_videomae-k400-pre_16x4x1_kinetics-400.py builds it.
_base_ = ['./videomae_vit-base-p16.py']

model = dict(
    backbone=dict(embed_dims=1024, depth=24, num_heads=16),
    cls_head=dict(in_channels=1024))
