"""The papers' comparison in miniature, on synthetic video, with no download
(``tools/run_demo.py``): the harness on the demo's configs, with a
pre-training of its own and a t-SNE of the methods' features.

1. Pre-train a tiny VideoMAE-architecture backbone, supervised, on a broad
   synthetic corpus: 3 shapes x 8 motions, 24 classes
   (``configs/demo/videomae_vit-tiny-p16_scratch_adamw-12e_synthetic-prim24.py``).
   The checkpoint is cached under ``DATA_ROOT/pretrained/``, keyed by a hash
   of the merged config (data root excluded) and the seed, and reused by
   later runs; the cache records the torch thread count it was trained with
   (it changes the last digits of the weights).
2. Transfer it to task B (does a bar, a shape the corpus never had, grow,
   shrink or rotate which way) four ways: linear probe, VPT, AdaptFormer,
   full fine-tuning (``configs/demo/*_prim24-pre_*_synthetic-dynamics.py``),
   each loading the checkpoint as a VideoMAE checkpoint is loaded: the
   :class:`~.plan.Plan` of the lr grid on val, the protocols and the seeds
   on test, its data sizes being the generator's number of training clips
   (:data:`DATA_SIZES`: 128 and 32 by default, the smaller at the lrs chosen
   on the larger, as in the VPT paper's downstream data scales).
3. Write the report (:func:`.report.write_report`: a table per data size
   with the AdaptFormer paper's figures beside the rows,
   ``accuracy_vs_params.png`` and ``accuracy_vs_data.png``) and
   ``tsne.png``: the test split's final features of each method at its
   tuned lr, as in the VPT paper's pictures.
"""
import functools
import hashlib
import json
import logging
import os
import os.path as osp
import shutil
import time
from dataclasses import dataclass
from typing import Dict, List, Optional

from .harness import Comparison
from .plan import Method, Plan, RunKey
from .report import write_report
from .launchers import LocalRunner
from .stages import REPO, Stage, merged_config, run_stages

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
# Training clips of the downstream task by (--full, --quick): the VPT paper's
# downstream data scales in miniature, the lr grid on the largest. --quick
# alone keeps one size so that the CI smoke test stays short.
DATA_SIZES = {
    (False, False): (32, 128),
    (True, False): (32, 128),
    (False, True): (16, ),
    (True, True): (8, 16),
}
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
# AdaptFormer paper, Table 1 (ViT-B/16, VideoMAE K400 self-supervised):
# top-1 on SSv2 and HMDB51, beside the demo's rows for reference.
PAPER_TOP1 = {
    'linear-probe': (29.23, 49.84),
    'vpt-deep-4': (43.73, 52.67),
    'adaptformer-8': (59.02, 55.69),
    'full-finetune': (53.97, 46.41),
}
PAPER_COLUMNS = ('Paper SSv2', 'Paper HMDB51')
PAPER_NOTE = 'AdaptFormer Table 1 (ViT-B/16, VideoMAE K400)'
NOTE = 'the settings of tools/run_demo.py'


@dataclass
class DemoSettings:
    """The demo's flags, defaults resolved (``tools/run_demo.py --help``)."""
    methods: List[str]
    protocols: List[str]
    seeds: List[int]
    lrs: List[float]
    tasks: List[str]
    pretrain_seeds: List[int]
    data_sizes: List[int]
    jobs: int = 2
    threads: int = 1
    quick: bool = False
    full: bool = False
    fresh_pretrain: bool = False
    data_root: str = 'data/synthetic'
    work_dir: Optional[str] = None


def transfer_config(method: str) -> str:
    return osp.join(CONFIG_DIR, method + TRANSFER_SUFFIX)


def data_options(s: DemoSettings, pretrain: bool, size: Optional[int] = None,
                 task: Optional[str] = None) -> Dict[str, object]:
    """Settings of a stage's data (the same for every split)."""
    opts = {}
    dataset = {}
    if s.quick:
        dataset = (dict(num_train=48, num_val=24) if pretrain else
                   dict(num_val=8, num_test=8))
    if size is not None:
        dataset['num_train'] = size
    if task not in (None, 'dynamics'):
        dataset['task'] = task
    for loader in LOADERS:
        opts[f'{loader}.dataset.data_root'] = osp.abspath(s.data_root)
        opts.update({f'{loader}.dataset.{k}': v for k, v in dataset.items()})
        if not pretrain or s.quick:
            # One process per stage: --jobs stages fill the cores.
            opts[f'{loader}.num_workers'] = 0
            opts[f'{loader}.persistent_workers'] = False
        if s.quick:
            opts[f'{loader}.batch_size'] = 4
    return opts


def schedule_options(s: DemoSettings) -> Dict[str, object]:
    if not s.quick:
        return {}
    return {'train_cfg.max_epochs': 2, 'train_cfg.val_interval': 2,
            'default_hooks.checkpoint.interval': 2,
            'default_hooks.logger.interval': 1}


