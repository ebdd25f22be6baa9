# AdaptFormer-64 on VideoMAE V2 ViT-g/14, Something-Something v2, with FSDP:
# the recipe of the inherited file (7,267,840 adapter parameters + fc_norm +
# head train), trained by mmengine's FlexibleRunner with FSDPStrategy:
#   bash tools/dist_train.sh CONFIG 8
# The model is one FSDP unit with use_orig_params=True: the only mode in which
# FSDP accepts frozen and trainable tensors side by side; the tunable-only
# checkpoints and the task file keep the model's own keys
# (adaptformer_mm/engine/strategy.py). FSDP shards weights, gradients and
# SGD state between steps; the frozen backbone has no gradients or state, so
# for AdaptFormer the saving is the resting weights only.
_base_ = [
    '../adaptformer/adaptformer-64_vit-giant-p14_'
    'videomaev2-hybrid-pre_8xb128-8x4x1-90e_ssv2.py'
]

model = dict(backbone=dict(with_cp=True))

strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(
        type='MMFullyShardedDataParallel', use_orig_params=True),
    state_dict_cfg='full')
