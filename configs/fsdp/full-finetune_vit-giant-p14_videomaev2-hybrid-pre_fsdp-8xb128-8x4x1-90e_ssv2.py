# Full fine-tuning of VideoMAE V2 ViT-g/14 on Something-Something v2, sharded
# with FSDP: the recipe of the inherited file, trained by mmengine's
# FlexibleRunner with FSDPStrategy (tools/train.py takes it from `strategy`;
# adaptformer_mm/engine/strategy.py):
#   bash tools/dist_train.sh CONFIG 8
# The model is one FSDP unit: each GPU keeps 1/8 of the 1.0B weights, their
# gradients and SGD momenta between steps and gathers the weights for the
# step (per-block units need a backbone change: strategy.py, "One FSDP
# unit"). Activation checkpointing of every block (with_cp) bounds the
# activations. Checkpoints are whole ('full': one file, the unwrapped keys).
# The bf16 recipe needs GPUs; on the CPU it trains in fp32.
_base_ = [
    '../full_finetune/full-finetune_vit-giant-p14_'
    'videomaev2-hybrid-pre_8xb128-8x4x1-90e_ssv2.py'
]

model = dict(backbone=dict(with_cp=True))

strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(
        type='MMFullyShardedDataParallel', use_orig_params=True),
    state_dict_cfg='full')