@functools.lru_cache(maxsize=None)
def task_dataset(task: str) -> Dict[str, object]:
    """Generator settings of a downstream task's dataset config (read once)."""
    dataset = merged_config(TASKS[task], {}).train_dataloader.dataset
    return {k: dataset[k] for k in ('task', 'num_train', 'num_val',
                                    'num_test')}


# -------------------------------------------------------------- pre-training
def pretrain_entry(s: DemoSettings, seed: int, root: str) -> Dict:
    """The cached pre-training of this config and seed, or its stage.

    The cache folder's name holds a hash of the merged config (data root
    excluded), so other settings never reuse it. A new pre-training is
    written beside the cache and renamed into place when it succeeds
    (``--fresh-pretrain``: into the work dir, the cache left as it is).
    """
    config = osp.join(CONFIG_DIR, PRETRAIN_CONFIG)
    options = dict(data_options(s, pretrain=True), **schedule_options(s),
                   **{'randomness.seed': seed})
    cfg = merged_config(config, {k: v for k, v in options.items()
                                 if not k.endswith('.data_root')})
    key = hashlib.sha1(cfg.pretty_text.encode()).hexdigest()[:10]
    name = f'{osp.splitext(PRETRAIN_CONFIG)[0]}_seed{seed}_{key}'
    cache = osp.abspath(osp.join(s.data_root, 'pretrained', name))
    meta_file = osp.join(cache, 'pretrain.json')
    if not s.fresh_pretrain and osp.isfile(meta_file):
        with open(meta_file) as f:
            meta = json.load(f)
        meta['checkpoint'] = osp.join(cache, meta['checkpoint_name'])
        print(f'== pre-training (seed {seed}): reusing {cache} (val top-1 '
              f'{100 * meta["val"]:.1f}%; --fresh-pretrain trains anew)',
              flush=True)
        return dict(meta, cached=True)
    if s.fresh_pretrain:
        work_dir = osp.join(root, f'pretrain_seed{seed}')
    else:
        work_dir = f'{cache}.tmp-{os.getpid()}'
        if osp.exists(cache):
            raise FileExistsError(
                f'{cache} exists but holds no pretrain.json (an interrupted '
                'pre-training?); delete it or pass --fresh-pretrain')
    # One pre-training alone gets every slot's threads.
    threads = s.jobs * s.threads // min(s.jobs, len(s.pretrain_seeds))
    return dict(stage=Stage(f'pre-training (seed {seed})', config, work_dir,
                            options, dict(pretrain_seed=seed), threads,
                            NOTE),
                cache=None if s.fresh_pretrain else cache)


def finish_pretrain(entry: Dict, result: Dict) -> Dict:
    """Record a finished pre-training; move it into the cache."""
    # The thread count changes the summation order, hence the last digits
    # of the weights: recorded with the checkpoint that it made.
    stage = entry['stage']
    meta = dict(val=result['val'], seconds=result['seconds'],
                pretrain_seed=result['pretrain_seed'], threads=stage.threads,
                checkpoint_name=osp.basename(result['checkpoint']),
                config=osp.join('configs', 'demo', PRETRAIN_CONFIG))
    work_dir = stage.work_dir
    with open(osp.join(work_dir, 'pretrain.json'), 'w') as f:
        json.dump(meta, f, indent=2)
    folder = work_dir
    if entry['cache']:
        os.makedirs(osp.dirname(entry['cache']), exist_ok=True)
        try:
            os.rename(work_dir, entry['cache'])
            folder = entry['cache']
            # Keep the stage's config with the checkpoint it made, and the
            # command that reruns it pointing at both where they now are.
            config = osp.join(folder, 'stage_config.py')
            os.replace(stage.stage_config, config)
            command = osp.join(folder, 'command.txt')
            with open(command) as f:
                text = f.read()
            with open(command, 'w') as f:
                f.write(text.replace(stage.stage_config, config)
                        .replace(work_dir, folder))
        except OSError:  # another demo cached the same one meanwhile
            shutil.rmtree(work_dir)
            folder = entry['cache']
            with open(osp.join(folder, 'pretrain.json')) as f:
                meta = json.load(f)
    return dict(meta, checkpoint=osp.join(folder, meta['checkpoint_name']),
                cached=False)


def pretrain(s: DemoSettings, root: str) -> Dict[int, Dict]:
    """Every pre-training seed's checkpoint: cached, else run side by side."""
    pres, todo = {}, []
    for seed in s.pretrain_seeds:
        entry = pretrain_entry(s, seed, root)
        if 'stage' in entry:
            todo.append(entry)
        else:
            pres[seed] = entry
    if todo:
        print(f'== pre-training on the 24-class corpus (seeds '
              f'{[e["stage"].info["pretrain_seed"] for e in todo]})',
              flush=True)
        runner = LocalRunner(min(s.jobs, len(todo)), todo[0]['stage'].threads)
        results, _, _ = run_stages([e['stage'] for e in todo], runner,
                                   functools.partial(print, flush=True))
        for entry, result in zip(todo, results):
            pres[result['pretrain_seed']] = finish_pretrain(entry, result)
    return pres


