# mmaction2's VideoMAE ViT-S/16 recognizer (384 wide, 12 deep, 6 heads; 16
# frames, tubelet 2): the ViT-B file at another width.
_base_ = ['./videomae_vit-base-p16.py']

model = dict(
    backbone=dict(embed_dims=384, depth=12, num_heads=6),
    cls_head=dict(in_channels=384))
