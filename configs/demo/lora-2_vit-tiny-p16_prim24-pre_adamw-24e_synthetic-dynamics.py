# LoRA: rank 2 (alpha 2) on qkv and proj of every block; backbone frozen.
# Rank 2 of width 64 is about LoRA-8's share of ViT-B's width (8 / 768).
_base_ = ['./_base_transfer_vit-tiny-p16_prim24-pre_adamw-24e_synthetic-dynamics.py']
model = dict(
    backbone=dict(type='LoRAVideoViT', lora_cfg=dict(rank=2, alpha=2)))
