# Runtime of the parameter-efficient recipes (AdaptFormer, VPT, linear
# probing): default_runtime.py, and checkpoints that hold only what trains.
# TunableCheckpointHook cuts every checkpoint CheckpointHook writes down to the
# trainable tensors (ViT-B: a few MB instead of ~350 MB; optimizer, scheduler
# and message-hub state kept, so --resume works) and writes WORK_DIR/task.pth
# after training. Loading one (--resume, load_from, tools/test.py,
# tools/demo.py) takes the frozen tensors from model.backbone.init_cfg's
# Pretrained file and checks them against the checksum recorded at training.
# Full fine-tuning keeps default_runtime.py: there every tensor trains.
_base_ = ['./default_runtime.py']

custom_hooks = _base_.custom_hooks + [dict(type='TunableCheckpointHook')]
