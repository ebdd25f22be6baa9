"""The steps of a report run: each in its own process (or, for light
preparation, here) under a time limit, all of them within one time budget;
each step's output goes to its log and its outcome is recorded.

Also the command line the reports share: options whose defaults come from
the environment (``PREFIX_NAME``) and change with ``--dry-run``.
"""
import argparse
import contextlib
import json
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from functools import partial
from typing import (Callable, Dict, Iterable, List, Mapping, Optional,
                    Sequence, Tuple)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

#: ``rc`` of a step that did not run.
NOT_RUN = -1
#: ``rc`` of a step stopped at its time limit (as ``timeout(1)`` reports).
TIMED_OUT = 124
#: Seconds a stopped step gets between SIGTERM and SIGKILL.
KILL_AFTER_S = 10


@dataclass(frozen=True)
class Step:
    """One step of a report.

    Args:
        name: the step's name: its log is ``NAME.log``.
        kind: what the step is, for the plan and the records (e.g.
            ``bench``, ``setup``).
        timeout_s: the most seconds it may run (cut to what is left of the
            budget).
        argv: the command, run in its own process group from the
            repository root; or
        call: a callable run in this process (no time limit), for light
            preparation; its printed output goes to the log.
        weight: the step starts only with ``weight`` x the budget's
            ``min_s`` seconds left.
        selected_by: the name that ``--only`` must match (default: the
            step's own), so that a helper step goes with the step it feeds.
        needs: a step that must have ended ``ok`` first.
        meta: what the report records beside the outcome (dataset, ...).
    """
    name: str
    kind: str
    timeout_s: int
    argv: Tuple[str, ...] = ()
    call: Optional[Callable[[], object]] = None
    weight: int = 1
    selected_by: str = ''
    needs: str = ''
    meta: Mapping[str, object] = field(default_factory=dict)

    @property
    def command(self) -> str:
        """The command line, or the call with its arguments."""
        if self.call is None:
            return ' '.join(self.argv)
        func = self.call
        args = ()
        kwargs = {}
        if isinstance(func, partial):
            func, args, kwargs = func.func, func.args, func.keywords
        shown = [repr(a) for a in args] + [f'{k}={v!r}'
                                           for k, v in kwargs.items()]
        return f'{func.__module__}.{func.__name__}({", ".join(shown)})'


def select(steps: Sequence[Step], only: Optional[str]) -> List[Step]:
    """The steps whose name (``selected_by``) the regular expression
    ``only`` matches anywhere; all of them without one."""
    if not only:
        return list(steps)
    pattern = re.compile(only)
    return [s for s in steps if pattern.search(s.selected_by or s.name)]


def format_plan(steps: Sequence[Step]) -> str:
    """One line a step, tab-separated: kind, name, then the arguments after
    the interpreter (or the call)."""
    return '\n'.join('\t'.join([s.kind, s.name, *(
        s.argv[1:] if s.call is None else [s.command])]) for s in steps)


@dataclass(frozen=True)
class Outcome:
    """How a step ended: ``status`` ok / failed / timeout / skipped, the
    exit status ``rc`` (:data:`NOT_RUN`, :data:`TIMED_OUT`, ``-N`` for
    signal N), whole ``seconds`` and why it is not ok."""
    status: str
    rc: int
    seconds: int
    reason: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.status == 'ok'


def skipped(reason: str) -> Outcome:
    return Outcome('skipped', NOT_RUN, 0, reason)


def exit_outcome(rc: int, seconds: int, limit_s: int) -> Outcome:
    """The outcome of a process that ended with ``rc``."""
    if rc == 0:
        return Outcome('ok', rc, seconds)
    if rc == TIMED_OUT:
        return Outcome('timeout', rc, seconds,
                       f'stopped by timeout after {limit_s}s')
    if rc < 0:
        return Outcome('failed', rc, seconds, f'killed by signal {-rc}')
    return Outcome('failed', rc, seconds, f'exit status {rc}')


class Budget:
    """Seconds a run may spend on its steps.

    Args:
        total_s: the whole run's seconds, counted from construction.
        reserve_s: seconds kept for what follows the steps (the summary).
        min_s: a step starts only with ``weight`` x ``min_s`` seconds left.
        clock: seconds, monotonic.
    """

    def __init__(self, total_s: int, reserve_s: int = 0, min_s: int = 1,
                 clock: Callable[[], float] = time.monotonic):
        self.total_s = total_s
        self.reserve_s = reserve_s
        self.min_s = min_s
        self.clock = clock
        self.start = clock()

    def elapsed(self) -> int:
        return int(self.clock() - self.start)

    def left(self) -> int:
        return self.total_s - self.elapsed() - self.reserve_s

    def admits(self, weight: int = 1) -> bool:
        return self.left() >= weight * self.min_s

    def limit(self, timeout_s: int) -> int:
        """``timeout_s`` cut to what is left."""
        return max(1, min(timeout_s, self.left()))