# ----------------------------------------------------------------- transfer
def make_plan(s: DemoSettings) -> Plan:
    return Plan(tuple(Method(m, ALL_METHODS[m], transfer_config(m))
                      for m in s.methods),
                lrs=s.lrs, seeds=s.seeds, protocols=s.protocols,
                tasks=s.tasks, data_sizes=s.data_sizes, size_unit='clips',
                pretrain_seeds=s.pretrain_seeds)


def transfer_stage(s: DemoSettings, plan: Plan, root: str,
                   pres: Dict[int, Dict], key: RunKey) -> Stage:
    options = dict(
        data_options(s, pretrain=False, size=key.size, task=key.task),
        **schedule_options(s), **{
            'model.backbone.init_cfg.checkpoint':
            pres[key.pretrain_seed]['checkpoint'],
            'optim_wrapper.optimizer.lr': key.lr,
            'randomness.seed': key.seed})
    if TASKS[key.task]:
        # Another downstream task: its dataset settings replace the config's.
        for name, value in task_dataset(key.task).items():
            for loader in LOADERS:
                options.setdefault(f'{loader}.dataset.{name}', value)
    info = plan.run_info(key)
    # Folder names come from the method key, never from the config's path.
    return Stage(f'{key.task} n={key.size} pre{key.pretrain_seed} {key.name}',
                 transfer_config(key.method), osp.join(root, info['work_dir']),
                 options, info, s.threads, NOTE)


def draw_tsne(s: DemoSettings, root: str, runs: List[Dict],
              choices: Dict) -> Dict:
    """``tsne.png``: the test split's final features of every method, as
    the VPT paper pictures them; each method's run at its own (tuned) lr,
    the first seed, task, pre-training and the largest data size."""
    import torch
    from mmengine.logging import MMLogger

    from adaptformer_mm.analysis.features import cached_features
    from adaptformer_mm.analysis.tsne import plot_tsne

    task, size = s.tasks[0], max(s.data_sizes)
    features, used, labels = {}, {}, None
    torch.set_num_threads(s.threads)
    # Each model's build summary and mmengine's notes were printed by its
    # stage already: keep them out of the report.
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        for method in s.methods:
            lr = choices[task]['tuned'][method]
            run = next(r for r in runs if (
                r['task'], r['size'], r['pretrain_seed'], r['method'],
                r['lr'], r['seed']) == (task, size, s.pretrain_seeds[0],
                                         method, lr, s.seeds[0]))
            work_dir = osp.join(root, run['work_dir'])
            name = osp.basename(work_dir)
            fs, path, _ = cached_features(
                osp.join(work_dir, f'{name}_config.py'), run['checkpoint'],
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
              f'{s.seeds[0]})')
    return dict(task=task, size=size, split='test', features=used)


def run(s: DemoSettings) -> Dict:
    """The whole demo in ``s.work_dir`` (default
    ``work_dirs/demo/<timestamp>``); what ``results.json`` holds.

    Re-entrant as every comparison (:mod:`.harness`): run again with the
    same settings in the same work dir, it reuses every finished stage; with
    other settings it stops before any stage starts.
    """
    root = osp.abspath(s.work_dir or osp.join(
        'work_dirs', 'demo', time.strftime('%Y%m%d_%H%M%S')))
    start = time.perf_counter()
    plan = make_plan(s)
    pres: Dict[int, Dict] = {}
    log = functools.partial(print, flush=True)
    comparison = Comparison(
        plan, root, lambda key: transfer_stage(s, plan, root, pres, key),
        LocalRunner(s.jobs, s.threads), log=log,
        settings=dict(quick=s.quick, fresh_pretrain=s.fresh_pretrain,
                      data_root=osp.abspath(s.data_root)))
    comparison.check_plan()  # before the pre-training starts
    pres.update(pretrain(s, root))
    progress = comparison.run()
    assert progress.complete, progress.status()  # local stages wait
    tsne = draw_tsne(s, root, progress.runs, progress.choices)
    import torch
    settings = dict(
        methods=s.methods, protocols=s.protocols, seeds=s.seeds, lrs=s.lrs,
        tasks=s.tasks, pretrain_seeds=s.pretrain_seeds,
        data_sizes=s.data_sizes, jobs=s.jobs, threads=s.threads,
        quick=s.quick, full=s.full, torch=torch.__version__,
        data_root=osp.abspath(s.data_root))
    pre_line = 'Pre-trained on the 24-class corpus (val top-1): ' + ', '.join(
        f'seed {seed} {100 * p["val"]:.1f}% ({p.get("threads", "?")} '
        f'thread(s){", cached" if p["cached"] else ""})'
        for seed, p in sorted(pres.items())) + '.\n'
    return write_report(
        root, plan, progress.runs, progress.choices,
        title="The papers' comparison in miniature", settings=settings,
        seconds=time.perf_counter() - start, sections=[pre_line],
        extra=dict(pretrain={str(seed): p for seed, p in pres.items()},
                   tsne=tsne),
        paper=PAPER_TOP1, paper_columns=PAPER_COLUMNS, paper_note=PAPER_NOTE,
        more_figures=['tsne.png'])
