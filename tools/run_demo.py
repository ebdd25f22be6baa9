"""The papers' comparison in miniature, on synthetic video, with no download.

1. Pre-train a tiny VideoMAE-architecture backbone, supervised, on a broad
   synthetic corpus: 3 shapes x 8 motions, 24 classes
   (``configs/demo/videomae_vit-tiny-p16_scratch_adamw-12e_synthetic-prim24.py``).
   The checkpoint is cached under ``DATA_ROOT/pretrained/``, keyed by the
   config and seed, and reused by later runs.
2. Transfer it to task B (does a bar, a shape the corpus never had, grow,
   shrink or rotate which way) four ways: linear probe, VPT, AdaptFormer,
   full fine-tuning (``configs/demo/*_prim24-pre_*_synthetic-dynamics.py``),
   each loading the checkpoint as a VideoMAE checkpoint is loaded. Every
   method first trains at each lr of a small grid (seed 0); the val split
   then decides the lr of two protocols:

   - ``shared``: the papers' protocol, one lr for every method (the grid
     value best on val averaged over the methods);
   - ``tuned``: the VPT paper's protocol, each method's own best lr.

   Each chosen (method, lr) then trains with every transfer seed, and the
   test split (held out of every choice) gives top-1 as mean ± std.
3. Print a table like the AdaptFormer paper's Table 1 and write
   ``results.md``, ``results.json`` (every run, the grid, the choices),
   ``accuracy_vs_params.png`` (``--full``: also ``accuracy_vs_data.png``)
   and ``tsne.png`` (the test split's final features of each method, as in
   the VPT paper's pictures).

Every stage is an ordinary ``tools/train.py`` run of an ordinary config: a
short one beside the stage's folder inherits the demo config and sets the
stage's data, lr, seed and checkpoint (the command line is saved as
``command.txt`` in the stage's folder), so each can be rerun alone. Stages run ``--jobs`` at a time with ``--threads`` torch
threads each. Usage::

    python tools/run_demo.py [--work-dir DIR] [--data-root DIR]
        [--methods ...] [--protocol shared|tuned|both] [--seeds 0 1 2]
        [--lrs ...] [--tasks dynamics order] [--jobs 2] [--threads 1]
        [--quick] [--full] [--fresh-pretrain]
"""
import argparse
import functools
import hashlib
import json
import logging
import os
import os.path as osp
import re
import shlex
import shutil
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from adaptformer_mm.utils.comparison import (  # noqa: E402
    PROTOCOLS, aggregate, choose_lrs, format_grid, format_table,
    plot_accuracy_vs_data, plot_accuracy_vs_params, protocol_lr)

