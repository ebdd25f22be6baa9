# VideoMAE V2's ViT-g/14 (vit_giant_patch14_224: 1408 wide, 40 deep, 16 heads,
# MLP 6144 = 1408 x 48/11, 14x14 patches) as mmaction2's VideoMAE
# VisionTransformer: same block (q/v biases, no layer scale, mean pooling +
# fc_norm), so its checkpoints load with mmaction2's keys
# (tools/convert_ckpt.py). 224 / 14 = 16 x 16 patches per tubelet of 2 frames.
_base_ = ['./videomae_vit-base-p16.py']

model = dict(
    backbone=dict(
        patch_size=14, embed_dims=1408, depth=40, num_heads=16,
        mlp_ratio=48 / 11),
    cls_head=dict(in_channels=1408))
