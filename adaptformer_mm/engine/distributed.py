"""Multi-process training on machines without CUDA (gloo), with mmengine's Runner.

mmengine 0.10.7 assumes a GPU in two places of its ``pytorch`` launcher path:
``init_dist`` calls ``torch.cuda.set_device(local_rank)``, and ``Runner.wrap_model``
builds DDP with ``device_ids=[LOCAL_RANK]``, which DDP rejects for a CPU module.
Without touching site-packages we (1) create the gloo process group ourselves
before the Runner exists (the Runner then skips ``init_dist``) and (2) give it a
DDP wrapper that drops ``device_ids`` for CPU modules.
"""
import os

import torch
import torch.distributed as dist
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class DeviceAwareDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that also wraps CPU modules.

    DDP accepts ``device_ids`` only for single-GPU modules; for a module whose
    parameters live on the CPU it must be ``None``. On GPU this class behaves
    exactly like its parent.
    """

    def __init__(self, module, device_ids=None, **kwargs):
        first = next(module.parameters(), None)
        if first is not None and first.device.type == 'cpu':
            device_ids = None
        super().__init__(module=module, device_ids=device_ids, **kwargs)


def setup_cpu_distributed(cfg, launcher: str) -> bool:
    """Prepare ``cfg`` and the process group for a CUDA-less distributed run.

    Call it before building the Runner. Does nothing (and returns False) when
    the launcher is ``none`` or CUDA is available, so GPU runs are untouched.

    Args:
        cfg (mmengine.Config): the run's config; ``env_cfg.dist_cfg.backend``
            and ``model_wrapper_cfg`` are set for gloo.
        launcher: the ``--launcher`` value; only ``pytorch`` (torchrun,
            ``tools/dist_train.sh``) is supported without CUDA.

    Returns:
        True if a gloo process group is now set up.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher != 'pytorch':
        raise ValueError(
            f'--launcher {launcher} needs CUDA; on a machine without GPUs use '
            '--launcher pytorch (tools/dist_train.sh)')
    missing = [k for k in ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR',
                           'MASTER_PORT') if k not in os.environ]
    if missing:
        raise RuntimeError(f'--launcher pytorch expects torchrun to set '
                           f'{missing}; start it with tools/dist_train.sh')
    env_cfg = cfg.setdefault('env_cfg', {})
    env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    if wrapper.get('type', 'MMDistributedDataParallel') in (
            'MMDistributedDataParallel', MMDistributedDataParallel):
        wrapper['type'] = 'DeviceAwareDistributedDataParallel'
        wrapper.setdefault('broadcast_buffers', False)
        wrapper.setdefault('find_unused_parameters',
                           cfg.get('find_unused_parameters', False))
        cfg.model_wrapper_cfg = wrapper
    if not dist.is_initialized():
        dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']))
    return True