CONFIG_DIR = osp.join(REPO, 'configs', 'demo')
PRETRAIN_CONFIG = 'videomae_vit-tiny-p16_scratch_adamw-12e_synthetic-prim24.py'
TRANSFER_SUFFIX = '_vit-tiny-p16_prim24-pre_adamw-24e_synthetic-dynamics.py'
# Method key (the config's first name field) -> row label.
METHODS = {
    'linear-probe': 'linear probe',
    'vpt-deep-4': 'VPT-deep (4 tokens)',
    'adaptformer-8': 'AdaptFormer (r=8)',
    'full-finetune': 'full fine-tune',
}
# The VPT paper's other baselines, LoRA and an attentive probe: rows a run
# adds with --methods (not run by default, to keep the default's budget).
OPTIONAL_METHODS = {
    'partial-1': 'partial-1 (top block)',
    'bitfit': 'bias tuning (BitFit)',
    'mlp-3': 'MLP-3 head',
    'lora-2': 'LoRA (r=2)',
    'attentive-probe': 'attentive probe',
}
ALL_METHODS = {**METHODS, **OPTIONAL_METHODS}
# Downstream task -> the dataset base config the transfer stage swaps in.
TASKS = {
    'dynamics': None,  # the transfer configs' own dataset
    'order': osp.join(REPO, 'configs', '_base_', 'datasets',
                      'synthetic_order.py'),
}
DEFAULT_LRS = (2e-3, 6e-3, 2e-2)
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
SUMMARY = re.compile(r'trainable params: ([\d,]+) \|\| all params: ([\d,]+)')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument(
        '--work-dir',
        help='new folder for all stages and the report '
        '(default: work_dirs/demo/<timestamp>)')
    parser.add_argument(
        '--data-root', default='data/synthetic',
        help='where the synthetic clips and the pre-training cache are '
        'written and reused')
    parser.add_argument('--methods', nargs='+', default=list(METHODS),
                        metavar='METHOD',
                        help=f'rows to run (default {list(METHODS)}; '
                        f'optional: {list(OPTIONAL_METHODS)})')
    parser.add_argument('--protocol', default='both',
                        help=f'{sorted(PROTOCOLS)} or both')
    parser.add_argument('--seeds', nargs='+', default=None,
                        metavar='SEED', help='transfer seeds (default 0 1 2; '
                        '--quick: 0 1); the first one also runs the lr grid')
    parser.add_argument('--lrs', nargs='+', default=None, metavar='LR',
                        help=f'lr grid (default {list(DEFAULT_LRS)}; '
                        '--quick: its two ends)')
    parser.add_argument('--tasks', nargs='+', default=None, metavar='TASK',
                        help=f'downstream tasks from {list(TASKS)} '
                        '(default dynamics; --full: both)')
    parser.add_argument('--pretrain-seeds', nargs='+', default=None,
                        metavar='SEED',
                        help='pre-training seeds (default 0; --full: 0 1 2); '
                        'the lr grid runs on the first')
    parser.add_argument('--data-sizes', nargs='+', default=None,
                        metavar='CLIPS',
                        help='training clips of the downstream task (default '
                        "the config's 128; --full: 32 128; --quick: 16, "
                        'with --full 8 16); the lr grid runs on the largest')
    parser.add_argument('--jobs', type=int, default=2,
                        help='stages run side by side')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads of each stage (pre-training '
                        'alone gets jobs x threads)')
    parser.add_argument(
        '--fresh-pretrain', action='store_true',
        help='pre-train in this run\'s work dir even when a cached '
        'checkpoint exists (the cache is left as it is)')
    parser.add_argument('--full', action='store_true',
                        help='add pre-training seeds, a second data size and '
                        'the temporal-order task')
    parser.add_argument(
        '--quick', action='store_true',
        help='smoke test of every code path: few clips, 2 epochs per stage, '
        '2 seeds, a 2-point grid (numbers are meaningless)')
    args = parser.parse_args(argv)
    return check_args(parser, args)


def check_args(parser, args):
    """Validate the flags; fill the defaults that depend on --quick/--full."""

    def ints(flag, values, minimum):
        try:
            out = [int(v) for v in values]
        except ValueError:
            parser.error(f'{flag}: {values} are not all integers')
        if any(v < minimum for v in out) or len(set(out)) != len(out):
            parser.error(f'{flag}: {values}: give distinct integers >= '
                         f'{minimum}')
        return out

    unknown = [m for m in args.methods if m not in ALL_METHODS]
    if unknown or len(set(args.methods)) != len(args.methods):
        parser.error(f'--methods: {unknown or args.methods} (give each once); '
                     f'valid: {list(ALL_METHODS)}')
    valid = sorted(PROTOCOLS) + ['both']
    if args.protocol not in valid:
        parser.error(f'--protocol: {args.protocol!r}; valid: {valid}')
    args.protocols = (sorted(PROTOCOLS) if args.protocol == 'both' else
                      [args.protocol])
    args.seeds = ints('--seeds', args.seeds or (
        ['0', '1'] if args.quick else ['0', '1', '2']), 0)
    tasks = args.tasks or (list(TASKS) if args.full else ['dynamics'])
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or len(set(tasks)) != len(tasks):
        parser.error(f'--tasks: {unknown or tasks} (give each once); '
                     f'valid: {list(TASKS)}')
    args.tasks = tasks
    args.pretrain_seeds = ints(
        '--pretrain-seeds',
        args.pretrain_seeds or (['0', '1', '2'] if args.full else ['0']), 0)
    sizes = args.data_sizes or {
        (False, False): ['128'], (True, False): ['32', '128'],
        (False, True): ['16'], (True, True): ['8', '16']}[args.full, args.quick]
    args.data_sizes = ints('--data-sizes', sizes, 4)
    if args.lrs is None:
        args.lrs = ([DEFAULT_LRS[0], DEFAULT_LRS[-1]] if args.quick else
                    list(DEFAULT_LRS))
    else:
        try:
            args.lrs = [float(v) for v in args.lrs]
        except ValueError:
            parser.error(f'--lrs: {args.lrs} are not all numbers')
        if any(lr <= 0 for lr in args.lrs) or len(set(args.lrs)) != len(
                args.lrs):
            parser.error(f'--lrs: {args.lrs}: give distinct numbers > 0')
    args.lrs = sorted(args.lrs)
    for flag in ('jobs', 'threads'):
        if getattr(args, flag) < 1:
            parser.error(f'--{flag}: {getattr(args, flag)}; give 1 or more')
    return args


