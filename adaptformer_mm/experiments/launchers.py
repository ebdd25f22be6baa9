"""How stages are launched: the project's existing launchers, no scheduler of
our own.

* :class:`LocalRunner` (``none``): ``jobs`` stages side by side on this
  machine, each in a fresh process of a ``multiprocessing`` pool
  (``maxtasksperchild=1``) calling ``tools/train.py``'s ``main`` with its
  torch threads set; forked where the platform can, so the parent imports
  torch and the OpenMMLab stack once;
* :class:`TorchrunRunner` (``pytorch``): each stage through
  ``bash tools/dist_train.sh CONFIG GPUS`` (torchrun), ``jobs`` at a time;
* :class:`SlurmRunner` (``slurm``): all missing stages as one Slurm job
  array (``sbatch --array``) whose task i runs stage i with
  ``tools/slurm_train.sh``; the array script is written into the work dir.
  Submitting returns at once; running the harness again reports the stages
  still queued or running and submits only those that ended without
  results.

Each appends one line per attempt to the stage's ``attempts.jsonl`` (exit
code, seconds, launcher) and the run's output to its ``console.log``.
"""
import json
import multiprocessing
import multiprocessing.pool
import os
import os.path as osp
import queue
import shlex
import shutil
import socket
import subprocess
import sys
import time
import traceback
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from .plan import ComparisonError
from .results import read_attempts
from .stages import REPO, Stage, record_attempt

TOOLS = osp.join(REPO, 'tools')
LAUNCHERS = ('none', 'pytorch', 'slurm')


Todo = List[Tuple[Stage, bool]]  # (stage, resume)
Done = Callable[[Stage, int], None]  # (stage, exit code) as each ends


class Runner:
    """How stages are launched (module docstring)."""

    launcher = ''
    #: True: :meth:`run` returns when the stages have ended; False: when
    #: they are submitted.
    waits = True

    def command(self, stage: Stage) -> str:
        """The shell command that runs ``stage`` alone (``command.txt``)."""
        raise NotImplementedError

    def describe(self) -> str:
        return ''

    def run(self, todo: Todo, done: Done) -> str:
        """Run (or submit) the stages; a sentence on what is still running
        elsewhere ('' when nothing is)."""
        raise NotImplementedError

    def pending(self, stages: Sequence[Stage]) -> Tuple[Set[str], str]:
        """Work dirs of ``stages`` launched earlier and still queued or
        running elsewhere, and a sentence on them."""
        return set(), ''


_TRAIN = None


def train_module():
    """``tools/train.py`` as a module, loaded once per process."""
    global _TRAIN
    if _TRAIN is None:
        import importlib.util
        spec = importlib.util.spec_from_file_location(
            'adaptformer_mm_tools_train', osp.join(TOOLS, 'train.py'))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _TRAIN = module
    return _TRAIN


def train_in_process(config: str, argv: List[str], threads: int) -> int:
    """A pool task: ``tools/train.py``'s ``main`` on the stage config, its
    output appended to the stage's ``console.log``; the exit code."""
    # A pool's workers are daemons, and a daemon may not start processes; a
    # stage's DataLoader workers must, as when the stage runs from the shell.
    # This worker ends with this one task (maxtasksperchild=1).
    multiprocessing.current_process().daemon = False
    work_dir = argv[argv.index('--work-dir') + 1]
    log = osp.join(work_dir, 'console.log')
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    import torch
    torch.set_num_threads(threads)
    os.environ['OMP_NUM_THREADS'] = os.environ['MKL_NUM_THREADS'] = str(
        threads)
    sys.argv = [osp.join(TOOLS, 'train.py'), config] + argv
    start, code = time.perf_counter(), 1
    try:
        train_module().main([config] + argv)
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else int(e.code is not None)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    record_attempt(work_dir, launcher='none', exit_code=code,
                   seconds=time.perf_counter() - start,
                   resume='--resume' in argv, threads=threads)
    return code


