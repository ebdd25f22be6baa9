"""adaptformer_mm/utils/cli.py: the command-line pieces the tools share."""
import os
from dataclasses import dataclass
from typing import Optional

import pytest
from mmengine.config import Config

from adaptformer_mm.utils import cli


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