def merged_config(config: str, options: Dict[str, object]):
    """The config with ``options`` (dotted keys) merged, as a stage runs it."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(options)
    return cfg


def nested(options: Dict[str, object]) -> Dict[str, Dict]:
    """``{'a.b.c': v}`` -> ``{'a': {'b': {'c': v}}}`` (top-level keys)."""
    out: Dict[str, Dict] = {}
    for key, value in options.items():
        *parents, last = key.split('.')
        level = out
        for name in parents:
            level = level.setdefault(name, {})
        level[last] = value
    return out


def prepare_data(config: str, options: Dict[str, object]) -> None:
    """Write (or reuse) a stage's synthetic clips before any stage starts,
    so stages side by side never write the same clips and a cache made
    with other generator settings is reported here, naming its folder."""
    from adaptformer_mm.datasets import prepare_synthetic
    from adaptformer_mm.datasets.synthetic import SYNTHETIC_DEFAULTS
    cfg = merged_config(config, options)
    for loader in LOADERS:
        dataset = cfg[loader].dataset
        prepare_synthetic(dataset.data_root, **{
            k: dataset.get(k, default)
            for k, default in SYNTHETIC_DEFAULTS.items()})


def transfer_config(method: str) -> str:
    return osp.join(CONFIG_DIR, method + TRANSFER_SUFFIX)


def data_options(args, pretrain: bool, size: Optional[int] = None,
                 task: Optional[str] = None) -> Dict[str, object]:
    """Settings of a stage's data (the same for every split)."""
    opts = {}
    dataset = {}
    if args.quick:
        dataset = (dict(num_train=48, num_val=24) if pretrain else
                   dict(num_val=8, num_test=8))
    if size is not None:
        dataset['num_train'] = size
    if task not in (None, 'dynamics'):
        dataset['task'] = task
    for loader in LOADERS:
        opts[f'{loader}.dataset.data_root'] = osp.abspath(args.data_root)
        opts.update({f'{loader}.dataset.{k}': v for k, v in dataset.items()})
        if not pretrain or args.quick:
            # One process per stage: --jobs stages fill the cores.
            opts[f'{loader}.num_workers'] = 0
            opts[f'{loader}.persistent_workers'] = False
        if args.quick:
            opts[f'{loader}.batch_size'] = 4
    return opts


def schedule_options(args) -> Dict[str, object]:
    if not args.quick:
        return {}
    return {'train_cfg.max_epochs': 2, 'train_cfg.val_interval': 2,
            'default_hooks.checkpoint.interval': 2,
            'default_hooks.logger.interval': 1}


