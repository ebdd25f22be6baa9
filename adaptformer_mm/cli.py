"""The command lines several tools share, written once.

* :class:`ConverterTool`: ``SRC DST [options] [--ignore-unknown] [--force]``
  of the checkpoint converters (``tools/convert_ckpt.py``,
  ``tools/convert_image_ckpt.py``, ``tools/inflate_image_to_video.py``),
  run through :func:`adaptformer_mm.models.convert.convert_file` (exit
  status 0, or 1 with an error naming ``SRC``).
* :class:`ConfigBenchmarkTool`: ``CONFIG [options] [--cfg-options k=v ...]``
  of the benchmarks (``tools/benchmark.py``, ``tools/benchmark_data.py``):
  load the config, merge the overrides, run, print the table, write the
  figures to ``--json``.

A tool states only its own options and what it runs; ``parse_args`` and
``main`` are its tool object's methods.

Options several other tools share:

* :func:`tool_parser`: a tool's parser whose ``--help`` is its docstring;
* every tool that writes a file the user may already have:
  :func:`add_force_option` (``--force``) and :func:`refuse_overwrite`, which
  stops before any work when the file exists and ``--force`` was not given
  (both tool objects above do it for ``DST`` and ``--json``);
* the Runner tools (``tools/train.py``, ``tools/test.py``):
  :func:`runner_parser` (``CONFIG``, ``--work-dir``),
  :func:`add_runner_options` (``--cfg-options``, ``--launcher``,
  ``--local-rank``), :func:`parse_runner_args`, :func:`set_work_dir`;
* the inference tools (``tools/demo.py``, ``tools/multitask_demo.py``,
  ``tools/export_peft.py``, ``tools/test.py``): :func:`add_video_argument`,
  :func:`add_backbone_option`, :func:`add_label_file_option`,
  :func:`add_topk_option`, :func:`add_device_option`;
* :class:`SignatureOptions`: the options of a function's or dataclass's
  keyword parameters, their defaults read from the signature
  (``tools/prepare_videos.py``, ``tools/benchmark_data.py``).
"""
import argparse
import inspect
import json
import os
import os.path as osp
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from mmengine.config import Config, DictAction

from adaptformer_mm.apis import load_config
from adaptformer_mm.models.convert import Conversion, convert_file

AddOptions = Callable[[argparse.ArgumentParser], None]
Argv = Optional[List[str]]


@dataclass(frozen=True)
class ConverterTool:
    """A checkpoint converter's command line.

    Args:
        doc: the tool's docstring; its first line is the description.
        src_help, dst_help: help of the ``src`` and ``dst`` arguments.
        add_options: adds the tool's own options (between ``dst`` and
            ``--ignore-unknown``).
        convert: ``(checkpoint mapping, parsed arguments) ->`` a
            :class:`Conversion`.
        target: what the keys are converted to, for the error message.
    """
    doc: str
    src_help: str
    dst_help: str
    add_options: AddOptions
    convert: Callable[[Mapping, argparse.Namespace], Conversion]
    target: str

    def parse_args(self, argv: Argv = None) -> argparse.Namespace:
        parser = argparse.ArgumentParser(description=self.doc.split('\n')[0])
        parser.add_argument('src', help=self.src_help)
        parser.add_argument('dst', help=self.dst_help)
        self.add_options(parser)
        parser.add_argument(
            '--ignore-unknown', action='store_true',
            help='drop keys no rule converts instead of failing')
        add_force_option(parser, 'DST')
        args = parser.parse_args(argv)
        refuse_overwrite(parser, args, 'dst')
        return args

    def main(self, argv: Argv = None) -> int:
        """Convert ``src`` to ``dst``; the exit status."""
        args = self.parse_args(argv)
        return convert_file(args.src, args.dst,
                            lambda ckpt: self.convert(ckpt, args),
                            self.target, args.ignore_unknown)


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """``--json FILE`` (and ``--force`` to overwrite it), which
    :meth:`ConfigBenchmarkTool.main` writes; each benchmark adds it where
    its help lists it."""
    parser.add_argument('--json', help='write the figures to this file')
    add_force_option(parser, '--json')


