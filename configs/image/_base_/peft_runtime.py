# Runtime of the parameter-efficient image recipes (AdaptFormer, VPT, linear
# probing): default_runtime.py, and checkpoints that hold only what trains
# (TunableCheckpointHook; see configs/_base_/peft_runtime.py for the video
# side). Full fine-tuning keeps default_runtime.py: there every tensor trains.
_base_ = ['./default_runtime.py']

custom_hooks = _base_.custom_hooks + [dict(type='TunableCheckpointHook')]
