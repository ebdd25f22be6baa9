"""adaptformer_mm/cli.py: the command-line pieces the tools share."""
import os
from dataclasses import dataclass
from typing import Optional

import pytest
from mmengine.config import Config

from adaptformer_mm import cli

from .conftest import load_tool


@dataclass(frozen=True)
class Settings:
    size: int = 256
    rate: float = 2.5
    name: str = 'fast'
    root: Optional[str] = None
    upscale: bool = False


OPTIONS = cli.SignatureOptions(
    Settings, dict(size='pixels', rate='per second', name='preset',
                   root='a folder', upscale='also enlarge'),
    choices=dict(name=('fast', 'slow')))


DOC = """Make things.

    python tools/make.py [--size 256]

Notes, as written.
"""


def _parser():
    parser = cli.tool_parser(DOC)
    OPTIONS.add_to(parser)
    return parser


def test_signature_options_take_the_defaults_from_the_signature():
    args = _parser().parse_args([])
    assert Settings(**OPTIONS.values(args)) == Settings()
    args = _parser().parse_args(['--size', '64', '--rate', '1', '--name',
                                 'slow', '--root', 'r', '--upscale'])
    assert Settings(**OPTIONS.values(args)) == Settings(64, 1.0, 'slow', 'r',
                                                        True)
    text = _parser().format_help()
    assert 'pixels (default 256)' in text and 'also enlarge\n' in text
    assert 'a folder\n' in text  # no "(default None)"
    # the docstring: first line the description, the rest after the options
    assert text.index('Make things.') < text.index('  --size SIZE') < \
        text.index('    python tools/make.py [--size 256]\n\nNotes, as')
    with pytest.raises(SystemExit):
        _parser().parse_args(['--name', 'medium'])


def test_a_parameter_without_default_is_refused():
    def func(x, y=1):
        return x + y

    parser = cli.tool_parser(__doc__)
    with pytest.raises(TypeError, match='x of func has no default'):
        cli.SignatureOptions(func, dict(x='?')).add_to(parser)


def test_runner_options_local_rank_and_work_dir(monkeypatch, tmp_path):
    parser = cli.runner_parser('Train', 'where the logs go')
    cli.add_runner_options(parser, 'overrides')
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    args = cli.parse_runner_args(
        parser, ['a/b/my_config.py', '--local-rank', '3', '--cfg-options',
                 'x.y=2'])
    assert os.environ['LOCAL_RANK'] == '3' and args.launcher == 'none'
    assert args.cfg_options == {'x.y': 2}
    cfg = Config({})
    cli.set_work_dir(cfg, None, args.config)
    assert cfg.work_dir == './work_dirs/my_config'
    cfg = Config(dict(work_dir='own'))
    cli.set_work_dir(cfg, None, args.config)
    assert cfg.work_dir == 'own'
    cli.set_work_dir(cfg, str(tmp_path), args.config)
    assert cfg.work_dir == str(tmp_path)


def test_topk_must_be_positive():
    parser = cli.tool_parser(__doc__)
    cli.add_topk_option(parser, 'labels')
    assert parser.parse_args([]).topk == 5
    with pytest.raises(SystemExit):
        parser.parse_args(['--topk', '0'])


# Every tool that writes a file the user may already have: (tool under
# tools/, its arguments with OUT for that file, how the error names it).
# (tools/extract_features.py's --force is the feature cache's: a file of the
# same key is reused, one of another key refused; tests/tools/
# test_extract_features.py.)
WRITERS = [
    ('analysis/tsne', ['f.pth', '--out', 'OUT'], '--out'),
    ('convert_ckpt', ['src.pth', 'OUT'], 'DST'),
    ('convert_image_ckpt', ['src.pth', 'OUT'], 'DST'),
    ('inflate_image_to_video', ['src.pth', 'OUT'], 'DST'),
    ('benchmark', ['cfg.py', '--json', 'OUT'], '--json'),
    ('benchmark_data', ['cfg.py', '--json', 'OUT'], '--json'),
    ('export_peft', ['ckpt.pth', 'OUT'], 'OUT'),
    ('demo', ['v.mp4', 'cfg.py', 'ckpt.pth', '--out-video', 'OUT'],
     '--out-video'),
    ('test', ['cfg.py', 'ckpt.pth', '--dump', 'OUT'], '--dump'),
    ('check_dataset', ['cfg.py', '--split', 'val', '--write-clean', 'OUT'],
     '--write-clean'),
]


@pytest.mark.parametrize('name, argv, shown', WRITERS,
                         ids=[w[0] for w in WRITERS])
def test_a_tool_overwrites_an_existing_output_only_with_force(
        name, argv, shown, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv('LOCAL_RANK', '0')  # tools/test.py would set it
    tool = load_tool(name)
    suffix = {'demo': '.mp4', 'test': '.pkl'}.get(name, '.out')
    out = tmp_path / f'mine{suffix}'
    argv = [str(out) if a == 'OUT' else a for a in argv]
    assert tool.parse_args(argv).force is False  # no file yet: no question
    out.write_text('mine')
    with pytest.raises(SystemExit) as stop:
        tool.parse_args(argv)  # before any work
    assert stop.value.code == 2
    assert f'{shown} {out} exists; choose another name or pass --force ' \
        'to overwrite it' in capsys.readouterr().err
    assert tool.parse_args(argv + ['--force']).force is True
    assert out.read_text() == 'mine'