@dataclass(frozen=True)
class ConfigBenchmarkTool:
    """A benchmark's command line: ``CONFIG``, its own options (which must
    include :func:`add_json_option`), ``--cfg-options``.

    Args:
        description: the parser's description.
        add_options: adds the tool's own options after ``config``.
        cfg_options_help: help of ``--cfg-options`` (an example override).
        run: ``(config with the overrides merged, parsed arguments) ->`` the
            figures (a JSON-serialisable dict).
        format_result: figures -> the table printed.
    """
    description: str
    add_options: AddOptions
    cfg_options_help: str
    run: Callable[[Config, argparse.Namespace], dict]
    format_result: Callable[[dict], str]

    def parse_args(self, argv: Argv = None) -> argparse.Namespace:
        parser = argparse.ArgumentParser(description=self.description)
        add_config_argument(parser)
        self.add_options(parser)
        add_cfg_options(parser, self.cfg_options_help)
        args = parser.parse_args(argv)
        refuse_overwrite(parser, args, 'json')
        return args

    def main(self, argv: Argv = None) -> dict:
        """Run on the config, print the table, write ``--json``; the
        figures."""
        args = self.parse_args(argv)
        cfg = load_config(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        result = self.run(cfg, args)
        print(self.format_result(result))
        if args.json:
            os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
            with open(args.json, 'w') as f:
                json.dump(result, f, indent=2)
            print(f'figures written to {args.json}')
        return result


def tool_parser(doc: str) -> argparse.ArgumentParser:
    """A parser whose ``--help`` is the tool's docstring ``doc``: its first
    line as the description, the rest (the usage block and notes) after the
    options, as written."""
    first, _, rest = doc.strip().partition('\n')
    return argparse.ArgumentParser(
        description=first, epilog=rest.strip('\n') or None,
        formatter_class=argparse.RawDescriptionHelpFormatter)


def add_force_option(parser: argparse.ArgumentParser, output: str) -> None:
    """``--force``: overwrite ``output`` (the option or argument naming the
    file the tool writes) when it exists; see :func:`refuse_overwrite`."""
    parser.add_argument('--force', action='store_true',
                        help=f'overwrite {output} if it exists')


def refuse_overwrite(parser: argparse.ArgumentParser,
                     args: argparse.Namespace, *dests: str) -> None:
    """Stop (``parser.error``: usage, the message, exit status 2) when a file
    that the arguments ``dests`` name exists and ``--force``
    (:func:`add_force_option`) was not given; called right after parsing,
    so nothing has run yet. The message names the option (``--out FILE``)
    or the argument (``DST FILE``)."""
    if getattr(args, 'force', False):
        return
    for dest in dests:
        path = getattr(args, dest, None)
        if path and osp.exists(path):
            parser.error(f'{_argument_name(parser, dest)} {path} exists; '
                         'choose another name or pass --force to overwrite '
                         'it')


def _argument_name(parser: argparse.ArgumentParser, dest: str) -> str:
    """How ``--help`` spells the argument stored in ``dest``: its longest
    option string, else its metavar or ``DEST``."""
    for action in parser._actions:  # argparse has no public accessor
        if action.dest == dest:
            if action.option_strings:
                return max(action.option_strings, key=len)
            return action.metavar or dest.upper()
    return dest


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """The ``config`` positional argument of a config-driven tool."""
    parser.add_argument('config', help='config file')


def add_cfg_options(parser: argparse.ArgumentParser, help: str) -> None:
    """``--cfg-options k=v ...``: config overrides (mmengine's
    ``DictAction``), merged by the tool."""
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help=help)


# ------------------------------------------------------------ Runner tools
#: ``--launcher`` values, as mmengine's Runner takes them.
LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def runner_parser(description: str,
                  work_dir_help: str) -> argparse.ArgumentParser:
    """A Runner tool's parser: ``CONFIG`` and ``--work-dir``; the tool adds
    its own arguments, then :func:`add_runner_options`."""
    parser = argparse.ArgumentParser(description=description)
    add_config_argument(parser)
    parser.add_argument('--work-dir', help=work_dir_help)
    return parser


def add_runner_options(parser: argparse.ArgumentParser,
                       cfg_options_help: str) -> None:
    """The options every Runner tool ends with, as mmaction2 spells them:
    ``--cfg-options``, ``--launcher`` and ``--local-rank`` (which older
    ``torch.distributed.launch`` passes; see :func:`parse_runner_args`)."""
    add_cfg_options(parser, cfg_options_help)
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_runner_args(parser: argparse.ArgumentParser,
                      argv: Argv = None) -> argparse.Namespace:
    """Parse the command line; ``--local-rank`` becomes ``LOCAL_RANK``
    where the launcher did not set it (mmengine reads the variable)."""
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def set_work_dir(cfg: Config, work_dir: Optional[str], config: str) -> None:
    """``cfg.work_dir`` by priority: ``--work-dir``, then the config's own,
    then ``./work_dirs/<config file name>``."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])


# --------------------------------------------------------- inference tools
def add_video_argument(parser: argparse.ArgumentParser) -> None:
    """The ``video`` positional argument (checked by :func:`require_video`)."""
    parser.add_argument('video', help='video file (mp4, webm, avi, ...); an '
                        'image file for an image config')


def require_video(path: str) -> None:
    """Stop before any model is built when the input file is missing."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'input file not found: {path}')