def _load_train():
    """tools/train.py as a module, imported once by the parent."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'adaptformer_mm_tools_train', osp.join(REPO, 'tools', 'train.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Forked:
    """A stage run by ``tools/train.py``'s ``main`` in a forked child.

    The parent imports torch and the OpenMMLab stack once (about as long as a
    short stage takes); each stage still gets a process of its own, so no
    state passes from one run to the next. Same ``poll``/``kill``/``wait``
    as ``subprocess.Popen``.
    """

    def __init__(self, train, argv: List[str], log: str, threads: int):
        sys.stdout.flush()
        sys.stderr.flush()
        self.returncode = None
        self.pid = os.fork()
        if self.pid:
            return
        code = 1
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            import torch
            torch.set_num_threads(threads)
            sys.argv = [osp.join(REPO, 'tools', 'train.py')] + argv
            train.main(argv)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def poll(self):
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self):
        if self.poll() is None:
            os.kill(self.pid, 9)

    def wait(self):
        while self.poll() is None:
            time.sleep(0.05)
        return self.returncode


class Stage:
    """One ``tools/train.py`` run in its own folder."""

    train = None  # tools/train.py, loaded on first use where fork exists

    def __init__(self, name: str, config: str, work_dir: str,
                 options: Dict[str, object], threads: int,
                 info: Dict) -> None:
        self.name, self.config, self.work_dir = name, config, work_dir
        self.threads, self.info, self.options = threads, info, options
        # The stage's settings go into a config of their own beside the
        # stage's folder, inheriting the demo config: --cfg-options would
        # drop the spaces of a path (mmengine's DictAction removes them).
        self.stage_config = osp.join(
            osp.dirname(work_dir), f'{osp.basename(work_dir)}_config.py')
        self.argv = [self.stage_config, '--work-dir', work_dir, '--test']
        self.command = [sys.executable, osp.join(REPO, 'tools', 'train.py')
                        ] + self.argv
        self.proc = None
        self.start = 0.0

    def launch(self) -> None:
        os.makedirs(self.work_dir, exist_ok=True)
        with open(self.stage_config, 'x') as f:
            f.write(f'# {self.name}: {osp.relpath(self.config, REPO)} with '
                    'the settings of tools/run_demo.py\n'
                    f'_base_ = [{self.config!r}]\n')
            for key, value in nested(self.options).items():
                f.write(f'{key} = {value!r}\n')
        with open(osp.join(self.work_dir, 'command.txt'), 'w') as f:
            f.write(f'OMP_NUM_THREADS={self.threads} '
                    f'{shlex.join(self.command)}\n')
        log = osp.join(self.work_dir, 'console.log')
        self.start = time.perf_counter()
        if hasattr(os, 'fork'):
            if Stage.train is None:
                Stage.train = _load_train()
            self.proc = _Forked(Stage.train, self.argv, log, self.threads)
        else:
            env = dict(os.environ, OMP_NUM_THREADS=str(self.threads),
                       MKL_NUM_THREADS=str(self.threads))
            with open(log, 'w') as console:
                self.proc = subprocess.Popen(
                    self.command, stdout=console, stderr=subprocess.STDOUT,
                    env=env)

    def finish(self) -> Dict:
        seconds = time.perf_counter() - self.start
        log = osp.join(self.work_dir, 'console.log')
        if self.proc.returncode != 0:
            raise RuntimeError(
                f'stage {self.name!r} failed (exit {self.proc.returncode}); '
                f'its output is in {log}, its command in '
                f'{osp.join(self.work_dir, "command.txt")}')
        return dict(self.info, seconds=seconds, **read_results(self.work_dir))


def read_results(work_dir: str) -> Dict:
    """Val and test top-1, loss curve, parameter counts and checkpoint."""
    runs = sorted(d for d in os.listdir(work_dir)
                  if osp.isfile(osp.join(work_dir, d, 'vis_data',
                                         'scalars.json')))
    if not runs:
        raise FileNotFoundError(f'no vis_data/scalars.json under {work_dir}')
    losses, val = [], None
    with open(osp.join(work_dir, runs[-1], 'vis_data', 'scalars.json')) as f:
        for line in f:
            rec = json.loads(line)
            if 'loss' in rec:
                losses.append((rec['step'], rec['loss']))
            if 'acc/top1' in rec:
                val = rec['acc/top1']
    with open(osp.join(work_dir, 'test_metrics.json')) as f:
        test = json.load(f)['acc/top1']
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    # The last summary is TunableSummaryHook's, over the whole recognizer.
    with open(osp.join(work_dir, 'console.log')) as f:
        counts = SUMMARY.findall(f.read())
    trainable, total = (int(c.replace(',', '')) for c in counts[-1])
    return dict(val=val, test=test, losses=losses, checkpoint=checkpoint,
                trainable=trainable, total=total)


def run_stages(stages: Sequence[Stage], jobs: int) -> List[Dict]:
    """Run stages ``jobs`` at a time; print one line as each ends.

    Returns the results in the order of ``stages``.
    """
    prepared = set()
    for stage in stages:
        data = tuple(sorted((k, str(v)) for k, v in stage.options.items()
                            if '.dataset.' in k))
        if data not in prepared:
            prepared.add(data)
            prepare_data(stage.config, stage.options)
    pending, running, results = list(stages), [], {}
    try:
        while pending or running:
            while pending and len(running) < jobs:
                stage = pending.pop(0)
                stage.launch()
                running.append(stage)
            time.sleep(0.2)
            for stage in [s for s in running if s.proc.poll() is not None]:
                running.remove(stage)
                result = results[id(stage)] = stage.finish()
                print(f'[{len(results):>3}/{len(stages)}] {stage.name}: val '
                      f'{100 * result["val"]:.1f}  test '
                      f'{100 * result["test"]:.1f}  '
                      f'({result["seconds"]:.0f} s)', flush=True)
    except BaseException:
        for stage in running:
            stage.proc.kill()
            stage.proc.wait()
        raise
    return [results[id(stage)] for stage in stages]


def pretrain_stage(args, seed: int, root: str) -> Dict:
    """Reuse the cached pre-training of this config and seed, or make it.

    The cache folder's name holds a hash of the merged config (data root
    excluded), so other settings never reuse it. A new pre-training is
    written beside the cache and renamed into place when it succeeds.
    """
    config = osp.join(CONFIG_DIR, PRETRAIN_CONFIG)
    options = dict(data_options(args, pretrain=True),
                   **schedule_options(args), **{'randomness.seed': seed})
    cfg = merged_config(config, {k: v for k, v in options.items()
                                 if not k.endswith('.data_root')})
    key = hashlib.sha1(cfg.pretty_text.encode()).hexdigest()[:10]
    name = f'{osp.splitext(PRETRAIN_CONFIG)[0]}_seed{seed}_{key}'
    cache = osp.abspath(osp.join(args.data_root, 'pretrained', name))
    meta_file = osp.join(cache, 'pretrain.json')
    if not args.fresh_pretrain and osp.isfile(meta_file):
        with open(meta_file) as f:
            meta = json.load(f)
        meta['checkpoint'] = osp.join(cache, meta['checkpoint_name'])
        print(f'== pre-training (seed {seed}): reusing {cache} (val top-1 '
              f'{100 * meta["val"]:.1f}%; --fresh-pretrain trains anew)',
              flush=True)
        return dict(meta, cached=True)
    if args.fresh_pretrain:
        work_dir = osp.join(root, f'pretrain_seed{seed}')
    else:
        work_dir = f'{cache}.tmp-{os.getpid()}'
        if osp.exists(cache):
            raise FileExistsError(
                f'{cache} exists but holds no pretrain.json (an interrupted '
                'pre-training?); delete it or pass --fresh-pretrain')
    threads = args.jobs * args.threads // min(args.jobs,
                                              len(args.pretrain_seeds))
    return dict(stage=Stage(f'pre-training (seed {seed})', config, work_dir,
                            options, threads, dict(pretrain_seed=seed)),
                cache=None if args.fresh_pretrain else cache)


def finish_pretrain(entry: Dict, result: Dict) -> Dict:
    """Record a finished pre-training; move it into the cache."""
    # The thread count changes the summation order, hence the last digits
    # of the weights: recorded with the checkpoint that it made.
    meta = dict(val=result['val'], seconds=result['seconds'],
                pretrain_seed=result['pretrain_seed'],
                threads=entry['stage'].threads,
                checkpoint_name=osp.basename(result['checkpoint']),
                config=osp.join('configs', 'demo', PRETRAIN_CONFIG))
    work_dir = entry['stage'].work_dir
    with open(osp.join(work_dir, 'pretrain.json'), 'w') as f:
        json.dump(meta, f, indent=2)
    folder = work_dir
    if entry['cache']:
        os.makedirs(osp.dirname(entry['cache']), exist_ok=True)
        try:
            os.rename(work_dir, entry['cache'])
            folder = entry['cache']
            # Keep the stage's config with the checkpoint it made, and the
            # command that reran it pointing at both where they now are.
            config = osp.join(folder, 'stage_config.py')
            os.replace(entry['stage'].stage_config, config)
            command = osp.join(folder, 'command.txt')
            with open(command) as f:
                text = f.read()
            with open(command, 'w') as f:
                f.write(text.replace(entry['stage'].stage_config, config)
                        .replace(work_dir, folder))
        except OSError:  # another demo cached the same one meanwhile
            shutil.rmtree(work_dir)
            folder = entry['cache']
            with open(osp.join(folder, 'pretrain.json')) as f:
                meta = json.load(f)
    return dict(meta, checkpoint=osp.join(folder, meta['checkpoint_name']),
                cached=False)


@functools.lru_cache(maxsize=None)
def task_dataset(task: str) -> Dict[str, object]:
    """Generator settings of a downstream task's dataset config (read once)."""
    dataset = merged_config(TASKS[task], {}).train_dataloader.dataset
    return {k: dataset[k] for k in ('task', 'num_train', 'num_val',
                                    'num_test')}


