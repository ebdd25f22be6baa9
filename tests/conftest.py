import contextlib
import io
import os
import os.path as osp
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Sequence

import pytest

# One torch thread in the tests and in every process they start: their
# tensors are tiny, and two threads synchronising on them cost more than they
# compute (a 2-core machine, with other jobs running, ran the backbone
# contract's bf16 and fake-CUDA rows 2.3 to 4.7 times slower with two). A test
# about threads sets its own.
os.environ.setdefault('OMP_NUM_THREADS', '1')


@pytest.fixture(autouse=True, scope='session')
def torch_threads():
    """The thread count above, also where torch was imported before this
    file (in the processes that run tests, not in the one that hands them
    out to -n workers)."""
    import torch
    torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))


REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO_CONFIG = osp.join(
    REPO, 'configs', 'demo',
    'videomae_vit-tiny-p16_scratch_adamw-30e_synthetic-direction.py')


def load_tool(name):
    """``tools/NAME.py`` (NAME may be ``data/x``) as a module (the tools are
    scripts, not a package).

    Registered in ``sys.modules`` (the latest load under its name), so that
    its functions pickle by name into worker processes as a script's do.
    """
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        f'tool_{name.replace("/", "_")}',
        osp.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class ToolRun:
    """What :func:`run_tool` saw, named as ``subprocess.CompletedProcess``
    names it; ``result`` is what ``main`` returned."""
    returncode: int
    stdout: str
    stderr: str
    result: Any = None

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def _manager_instances():
    """Names of mmengine's global instances (loggers, message hubs,
    visualizers, scopes) per class, each class keeping its own."""
    from mmengine.utils import ManagerMixin
    found, stack = {}, [ManagerMixin]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if '_instance_dict' in vars(cls):
            found[cls] = set(cls._instance_dict)
    return found


def _drop_new_instances(before) -> None:
    """Forget the global instances a run made, as its process's end would:
    a later run that starts in the same second under the same config name
    would otherwise get this run's logger and message hub back, and the
    'current' logger would keep writing into this run's captured output."""
    import logging
    for cls, names in _manager_instances().items():
        for name in names - before.get(cls, set()):
            instance = cls._instance_dict.pop(name)
            if isinstance(instance, logging.Logger):
                for handler in list(instance.handlers):
                    instance.removeHandler(handler)
                    handler.close()


def run_tool(name: str, argv: Sequence[str], check: bool = True) -> ToolRun:
    """``tools/NAME.py``'s ``main(argv)`` in this process, on one torch
    thread (see :func:`one_torch_thread`), without the seconds of imports a
    fresh interpreter costs (:func:`run_python`).

    Its output is captured whatever pytest captures, so a module-scoped
    fixture can run a tool too. mmengine's log is in ``stdout``: the Runner
    makes its logger during the run, and the logger's handler writes to the
    stream that is ``sys.stdout`` then. ``SystemExit`` (argparse's
    ``parser.error``: status 2, message on stderr) becomes ``returncode`` as
    the interpreter makes it; any other error is raised. With ``check``, a
    status other than 0 fails the test with the output.
    """
    import torch
    tool = load_tool(name)
    out, err = io.StringIO(), io.StringIO()
    before = _manager_instances()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    returncode, result = 0, None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                result = tool.main(list(argv))
            except SystemExit as stop:
                if stop.code is None or isinstance(stop.code, int):
                    returncode = stop.code or 0
                else:  # sys.exit('message'): printed, status 1
                    print(stop.code, file=sys.stderr)
                    returncode = 1
    finally:
        torch.set_num_threads(threads)
        _drop_new_instances(before)
    run = ToolRun(returncode, out.getvalue(), err.getvalue(), result)
    if check and returncode != 0:
        raise AssertionError(f'tools/{name}.py {" ".join(argv)} exited with '
                             f'{returncode}:\n{run.stdout[-3000:]}\n'
                             f'{run.stderr[-5000:]}')
    return run


def run_python(args, cwd=REPO, env=None, timeout=600, check=True):
    """Run ``python ARGS`` in a fresh interpreter; return the CompletedProcess."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run([sys.executable] + list(args), cwd=cwd,
                          env=full_env, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'python {" ".join(args)} failed '
                             f'({proc.returncode}):\n{proc.stdout[-3000:]}\n'
                             f'{proc.stderr[-5000:]}')
    return proc


# End-to-end runs (process groups, fresh interpreters, the GPU reports' dry
# runs, every tool on every kind of config), marked ``slow`` here so that
# ``pytest -m "not slow"`` is the quick loop; a test elsewhere that is one
# carries ``@pytest.mark.slow`` itself.
SLOW_MODULES = (
    'tests/tools/test_run_demo.py',
    'tests/engine/test_distributed.py',
    'tests/engine/test_fsdp.py',
    'tests/reliability/test_distributed_peft.py',
    'tests/reliability/test_interrupted_training.py',
    'tests/tools/test_mim.py',
    'tests/tools/test_tools_contract.py',
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = osp.relpath(osp.realpath(item.path), osp.realpath(REPO))
        if module.replace(os.sep, '/') in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
    # The end-to-end files first (in their order), the rest after: with -n,
    # the short files then fill the workers' last minutes, instead of one
    # worker finishing a long file alone.
    items.sort(key=lambda item: item.get_closest_marker('slow') is None)


@pytest.fixture(autouse=True, scope='session')
def config_text_once_per_content():
    """Each distinct config's text formatted once per test process.

    mmengine formats ``Config.pretty_text`` with yapf at every place a run
    asks for it (the log, the dumped config, each checkpoint's meta, the
    message hub: about six times a run, up to half a second each), and the
    suite runs a few hundred Runners on a few dozen configs. The text is a
    function of the file name and the content, so it is kept by them.
    """
    from mmengine.config import Config
    original = Config.pretty_text
    texts = {}

    def pretty_text(self):
        try:
            key = (self.filename, repr(self._cfg_dict.to_dict()))
        except Exception:  # content without a stable repr: format it
            return original.fget(self)
        if key not in texts:
            texts[key] = original.fget(self)
        return texts[key]

    Config.pretty_text = property(pretty_text)
    yield
    Config.pretty_text = original


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory):
    """Parent folder of the small synthetic datasets shared by the tests
    (``SyntheticVideoDataset`` writes them on first use)."""
    return str(tmp_path_factory.mktemp('synthetic'))


def tiny_demo_overrides(data_root, epochs=1):
    """--cfg-options that shrink the demo config to seconds."""
    opts = [f'train_cfg.max_epochs={epochs}', 'train_cfg.val_interval=1',
            'model.backbone.depth=2', 'model.backbone.embed_dims=32',
            'model.backbone.num_heads=2', 'model.cls_head.in_channels=32']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.data_root={data_root}',
                 f'{loader}.dataset.num_train=16',
                 f'{loader}.dataset.num_val=8',
                 f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False',
                 f'{loader}.batch_size=4']
    return ['--cfg-options'] + opts


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test: tiny tensors on two threads spin
    against the rest of a 2-core machine (10x slower); restored after."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
