"""Stop before training when an epoch would have no iteration."""
from mmengine.dist import get_world_size


def require_training_steps(runner) -> None:
    """Raise when the training dataloader gives no batch.

    With ``drop_last=True`` (the recipes whose head or neck normalises with
    batch statistics drop the last incomplete batch), a training set whose
    share per process is smaller than one batch gives an epoch of zero
    iterations, and mmengine stops later, in its scheduler, with
    "`epoch_length` must be a positive integer, but got 0". This names the
    keys instead. The dataloader is the one ``runner.train()`` then uses
    (mmengine builds the training loop once).
    """
    loader = runner.train_dataloader
    if loader is None or len(loader) > 0:
        return
    cfg = runner.cfg.get('train_dataloader') or {}
    samples = len(loader.dataset)
    processes = get_world_size()
    raise ValueError(
        f'train_dataloader gives no batch: {samples} training sample(s) on '
        f'{processes} process(es) at train_dataloader.batch_size='
        f'{cfg.get("batch_size", loader.batch_size)} with '
        f'train_dataloader.drop_last={cfg.get("drop_last", False)} leave '
        'less than one batch per process. Lower the batch size (with '
        '--auto-scale-lr the learning rate follows), train on fewer GPUs, '
        'or set train_dataloader.drop_last=False (with a BatchNorm head, '
        "a process's last batch must then not hold a single sample).")
