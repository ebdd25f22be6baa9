"""What the multi-process tests (DDP, FSDP) share: the demo config made
deterministic, so that N processes can be compared with one, and a free
port for the process group."""
import socket

from ..conftest import DEMO_CONFIG


def deterministic_demo_config(data_root: str, num_train: int,
                              extra: str) -> str:
    """Config text: the demo config with no random augmentation (the val
    pipeline trains), no workers, no validation or test, one epoch of
    ``num_train`` synthetic clips; ``extra`` (config lines) is added after
    the base and may override any of it."""
    return f'''
_base_ = [{DEMO_CONFIG!r}]
synthetic = dict(task='direction', num_train={num_train}, num_val=4,
                 num_frames=16, size=64, seed=0)
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root={data_root!r}, pipeline={{{{_base_.val_pipeline}}}},
                 **synthetic))
train_cfg = dict(max_epochs=1)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_dataloader = None
test_evaluator = None
test_cfg = None
default_hooks = dict(checkpoint=dict(save_best=None))
randomness = dict(seed=0, deterministic=True)
{extra}'''.replace('{{{{', '{{').replace('}}}}', '}}')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]