def transfer_stage(args, root: str, task: str, size: int, pre: Dict,
                   method: str, lr: float, seed: int) -> Stage:
    options = dict(
        data_options(args, pretrain=False, size=size, task=task),
        **schedule_options(args), **{
            'model.backbone.init_cfg.checkpoint': pre['checkpoint'],
            'optim_wrapper.optimizer.lr': lr, 'randomness.seed': seed})
    if TASKS[task]:
        # Another downstream task: its dataset settings replace the config's.
        for key, value in task_dataset(task).items():
            for loader in LOADERS:
                options.setdefault(f'{loader}.dataset.{key}', value)
    p = pre['pretrain_seed']
    name = f'{method}_lr{lr:g}_seed{seed}'
    # Folder names come from the method key, never from the config's path.
    work_dir = osp.join(root, 'runs', f'{task}_n{size}_pre{p}', name)
    info = dict(task=task, size=size, pretrain_seed=p, method=method, lr=lr,
                seed=seed, work_dir=osp.relpath(work_dir, root))
    return Stage(f'{task} n={size} pre{p} {name}', transfer_config(method),
                 work_dir, options, args.threads, info)


def main(argv: Optional[List[str]] = None) -> Dict:
    args = parse_args(argv)
    root = args.work_dir or osp.join(
        'work_dirs', 'demo', time.strftime('%Y%m%d_%H%M%S'))
    if osp.exists(root) and (not osp.isdir(root) or os.listdir(root)):
        raise FileExistsError(
            f'{root} is not empty; give a new --work-dir (nothing in an '
            'earlier demo run is overwritten)')
    root = osp.abspath(root)
    os.makedirs(root, exist_ok=True)
    t0 = time.perf_counter()
    runs: List[Dict] = []
    base_size = max(args.data_sizes)
    grid_seed = args.seeds[0]

    # 1. Pre-training(s): cached, else run side by side.
    pres, todo = {}, []
    for seed in args.pretrain_seeds:
        entry = pretrain_stage(args, seed, root)
        if 'stage' in entry:
            todo.append(entry)
        else:
            pres[seed] = entry
    if todo:
        print(f'== pre-training on the 24-class corpus (seeds '
              f'{[e["stage"].info["pretrain_seed"] for e in todo]})',
              flush=True)
        results = run_stages([e['stage'] for e in todo], args.jobs)
        for entry, result in zip(todo, results):
            pres[result['pretrain_seed']] = finish_pretrain(entry, result)

    # 2. The lr grid on val: every method x lr, first pre-training and seed.
    grid_total = len(args.tasks) * len(args.methods) * len(args.lrs)
    print(f'\n== lr grid {args.lrs} on val ({grid_total} runs, '
          f'{args.jobs} at a time, {args.threads} thread(s) each)',
          flush=True)
    pre0 = pres[args.pretrain_seeds[0]]
    grid = [transfer_stage(args, root, task, base_size, pre0, m, lr,
                           grid_seed)
            for task in args.tasks for m in args.methods for lr in args.lrs]
    runs += run_stages(grid, args.jobs)
    choices = {task: choose_lrs([r for r in runs if r['task'] == task],
                                args.methods, args.lrs)
               for task in args.tasks}
    for task, choice in choices.items():
        print(f'   {task}: shared lr {choice["shared"]:g}; tuned '
              + ', '.join(f'{m} {lr:g}' for m, lr in
                          choice['tuned'].items()), flush=True)

    # 3. Every chosen (method, lr) with every seed, data size, pre-training.
    have = {(r['task'], r['size'], r['pretrain_seed'], r['method'], r['lr'],
             r['seed']) for r in runs}
    final = []
    for task in args.tasks:
        for size in args.data_sizes:
            for p in args.pretrain_seeds:
                for m in args.methods:
                    lrs = sorted({protocol_lr(choices[task], pr, m)
                                  for pr in args.protocols})
                    for lr in lrs:
                        for seed in args.seeds:
                            if (task, size, p, m, lr, seed) not in have:
                                final.append(transfer_stage(
                                    args, root, task, size, pres[p], m, lr,
                                    seed))
    print(f'\n== chosen lrs with seeds {args.seeds} on test '
          f'({len(final)} more runs)', flush=True)
    runs += run_stages(final, args.jobs)
    tsne = draw_tsne(args, root, runs, choices)
    return report(args, root, pres, runs, choices, time.perf_counter() - t0,
                  tsne)