def add_merge_lora_option(parser: argparse.ArgumentParser) -> None:
    """``--merge-lora``: fold LoRA into the frozen weights before inference
    (:func:`adaptformer_mm.peft.merge_lora`)."""
    parser.add_argument(
        '--merge-lora', action='store_true',
        help='fold LoRA into the frozen weights first: the stock modules at '
        'the stock cost, the same outputs up to float rounding')


def add_backbone_option(parser: argparse.ArgumentParser) -> None:
    """``--backbone``: the pretrained file that completes a tunable-only
    checkpoint (:func:`adaptformer_mm.apis.load_weights`)."""
    parser.add_argument(
        '--backbone',
        help='pretrained backbone for a tunable-only CHECKPOINT (a task '
        'file, or a TunableCheckpointHook checkpoint; default: the '
        "config's model.backbone.init_cfg checkpoint)")


def add_label_file_option(parser: argparse.ArgumentParser) -> None:
    """``--label-file``: class names instead of the stored ones."""
    parser.add_argument(
        '--label-file', help='class names, one per line (default: those '
        'stored in the checkpoint / task file / config)')


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be >= 1, got {value}')
    return value


def add_clip_options(parser: argparse.ArgumentParser,
                     amp_choices: Sequence[str],
                     frames: Optional[int] = None,
                     size: Optional[int] = None,
                     amp: Optional[str] = None,
                     config_amp: str = '') -> None:
    """``--frames``, ``--size`` and ``--amp``: the clip and precision a tool
    measures or plans. Each defaults to the value given here, or (None) to
    what the config says (``config_amp`` says how the config decides)."""

    def default(value, from_config: str = 'from the config') -> str:
        return f'default {value}' if value is not None else \
            f'default: {from_config}'

    parser.add_argument('--frames', type=positive_int, default=frames,
                        help=f'input frames ({default(frames)})')
    parser.add_argument('--size', type=positive_int, default=size,
                        help=f'input height = width ({default(size)})')
    parser.add_argument('--amp', choices=sorted(amp_choices), default=amp,
                        help=f'autocast dtype ({default(amp, config_amp)})')


def add_topk_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``--topk K`` (>= 1, default 5): how many labels are printed."""
    parser.add_argument('--topk', type=positive_int, default=5, help=help)


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """``--device``: where the model runs."""
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')


# ------------------------------------------------- options from signatures
@dataclass(frozen=True)
class SignatureOptions:
    """Options for keyword parameters of ``func`` (a function, or a
    dataclass: its fields), their defaults written once, in the signature.

    Each name of ``helps`` becomes ``--name-with-dashes`` with the
    parameter's default, type (from the default, else the annotation) and
    ``choices``; a parameter that defaults to False is a ``store_true`` flag.
    The help gets ``(default X)`` for a default other than None or False.
    """
    func: Callable
    helps: Mapping[str, str]
    choices: Mapping[str, Sequence] = field(default_factory=dict)

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        params = inspect.signature(self.func).parameters
        for name, text in self.helps.items():
            default = params[name].default
            if default is inspect.Parameter.empty:
                raise TypeError(f'{name} of {self.func.__name__} has no '
                                'default')
            flag = '--' + name.replace('_', '-')
            if default is False:
                parser.add_argument(flag, action='store_true', help=text)
                continue
            kind = type(default) if default is not None else _plain_type(
                params[name].annotation)
            if default is not None:
                text = f'{text} (default {default})'
            parser.add_argument(flag, type=kind, default=default,
                                choices=self.choices.get(name), help=text)

    def values(self, args: argparse.Namespace) -> Dict[str, Any]:
        """The parsed values, as keyword arguments of ``func``."""
        return {name: getattr(args, name) for name in self.helps}


def _plain_type(annotation: Any) -> type:
    """``Optional[X]`` -> ``X``; no annotation -> ``str``."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if args:
        return args[0]
    if isinstance(annotation, type) and \
            annotation is not inspect.Parameter.empty:
        return annotation
    return str
