# AdaptFormer: an AdaptMLP (bottleneck 8, s = 0.1, parallel) beside the MLP of
# every block; backbone frozen. Bottleneck 8 of width 64 is AdaptFormer-64's
# share of ViT-B (~1.4% of the backbone).
_base_ = ['./_base_transfer_vit-tiny-p16_prim24-pre_adamw-24e_synthetic-dynamics.py']
model = dict(
    backbone=dict(type='AdaptFormerVideoViT', adapter_cfg=dict(bottleneck=8)))
