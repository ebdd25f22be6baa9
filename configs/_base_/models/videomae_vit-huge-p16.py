# mmaction2's VideoMAE ViT-H/16 recognizer (1280 wide, 32 deep, 16 heads;
# VideoMAE's vit_huge_patch16_224).
_base_ = ['./videomae_vit-base-p16.py']

model = dict(
    backbone=dict(embed_dims=1280, depth=32, num_heads=16),
    cls_head=dict(in_channels=1280))
