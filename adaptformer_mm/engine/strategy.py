"""Sharded training (FSDP) through mmengine 0.10's ``FlexibleRunner``.

Data-parallel full fine-tuning keeps all weights, gradients and optimizer
moments of ViT-H / ViT-g on every GPU; FSDP shards them. A config that sets
``strategy`` (mmengine's ``FSDPStrategy``; ``DeepSpeedStrategy`` only where
the ``deepspeed`` package is installed: untested here) is trained by
:func:`build_flexible_runner` with :class:`ShardedRunner`, mmengine's
``FlexibleRunner`` with one change (below); ``tools/train.py`` picks it when
``cfg.strategy`` is set. What this module adds to mmengine, and why:

* **Frozen parameters.** FSDP flattens the parameters of each wrapped unit
  into one ``FlatParameter``. With ``use_orig_params=False`` all tensors of a
  unit must share ``requires_grad`` ("Must flatten tensors with uniform
  ``requires_grad``"): a PEFT model (frozen blocks, trainable adapters, norm
  and head) fails at wrap time, whole-model or per-block (a block holds its
  frozen MLP and its adapter). ``use_orig_params=True`` (mmengine's default
  for ``MMFullyShardedDataParallel``, kept here; ``False`` is refused unless
  every parameter trains) accepts mixed units; frozen tensors get no
  gradient, so the optimizer never moves them, and the parameters keep their
  names for ``paramwise_cfg``.
* **CPU (gloo).** mmengine passes ``device_id=LOCAL_RANK`` (a CUDA index) to
  FSDP; without CUDA the FSDP wrapper gets ``device_id='cpu'`` and the process
  group is the gloo one ``setup_cpu_distributed`` made (``tools/train.py``).
  Torch's FSDP then trains on the CPU, which is what the tests run.
* **Hooks see whole parameters.** Under FSDP a rank holds only a shard of each
  parameter between steps (``named_parameters()`` yields 1/N slices), so the
  trainable summary, the tunable-only checkpoints (their filter and the
  frozen checksum) and the task file would read shards.
  :meth:`ShardedRunner.call_hook` runs the stages whose hooks read weights
  (:data:`WHOLE_PARAMETER_STAGES`) inside ``FSDP.summon_full_params`` (every
  rank takes part, nothing is written back), so those hooks work unchanged.
  Their names are the model's own because the model is wrapped as one unit.
* **One FSDP unit.** The project's backbones run their blocks through
  ``TunableBackboneMixin.forward_block`` (fused attention, frozen-graph
  skipping, checkpointing), which reads ``block.attn.qkv.weight`` and the
  like directly instead of calling the block: an ``auto_wrap_policy`` that
  makes a block (or its attention) an FSDP unit is never gathered and the
  first forward fails on a 1-D shard ("mat2 must be a matrix"; measured on
  the CPU). Such a policy is refused for them; the whole model is one unit,
  which shards the weights, gradients and optimizer state at rest and gathers
  the weights for the step. Per-block units need the backbone to call each
  block module (a change in ``models/backbones/``).
* **Checkpoints** are whole (``state_dict_cfg='full'``: one file on rank 0 with
  the unwrapped model's keys, loadable without FSDP); mmengine's default
  ``'local'`` writes one shard per rank.
"""
from contextlib import contextmanager

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import FlexibleRunner

__all__ = [
    'FSDP_STRATEGY', 'ShardedRunner', 'WHOLE_PARAMETER_STAGES',
    'build_flexible_runner', 'prepare_strategy', 'uses_strategy'
]

FSDP_STRATEGY = 'FSDPStrategy'
# Hook stages whose hooks read parameter values or counts: the summary
# (before_train), tunable-only saving and loading, the task file (after_train).
WHOLE_PARAMETER_STAGES = ('before_train', 'before_save_checkpoint',
                          'after_load_checkpoint', 'after_train')


def uses_strategy(cfg) -> bool:
    """Whether ``cfg`` asks for mmengine's ``FlexibleRunner`` (it sets
    ``strategy``)."""
    return cfg.get('strategy') is not None


def _type_name(strategy) -> str:
    kind = strategy.get('type', '')
    return kind if isinstance(kind, str) else kind.__name__


def _has_hook(cfg, name: str) -> bool:
    return any(
        isinstance(h, dict) and str(h.get('type', '')).endswith(name)
        for h in cfg.get('custom_hooks') or [])


def _tunable_backbone(cfg) -> bool:
    """Whether ``cfg.model.backbone`` is one of the project's tunable
    backbones (video or image)."""
    from adaptformer_mm.models.backbones.tunable_base import \
        TunableBackboneMixin
    kind = cfg.get('model', {}).get('backbone', {}).get('type')
    if not isinstance(kind, str):
        return isinstance(kind, type) and issubclass(kind,
                                                     TunableBackboneMixin)
    from mmaction.registry import MODELS as VIDEO
    registries = [VIDEO]
    try:
        from mmpretrain.registry import MODELS as IMAGE
        registries.append(IMAGE)
    except ImportError:  # mmpretrain is optional for video
        pass
    for registry in registries:
        cls = registry.get(kind)
        if isinstance(cls, type) and issubclass(cls, TunableBackboneMixin):
            return True
    return False