class LocalRunner(Runner):
    """``jobs`` stages side by side on this machine, each with its own
    ``Stage.threads`` torch threads (``threads``: what the progress lines
    say of them)."""

    launcher = 'none'

    def __init__(self, jobs: int = 1, threads: int = 1) -> None:
        self.jobs, self.threads = jobs, threads

    def describe(self) -> str:
        return f'{self.jobs} at a time, {self.threads} thread(s) each'

    def command(self, stage: Stage) -> str:
        return f'OMP_NUM_THREADS={stage.threads} ' + shlex.join(
            [sys.executable, osp.join(TOOLS, 'train.py'),
             stage.stage_config] + stage.argv())

    def run(self, todo: Todo, done: Done) -> str:
        if not todo:
            return ''
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context(
            'fork' if 'fork' in methods else 'spawn')
        if ctx.get_start_method() == 'fork':
            train_module()  # imported once here, inherited by every stage
        sys.stdout.flush()
        sys.stderr.flush()
        with ctx.Pool(min(self.jobs, len(todo)),
                      maxtasksperchild=1) as pool:
            running = [(stage, pool.apply_async(train_in_process, (
                stage.stage_config, stage.argv(resume), stage.threads)))
                for stage, resume in todo]
            while running:
                time.sleep(0.1)
                for item in [r for r in running if r[1].ready()]:
                    running.remove(item)
                    done(item[0], item[1].get())
        return ''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class TorchrunRunner(Runner):
    """Each stage through ``bash tools/dist_train.sh CONFIG GPUS`` (torchrun:
    ``gpus`` processes), ``jobs`` at a time; side by side, stage slot j sees
    GPUs ``j*gpus .. (j+1)*gpus - 1`` (``CUDA_VISIBLE_DEVICES``)."""

    launcher = 'pytorch'

    def __init__(self, gpus: int = 1, jobs: int = 1,
                 threads: int = 1) -> None:
        self.gpus, self.jobs, self.threads = gpus, jobs, threads

    def describe(self) -> str:
        return (f'{self.jobs} at a time through tools/dist_train.sh, '
                f'{self.gpus} process(es) each')

    def _argv(self, stage: Stage, resume: bool = False) -> List[str]:
        return ['bash', osp.join(TOOLS, 'dist_train.sh'), stage.stage_config,
                str(self.gpus)] + stage.argv(resume)

    def command(self, stage: Stage) -> str:
        return f'OMP_NUM_THREADS={stage.threads} ' + shlex.join(
            self._argv(stage))

    def run(self, todo: Todo, done: Done) -> str:
        if not todo:
            return ''
        slots = queue.Queue()
        for slot in range(min(self.jobs, len(todo))):
            slots.put(slot)

        def launch(item):
            stage, resume = item
            slot = slots.get()
            env = dict(os.environ, PYTHON=os.environ.get(
                'PYTHON', sys.executable), PORT=str(free_port()),
                OMP_NUM_THREADS=str(stage.threads))
            if self.jobs > 1:
                env['CUDA_VISIBLE_DEVICES'] = ','.join(
                    str(slot * self.gpus + i) for i in range(self.gpus))
            start = time.perf_counter()
            try:
                with open(osp.join(stage.work_dir, 'console.log'),
                          'a') as log:
                    code = subprocess.run(
                        self._argv(stage, resume), stdout=log,
                        stderr=subprocess.STDOUT, env=env,
                        cwd=REPO).returncode
            finally:
                slots.put(slot)
            record_attempt(stage.work_dir, launcher='pytorch',
                           exit_code=code, resume=resume, gpus=self.gpus,
                           seconds=time.perf_counter() - start)
            return stage, code

        with multiprocessing.pool.ThreadPool(min(self.jobs,
                                                 len(todo))) as pool:
            for stage, code in pool.imap_unordered(launch, todo):
                done(stage, code)
        return ''


