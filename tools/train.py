"""Train a recognizer / classifier from a config with mmengine's Runner.

Same command line as mmaction2's ``tools/train.py``; in addition it applies
the project's stack fixes, runs with the choices the config switches on
(``strict_loading``, ``fold_frozen_param_warnings``: see
``adaptformer_mm/engine/choices.py``), trains multi-process without CUDA
(gloo), refuses to overwrite checkpoints of an earlier run, saves a
resumable checkpoint when stopped with Ctrl-C, with ``--test`` evaluates the
final weights on the test split (mmengine's test loop; metrics also in
``WORK_DIR/test_metrics.json``) and prints where the results are. A config's ``AmpOptimWrapper`` (the paper
recipes' bf16 autocast) becomes an fp32 ``OptimWrapper``, with one warning,
on a machine without a GPU, so that a recipe can be tried on a laptop.
"""
import glob
import json
import os.path as osp
import sys
import warnings

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import adaptformer_mm  # noqa: E402,F401  (stack fixes + registrations)
import torch  # noqa: E402
from adaptformer_mm.engine import (  # noqa: E402
    build_flexible_runner, require_training_steps, runtime_choices,
    setup_cpu_distributed, uses_strategy)
from adaptformer_mm.engine.hooks.interrupt import (  # noqa: E402
    ensure_interrupt_hook, interrupt_report)
from adaptformer_mm.planner import log_training_plan  # noqa: E402
from adaptformer_mm.cli import (  # noqa: E402
    add_runner_options, parse_runner_args, runner_parser, set_work_dir)
from mmengine.config import Config  # noqa: E402
from mmengine.device import (  # noqa: E402
    is_cuda_available, is_mlu_available, is_musa_available, is_npu_available)
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402


def parse_args(argv=None):
    parser = runner_parser('Train a model', 'the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or without a path from the latest '
        'checkpoint in the work dir')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision (needs a GPU)')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by (total batch) / auto_scale_lr.base_batch_size')
    parser.add_argument(
        '--test',
        action='store_true',
        help='after training, evaluate the final weights on the test split '
        'and write the metrics to WORK_DIR/test_metrics.json')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument(
        '--diff-rank-seed',
        action='store_true',
        help='set different seeds for different ranks')
    parser.add_argument(
        '--deterministic',
        action='store_true',
        help='use deterministic algorithms where torch has them')
    add_runner_options(
        parser, 'override config settings, e.g. model.backbone.depth=2 '
        'train_dataloader.batch_size=8')
    return parse_runner_args(parser, argv)


def merge_args(cfg, args):
    """Merge CLI arguments into the config, as mmaction2 does."""
    if args.test and cfg.get('test_dataloader') is None:
        raise KeyError(f'--test needs test_dataloader, test_cfg and '
                       f'test_evaluator in the config ({args.config})')
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    cfg.launcher = args.launcher

    set_work_dir(cfg, args.work_dir, args.config)

    if args.amp:
        if not torch.cuda.is_available():
            raise RuntimeError(
                '--amp needs a GPU: mmengine\'s AmpOptimWrapper does not run '
                'on the CPU. Train without --amp here.')
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError(
                f'--amp works with optim_wrapper.type OptimWrapper or '
                f'AmpOptimWrapper, but the config sets {wrapper!r}')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg:
            raise KeyError(
                '--auto-scale-lr needs auto_scale_lr.base_batch_size in the '
                'config (the total batch its lr was set for)')
        cfg.auto_scale_lr.enable = True

    if cfg.get('randomness', None) is None:
        cfg.randomness = dict(
            seed=args.seed,
            diff_rank_seed=args.diff_rank_seed,
            deterministic=args.deterministic)
    elif args.seed is not None or args.deterministic:
        if args.seed is not None:
            cfg.randomness.seed = args.seed
        if args.deterministic:
            cfg.randomness.deterministic = True

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    fp32_without_amp_device(cfg)
    return cfg


# Arguments of AmpOptimWrapper that OptimWrapper does not take.
AMP_ONLY_ARGS = ('dtype', 'loss_scale', 'use_fsdp')


def fp32_without_amp_device(cfg):
    """Train in fp32 where ``AmpOptimWrapper`` cannot run.

    mmengine's ``AmpOptimWrapper`` needs a GPU (or NPU, MLU, MUSA) and stops
    any other run with a bare assertion. Without one, a config's
    ``AmpOptimWrapper`` becomes an ``OptimWrapper`` with the same optimizer,
    clipping and accumulation (autocast and loss scaling dropped), and one
    warning says so. Returns the warning, or None when nothing changed.
    """
    wrapper = cfg.get('optim_wrapper') or {}
    kind = str(wrapper.get('type', 'OptimWrapper')).split('.')[-1]
    if kind != 'AmpOptimWrapper' or (
            is_cuda_available() or is_npu_available() or is_mlu_available()
            or is_musa_available()):
        return None
    dtype = wrapper.get('dtype') or 'float16'
    cfg.optim_wrapper = dict(
        {k: v for k, v in wrapper.items() if k not in AMP_ONLY_ARGS},
        type='OptimWrapper')
    message = (
        f"optim_wrapper.type='AmpOptimWrapper' ({dtype} autocast) needs a GPU "
        'and none is available: training in fp32 with OptimWrapper instead '
        '(same optimizer and schedule; on a GPU the config runs as written)')
    warnings.warn(message, stacklevel=2)
    return message


def check_work_dir(cfg) -> None:
    """Refuse to start a fresh run over the checkpoints of an earlier one.

    mmengine would silently overwrite ``epoch_N.pth`` of the earlier run.
    """
    if cfg.get('resume', False) or not osp.isdir(cfg.work_dir):
        return
    found = sorted(glob.glob(osp.join(cfg.work_dir, '*.pth')))
    if found:
        raise FileExistsError(
            f'work dir {cfg.work_dir} already holds checkpoints of an earlier '
            f'run ({", ".join(osp.basename(f) for f in found[:3])}'
            f'{", ..." if len(found) > 3 else ""}). Continue it with '
            '--resume, or start afresh with another --work-dir.')


def report(runner) -> None:
    if runner.rank != 0:
        return
    last = osp.join(runner.work_dir, 'last_checkpoint')
    ckpt = open(last).read().strip() if osp.isfile(last) else '(none saved)'
    print(f'\nwork dir:   {osp.abspath(runner.work_dir)}\n'
          f'log:        {osp.abspath(runner.log_dir)}\n'
          f'checkpoint: {ckpt}', flush=True)


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)
    check_work_dir(cfg)
    setup_cpu_distributed(cfg, args.launcher)
    with runtime_choices(cfg):
        train(cfg, args)


def train(cfg, args) -> None:
    if uses_strategy(cfg):  # FSDP / DeepSpeed: mmengine.runner.FlexibleRunner
        runner = build_flexible_runner(cfg)
    elif 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    require_training_steps(runner)
    log_training_plan(cfg)  # memory per GPU and the batch that fits
    # Ctrl-C stops after the current iteration with a resumable checkpoint.
    interrupt = ensure_interrupt_hook(runner)
    try:
        runner.train()
    except KeyboardInterrupt:
        if runner.rank == 0:
            print(interrupt_report(runner, interrupt), flush=True)
        sys.exit(130)  # the shell's status for a run ended by SIGINT
    if args.test:
        metrics = runner.test()
        if runner.rank == 0:
            with open(osp.join(runner.work_dir, 'test_metrics.json'),
                      'w') as f:
                json.dump(metrics, f, indent=2)
    report(runner)


if __name__ == '__main__':
    main()