def draw_tsne(args, root: str, runs: List[Dict], choices: Dict) -> Dict:
    """``tsne.png``: the test split's final features of every method, as
    the VPT paper pictures them; each method's run at its own (tuned) lr,
    the first seed, task, pre-training and the largest data size."""
    import torch

    from mmengine.logging import MMLogger

    from adaptformer_mm.utils.features import cached_features
    from adaptformer_mm.utils.tsne import plot_tsne

    task, size = args.tasks[0], max(args.data_sizes)
    features, used, labels = {}, {}, None
    torch.set_num_threads(args.threads)
    # Each model's build summary and mmengine's notes were printed by its
    # stage already: keep them out of the report.
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        for method in args.methods:
            lr = choices[task]['tuned'][method]
            run = next(r for r in runs if (
                r['task'], r['size'], r['pretrain_seed'], r['method'],
                r['lr'], r['seed']) == (task, size, args.pretrain_seeds[0],
                                         method, lr, args.seeds[0]))
            work_dir = osp.join(root, run['work_dir'])
            with open(osp.join(work_dir, 'last_checkpoint')) as f:
                checkpoint = f.read().strip()
            name = osp.basename(work_dir)
            fs, path, _ = cached_features(
                osp.join(work_dir, f'{name}_config.py'), checkpoint,
                split='test', out=osp.join(work_dir, 'features_test.pth'),
                num_workers=0, progress=False)
            features[ALL_METHODS[method]] = fs.features.numpy()
            labels = fs.labels.numpy()
            used[method] = osp.relpath(path, root)
    finally:
        logger.setLevel(level)
    plot_tsne(features, labels, osp.join(root, 'tsne.png'),
              class_names=fs.classes,
              title=f'{task}, test split: final features (tuned lr, seed '
              f'{args.seeds[0]})')
    return dict(task=task, size=size, split='test', features=used)


