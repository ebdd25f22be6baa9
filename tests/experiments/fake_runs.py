"""Stand-ins for a training run: the files ``tools/train.py --test`` leaves in
its work dir, written without training, and the same as a script for
stand-in launchers (``srun``, torchrun's ``python``)."""
import json
import os
import os.path as osp
import re
import sys


def write_results(work_dir: str, val: float, test: float,
                  trainable: int = 10, total: int = 100) -> None:
    """What a finished run leaves: scalars, test metrics, the tunable
    summary, a checkpoint and ``last_checkpoint``."""
    os.makedirs(osp.join(work_dir, '20260101_000000', 'vis_data'),
                exist_ok=True)
    with open(osp.join(work_dir, '20260101_000000', 'vis_data',
                       'scalars.json'), 'w') as f:
        f.write(json.dumps(dict(loss=1.0, step=1)) + '\n')
        f.write(json.dumps({'acc/top1': val, 'step': 1}) + '\n')
    checkpoint = osp.join(work_dir, 'epoch_1.pth')
    open(checkpoint, 'w').close()
    with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
        f.write(checkpoint)
    with open(osp.join(work_dir, 'tunable_summary.json'), 'w') as f:
        json.dump(dict(trainable=trainable, total=total, groups={}), f)
    with open(osp.join(work_dir, 'test_metrics.json'), 'w') as f:
        json.dump({'acc/top1': test}, f)


def fake_val(lr: float, method: str) -> float:
    """Val top-1 of a fake run: 'lin*' methods best at the smallest lr,
    the others at the largest, and so is the mean of one of each."""
    return 0.5 - lr if method.startswith('lin') else 0.5 + 2 * lr


def fake_trainer(argv) -> int:
    """A launcher's training step, faked: finds the stage config and
    ``--work-dir`` in ``argv`` (a ``srun`` or ``python -m
    torch.distributed.run`` command line), records ``argv`` in
    ``WORK_DIR/launched.jsonl`` and writes results from the stage config's
    lr and seed. Exit 1 where the work dir's
    name is in ``$FAIL_STAGES``."""
    work_dir = argv[argv.index('--work-dir') + 1]
    config = next(a for a in argv if a.endswith('_config.py'))
    with open(osp.join(work_dir, 'launched.jsonl'), 'a') as f:
        f.write(json.dumps(dict(argv=argv, cuda=os.environ.get(
            'CUDA_VISIBLE_DEVICES'))) + '\n')
    name = osp.basename(work_dir)
    if name in os.environ.get('FAIL_STAGES', '').split(','):
        return 1
    text = open(config).read()
    lr = float(re.search(r"'lr': ([0-9.e-]+)", text).group(1))
    seed = int(re.search(r"'seed': (\d+)", text).group(1))
    write_results(work_dir, fake_val(lr, name), 0.3 + 0.01 * seed)
    return 0


if __name__ == '__main__':
    sys.exit(fake_trainer(sys.argv[1:]))