class StepRunner:
    """Runs a report's steps within a :class:`Budget` and keeps their
    outcomes (``outcomes``, in the order they ended).

    Args:
        log_dir: where ``NAME.log`` of each step goes.
        budget: the run's time budget.
        prefix: what the printed lines start with (the report's name).
        tail_lines: lines of a failed step's log printed.
    """

    def __init__(self, log_dir: str, budget: Budget, prefix: str,
                 tail_lines: int = 20):
        self.log_dir = log_dir
        self.budget = budget
        self.prefix = prefix
        self.tail_lines = tail_lines
        self.outcomes: Dict[str, Outcome] = {}
        self.steps: Dict[str, Step] = {}
        os.makedirs(log_dir, exist_ok=True)

    def say(self, message: str) -> None:
        print(f'[{self.prefix} {self.budget.elapsed():4d}s] {message}',
              flush=True)

    def log_path(self, name: str) -> str:
        return osp.join(self.log_dir, f'{name}.log')

    def record(self, step: Step, outcome: Outcome) -> Outcome:
        self.steps[step.name] = step
        self.outcomes[step.name] = outcome
        return outcome

    def skip(self, step: Step, reason: str) -> Outcome:
        self.say(f'skip {step.name}: {reason}')
        return self.record(step, skipped(reason))

    def run(self, step: Step, budgeted: bool = True) -> Outcome:
        """Run ``step`` (skipped when the budget cannot take it or what it
        needs did not end ok); its outcome."""
        needed = self.outcomes.get(step.needs) if step.needs else None
        if step.needs and not (needed and needed.ok):
            return self.skip(step, f'needs {step.needs}, which is '
                             f'{needed.status if needed else "not run"}')
        if budgeted and not self.budget.admits(step.weight):
            return self.skip(step, f'{self.budget.left()}s of the '
                             f'{self.budget.total_s}s budget left')
        limit = self.budget.limit(step.timeout_s) if budgeted \
            else step.timeout_s
        self.say(f'run  {step.name}' +
                 ('' if step.call else f' (timeout {limit}s)'))
        start = time.monotonic()
        with open(self.log_path(step.name), 'w') as log:
            if step.call is not None:
                rc = _call(step.call, log)
            else:
                rc = run_process(step.argv, log, limit)
        outcome = exit_outcome(rc, int(time.monotonic() - start), limit)
        if outcome.ok:
            self.say(f'     {step.name}: ok in {outcome.seconds}s')
        else:
            self.say(f'     {step.name}: {outcome.status} ({outcome.reason})'
                     f' after {outcome.seconds}s; log tail:')
            print(self.tail(step.name), flush=True)
        return self.record(step, outcome)

    def tail(self, name: str) -> str:
        try:
            with open(self.log_path(name), errors='replace') as f:
                lines = f.read().splitlines()[-self.tail_lines:]
        except OSError:
            return ''
        return '\n'.join('        ' + line for line in lines)


def _call(func: Callable[[], object], log) -> int:
    """Run ``func`` with its printed output in ``log``; 0, or 1 with the
    traceback in the log."""
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            func()
        except Exception:  # noqa: BLE001 (recorded as the step's failure)
            traceback.print_exc()
            return 1
    return 0