class SlurmRunner(Runner):
    """All missing stages as one Slurm job array (module docstring).

    Args:
        work_dir: the comparison's folder; the array scripts, their
            submission records and Slurm's own output go to
            ``work_dir/slurm/``.
        partition: the Slurm partition.
        gpus: GPUs (tasks) of each stage (``GPUS`` of
            ``tools/slurm_train.sh``), at most 8 per node.
        jobs: array tasks running at once (``--array=...%jobs``; None: as
            many as Slurm allows).
        threads: ``OMP_NUM_THREADS`` of each stage.
        cpus_per_task: CPUs of each task (``CPUS_PER_TASK``).
    """

    launcher = 'slurm'
    waits = False

    def __init__(self, work_dir: str, partition: str, gpus: int = 1,
                 jobs: Optional[int] = None, threads: int = 1,
                 cpus_per_task: int = 8) -> None:
        self.folder = osp.join(osp.abspath(work_dir), 'slurm')
        self.partition, self.gpus, self.jobs = partition, gpus, jobs
        self.threads, self.cpus_per_task = threads, cpus_per_task
        self.job_name = f'compare-{osp.basename(osp.abspath(work_dir))}'

    @property
    def gpus_per_node(self) -> int:
        return min(self.gpus, 8)

    def describe(self) -> str:
        return (f'one Slurm array on partition {self.partition}, '
                f'{self.gpus} GPU(s) per stage')

    def _train(self, stage: Stage, resume: bool = False) -> List[str]:
        return ['bash', osp.join(TOOLS, 'slurm_train.sh'), self.partition,
                self.job_name, stage.stage_config] + stage.argv(resume)

    def _env(self) -> str:
        return (f'GPUS={self.gpus} GPUS_PER_NODE={self.gpus_per_node} '
                f'CPUS_PER_TASK={self.cpus_per_task} '
                f'OMP_NUM_THREADS={self.threads}')

    def command(self, stage: Stage) -> str:
        return f'{self._env()} {shlex.join(self._train(stage))}'

    def script(self, todo: Todo) -> str:
        """The array script: task i runs stage i of ``todo``."""
        lines = [
            '#!/usr/bin/env bash',
            '# A Slurm job array of a comparison (adaptformer_mm.experiments):'
            ' task i runs',
            '# stage i with tools/slurm_train.sh and records the attempt in '
            'the stage folder.',
            'set -uo pipefail',
            f'cd {shlex.quote(REPO)}',
            f'export PYTHON="${{PYTHON:-{sys.executable}}}"',
            'case "${SLURM_ARRAY_TASK_ID:?not run as a Slurm array task}" in']
        for i, (stage, resume) in enumerate(todo):
            lines.append(
                f'  {i}) WORK={shlex.quote(stage.work_dir)}; '
                f'RESUME={str(resume).lower()}; '
                f'CMD=({shlex.join(self._train(stage, resume))}) ;;')
        lines += [
            f'  *) echo "array task $SLURM_ARRAY_TASK_ID: no such stage '
            f'(0-{len(todo) - 1})" >&2; exit 2 ;;',
            'esac',
            'SECONDS=0',
            f'{self._env()} "${{CMD[@]}}" >> "$WORK/console.log" 2>&1',
            'code=$?',
            'printf \'{"launcher": "slurm", "exit_code": %d, "seconds": %d, '
            '"resume": %s, "array_job": "%s", "array_task": %d}\\n\' '
            '"$code" "$SECONDS" "$RESUME" "${SLURM_ARRAY_JOB_ID:-}" '
            '"$SLURM_ARRAY_TASK_ID" >> "$WORK/attempts.jsonl"',
            'exit "$code"']
        return '\n'.join(lines) + '\n'

    def _records(self) -> List[Dict]:
        if not osp.isdir(self.folder):
            return []
        records = []
        for name in sorted(os.listdir(self.folder)):
            if name.startswith('array_') and name.endswith('.json'):
                with open(osp.join(self.folder, name)) as f:
                    records.append(json.load(f))
        return sorted(records, key=lambda r: r['index'])

    def run(self, todo: Todo, done: Done) -> str:
        if not todo:
            return ''
        os.makedirs(self.folder, exist_ok=True)
        index = len(self._records())
        script = osp.join(self.folder, f'array_{index}.sh')
        with open(script, 'w') as f:
            f.write(self.script(todo))
        array = f'0-{len(todo) - 1}' + (f'%{self.jobs}' if self.jobs else '')
        command = [
            'sbatch', '--parsable', f'--array={array}',
            f'--job-name={self.job_name}', f'--partition={self.partition}',
            f'--ntasks={self.gpus}',
            f'--ntasks-per-node={self.gpus_per_node}',
            f'--gres=gpu:{self.gpus_per_node}',
            f'--cpus-per-task={self.cpus_per_task}',
            f'--output={osp.join(self.folder, "%A_%a.out")}', script]
        proc = subprocess.run(command, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f'{shlex.join(command)} failed (exit '
                               f'{proc.returncode}): {proc.stderr.strip()}')
        job = proc.stdout.strip().split(';')[0]
        with open(osp.join(self.folder, f'array_{index}.json'), 'w') as f:
            json.dump(dict(index=index, job_id=job, script=script,
                           command=command,
                           stages=[s.work_dir for s, _ in todo]), f,
                      indent=2)
        return (f'{len(todo)} stage(s) submitted as Slurm array job {job} '
                f'(tasks {array}; script {script}): run the same command '
                'again when it has ended')

    @staticmethod
    def _alive(job: str) -> bool:
        """Whether Slurm still lists the array job (without ``squeue`` on
        PATH: assumed so until every task has recorded its end)."""
        if shutil.which('squeue') is None:
            return True
        proc = subprocess.run(['squeue', '-h', '-j', job, '-o', '%i'],
                              capture_output=True, text=True)
        return proc.returncode == 0 and bool(proc.stdout.strip())

    def pending(self, stages: Sequence[Stage]) -> Tuple[Set[str], str]:
        wanted = {s.work_dir for s in stages}
        pending, jobs = set(), []
        for record in self._records():
            waiting = [
                d for d in record['stages'] if d in wanted and d not in
                pending and not any(a.get('array_job') == record['job_id']
                                    for a in read_attempts(d))]
            if waiting and self._alive(record['job_id']):
                pending.update(waiting)
                jobs.append(record['job_id'])
        if not pending:
            return set(), ''
        return pending, (
            f'{len(pending)} of them queued or running in Slurm array job(s) '
            f'{", ".join(jobs)}: run the same command again when they have '
            'ended')


def build_runner(launcher: str, work_dir: str, jobs: Optional[int] = None,
                 threads: int = 1, gpus: int = 1,
                 partition: Optional[str] = None) -> Runner:
    """The runner of a launcher name (:data:`LAUNCHERS`)."""
    if launcher == 'none':
        return LocalRunner(jobs or 1, threads)
    if launcher == 'pytorch':
        return TorchrunRunner(gpus, jobs or 1, threads)
    if launcher == 'slurm':
        if not partition:
            raise ComparisonError('--launcher slurm needs --partition')
        if shutil.which('sbatch') is None:
            raise ComparisonError(
                '--launcher slurm: sbatch is not on PATH; run on a Slurm '
                'login node, or use --launcher none or pytorch')
        return SlurmRunner(work_dir, partition, gpus, jobs, threads,
                           int(os.environ.get('CPUS_PER_TASK', 8)))
    raise ComparisonError(f'--launcher: {launcher!r}; valid: '
                          f'{list(LAUNCHERS)}')