def report(args, root: str, pres: Dict, runs: List[Dict], choices: Dict,
           seconds: float, tsne: Dict) -> Dict:
    """Write results.md / results.json / figures; print the table."""
    import torch

    rows = aggregate(runs, choices, args.protocols, args.methods)
    params = {}
    for r in runs:
        params.setdefault(r['method'], dict(trainable=r['trainable'],
                                            total=r['total']))
    labels = {m: ALL_METHODS[m] for m in args.methods}
    settings = dict(
        methods=args.methods, protocols=args.protocols, seeds=args.seeds,
        lrs=args.lrs, tasks=args.tasks, pretrain_seeds=args.pretrain_seeds,
        data_sizes=args.data_sizes, jobs=args.jobs, threads=args.threads,
        quick=args.quick, full=args.full, torch=torch.__version__,
        data_root=osp.abspath(args.data_root))
    sections = [
        '# The papers\' comparison in miniature\n',
        'Pre-trained on the 24-class corpus (val top-1): ' + ', '.join(
            f'seed {s} {100 * p["val"]:.1f}% ({p.get("threads", "?")} '
            f'thread(s){", cached" if p["cached"] else ""})'
            for s, p in sorted(pres.items())) + '.\n',
        f'Settings: {json.dumps(settings)}\n',
        'Top-1 on the test split, mean ± std over the transfer seeds'
        + (' and pre-training seeds' if len(args.pretrain_seeds) > 1 else '')
        + '; lr chosen on the val split. Paper columns: AdaptFormer '
        'Table 1 (ViT-B/16, VideoMAE K400), for reference.\n']
    tables = []
    for task in args.tasks:
        for size in sorted(args.data_sizes, reverse=True):
            picked = [r for r in rows if r['task'] == task and
                      r['size'] == size]
            table = format_table(picked, labels, params)
            tables.append(f'## {task}, {size} training clips\n\n{table}\n')
        tables.append(f'lr grid on val ({task}, {max(args.data_sizes)} '
                      f'clips, seed {args.seeds[0]}), val top-1 %:\n\n'
                      f'{format_grid(choices[task], labels)}\n')
    text = '\n'.join(sections + tables) + (
        f'\nTotal {seconds:.0f} s wall clock.\n')
    with open(osp.join(root, 'results.md'), 'w') as f:
        f.write(text)
    result = dict(
        settings=settings, seconds=seconds,
        pretrain={str(s): p for s, p in pres.items()},
        choices={t: dict(c, val={m: {str(lr): v for lr, v in by.items()}
                                 for m, by in c['val'].items()},
                         mean_val={str(lr): v
                                   for lr, v in c['mean_val'].items()})
                 for t, c in choices.items()},
        rows=rows, params=params, runs=runs, tsne=tsne)
    with open(osp.join(root, 'results.json'), 'w') as f:
        json.dump(result, f, indent=2)
    plot_accuracy_vs_params(rows, labels, params,
                            osp.join(root, 'accuracy_vs_params.png'))
    figures = ['accuracy_vs_params.png', 'tsne.png']
    if len(args.data_sizes) > 1:
        plot_accuracy_vs_data(rows, labels,
                              osp.join(root, 'accuracy_vs_data.png'))
        figures.append('accuracy_vs_data.png')
    print('\n' + '\n'.join(tables) + f'\ntotal {seconds:.0f} s; report: '
          f'{root}/results.md, results.json, {", ".join(figures)}',
          flush=True)
    return result


if __name__ == '__main__':
    main()