def run_process(argv: Sequence[str], log, limit_s: int,
                cwd: str = REPO) -> int:
    """Run ``argv`` with its output in ``log``; stopped (with every process
    it started) after ``limit_s`` seconds. Its exit status, or
    :data:`TIMED_OUT`."""
    proc = subprocess.Popen(list(argv), cwd=cwd, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        return proc.wait(timeout=limit_s)
    except subprocess.TimeoutExpired:
        for sig, wait_s in ((signal.SIGTERM, KILL_AFTER_S),
                            (signal.SIGKILL, None)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        return TIMED_OUT


def python_step(name: str, kind: str, timeout_s: int, args: Sequence[str],
                **kwargs) -> Step:
    """A step that runs this interpreter with ``args`` (a script and its
    arguments, or ``-m module ...``)."""
    return Step(name, kind, timeout_s, argv=(sys.executable, *map(str, args)),
                **kwargs)


# ------------------------------------------------------------ results
def load_json(path: str) -> Optional[object]:
    """The JSON in ``path``; None where it is missing or unreadable."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_json(path: str, value: object) -> None:
    with open(path, 'w') as f:
        json.dump(value, f, indent=2)


def write_text(path: str, text: str) -> None:
    with open(path, 'w') as f:
        f.write(text if text.endswith('\n') else text + '\n')


def write_tar(path: str, groups: Iterable[Tuple[str, Sequence[str]]]) -> None:
    """A ``.tar.gz`` of the ``names`` (files or folders) under each
    ``(root, names)`` of ``groups`` that exist, by their names."""
    with tarfile.open(path, 'w:gz') as tar:
        for root, names in groups:
            for name in names:
                if osp.exists(osp.join(root, name)):
                    tar.add(osp.join(root, name), arcname=name)


def fmt(value, spec: str = '{:.1f}') -> str:
    """``value`` formatted, ``n/a`` for None."""
    return 'n/a' if value is None else spec.format(value)


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or not b else a / b


def format_table(rows: Sequence[Sequence[object]],
                 align: Optional[str] = None) -> str:
    """``rows`` (the first one the header) in columns two spaces apart,
    the header underlined; ``align`` has ``l`` or ``r`` a column (default:
    the first left, the others right)."""
    rows = [[str(c) for c in row] for row in rows]
    align = align or 'l' + 'r' * (len(rows[0]) - 1)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]

    def line(cells):
        return '  '.join(c.ljust(w) if a == 'l' else c.rjust(w)
                         for c, w, a in zip(cells, widths, align)).rstrip()

    return '\n'.join([line(rows[0]), line(['-' * w for w in widths])] +
                     [line(r) for r in rows[1:]])


class Tee:
    """A text stream that writes to several."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


# -------------------------------------------------------- command line
def add_run_options(parser: argparse.ArgumentParser, name: str,
                    dry: Mapping[str, object]) -> None:
    """The options every report has: ``--dry-run`` (which sets the
    defaults ``dry``), ``--out`` and ``--work``."""
    shown = ', '.join(f'{k.replace("_", "-")} {v}' for k, v in dry.items())
    parser.add_argument(
        '--dry-run', action='store_true',
        help='check the whole flow on the CPU, in seconds to minutes (not '
        f'GPU figures); defaults: {shown}')
    parser.add_argument('--out', help='results folder (default: a new '
                        f'temporary folder {name}_out.*)')
    parser.add_argument('--work', help='scratch folder, kept (default: a '
                        'temporary folder, removed at the end)')


def env_defaults(parser: argparse.ArgumentParser, prefix: str,
                 names: Mapping[str, str]) -> None:
    """Defaults from the environment: the option stored in ``dest`` from
    ``PREFIX_DEST`` (``names`` maps other dests to their variable). A flag
    is set by any value but ``0``; a list option's value is split at
    spaces."""
    found = {}
    for action in parser._actions:  # argparse has no public accessor
        if not action.option_strings or action.dest == 'help':
            continue
        value = os.environ.get(names.get(action.dest,
                                         prefix + action.dest.upper()))
        if not value:
            continue
        if action.nargs == 0:
            found[action.dest] = value != '0'
        elif action.nargs in ('+', '*'):
            found[action.dest] = [(action.type or str)(v)
                                  for v in value.split()]
        else:
            found[action.dest] = (action.type or str)(value)
    parser.set_defaults(**found)


def parse_report_args(parser: argparse.ArgumentParser, argv, prefix: str,
                      dry: Mapping[str, object],
                      names: Mapping[str, str] = {}) -> argparse.Namespace:
    """Parse ``argv``: an option not given takes its environment variable
    (:func:`env_defaults`; ``--out``: ``OUT``), else its ``dry`` default
    with ``--dry-run``, else its own."""
    names = {'out': 'OUT', **names}
    env_defaults(parser, prefix, names)
    if parser.parse_known_args(argv)[0].dry_run:
        parser.set_defaults(**dry)
        env_defaults(parser, prefix, names)
    return parser.parse_args(argv)


def temp_dirs(out: Optional[str], work: Optional[str],
              name: str) -> Tuple[str, str, bool]:
    """The results and scratch folders, made (absolute); given ones, else
    new temporary ``NAME_out.*`` / ``NAME_work.*``; and whether the scratch
    folder is a temporary one."""
    out = out or tempfile.mkdtemp(prefix=f'{name}_out.')
    temporary = not work
    work = work or tempfile.mkdtemp(prefix=f'{name}_work.')
    for folder in (out, work):
        os.makedirs(folder, exist_ok=True)
    return osp.abspath(out), osp.abspath(work), temporary