def prepare_strategy(cfg) -> None:
    """Check ``cfg.strategy`` and fit it to this machine, in place.

    Raises ``ImportError`` (DeepSpeed not installed), ``ValueError`` (a
    setting FSDP cannot train this model with, or a launch without a process
    group) naming the key and what would be valid.
    """
    strategy = cfg.strategy
    kind = _type_name(strategy)
    if kind == 'DeepSpeedStrategy':
        try:
            import deepspeed  # noqa: F401
        except ImportError as e:
            raise ImportError(
                "strategy.type='DeepSpeedStrategy' needs the deepspeed "
                'package, which is not installed (it is not one of this '
                "project's requirements and is untested here); use "
                "strategy.type='FSDPStrategy' instead") from e
        return
    if kind != FSDP_STRATEGY:
        return
    if cfg.get('launcher', 'none') == 'none' and not dist.is_initialized():
        raise ValueError(
            f"strategy.type='{FSDP_STRATEGY}' shards over a process group: "
            'launch with tools/dist_train.sh CONFIG GPUS (1 GPU works too), '
            'not with --launcher none')
    # (ConfigDict.setdefault stores a copy of a new dict: read it back.)
    strategy.setdefault('model_wrapper', {})
    wrapper = strategy.model_wrapper
    wrapper.setdefault('type', 'MMFullyShardedDataParallel')
    full = cfg.get('model', {}).get('backbone', {}).get('tuning') == 'full'
    if wrapper.get('use_orig_params', True) is not True and not full:
        raise ValueError(
            'strategy.model_wrapper.use_orig_params=False with frozen '
            'parameters: FSDP then needs one requires_grad for all tensors '
            'of a wrapped unit, and a frozen block beside its adapter or '
            'prompt has two (wrapping fails: "Must flatten tensors with '
            'uniform requires_grad"). Valid: use_orig_params=True (the '
            "default); False only with model.backbone.tuning='full'")
    wrapper.setdefault('use_orig_params', True)
    policy = wrapper.get('auto_wrap_policy')
    if policy is not None and _tunable_backbone(cfg):
        raise ValueError(
            f'strategy.model_wrapper.auto_wrap_policy={policy!r} with '
            f'model.backbone.type={cfg.model.backbone.type!r}: this backbone '
            'runs its blocks through forward_block, not through each block '
            "module, so FSDP would never gather a wrapped block's weights. "
            'Valid: auto_wrap_policy=None (the whole model is one FSDP unit)')
    if policy is not None and _has_hook(cfg, 'TunableCheckpointHook'):
        raise ValueError(
            f'strategy.model_wrapper.auto_wrap_policy={policy!r} with '
            'TunableCheckpointHook: per-unit wrapping renames the parameters '
            'the hook reads (_fsdp_wrapped_module.), so tunable-only '
            'checkpoints would miss them. Valid: auto_wrap_policy=None')
    strategy.setdefault('state_dict_cfg', 'full')
    if not torch.cuda.is_available():
        # FSDP's compute device; mmengine's default is the CUDA index
        # LOCAL_RANK.
        wrapper['device_id'] = 'cpu'
        cfg.setdefault('env_cfg', {})
        cfg.env_cfg.setdefault('dist_cfg', {})
        cfg.env_cfg.dist_cfg['backend'] = 'gloo'


@RUNNERS.register_module()
class ShardedRunner(FlexibleRunner):
    """mmengine's ``FlexibleRunner`` whose weight-reading hooks see whole
    parameters.

    The stages in :data:`WHOLE_PARAMETER_STAGES` run inside
    ``FSDP.summon_full_params(model, writeback=False)`` when the model is
    FSDP-wrapped: every rank gathers the full parameters (a collective, so
    every rank calls every hook stage, which the runner does anyway), the
    hooks read them under the unwrapped names, and the shards are restored
    unchanged afterwards. Other stages, and non-FSDP strategies, run as in
    ``FlexibleRunner``.
    """

    @contextmanager
    def _whole_parameters(self, fn_name: str):
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
        model = getattr(self, 'model', None)
        if fn_name not in WHOLE_PARAMETER_STAGES or not isinstance(
                model, FSDP):
            yield
            return
        with FSDP.summon_full_params(model, writeback=False):
            # On the CPU a hook's ``tensor.numpy()`` (the checksum) would
            # share the gathered storage and pin it: FSDP could not free it
            # on exit ("Trying to resize storage that is not resizable").
            # Hooks read copies there; on a GPU ``.cpu()`` copies anyway.
            views = [(p, p.data) for p in model.parameters()
                     if p.device.type == 'cpu']
            for param, data in views:
                param.data = data.clone()
            try:
                yield
            finally:
                for param, data in views:
                    param.data = data

    def call_hook(self, fn_name: str, **kwargs) -> None:
        with self._whole_parameters(fn_name):
            super().call_hook(fn_name, **kwargs)


def build_flexible_runner(cfg: Config) -> FlexibleRunner:
    """The runner for a config with ``strategy``: :func:`prepare_strategy`,
    then :class:`ShardedRunner` (or ``cfg.runner_type`` when it names another
    FlexibleRunner)."""
    prepare_strategy(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return ShardedRunner.from_cfg(cfg)
