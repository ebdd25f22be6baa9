"""The command lines several tools share, written once.

* :class:`ConverterTool`: ``SRC DST [options] [--ignore-unknown]`` of the
  checkpoint converters (``tools/convert_ckpt.py``,
  ``tools/convert_image_ckpt.py``, ``tools/inflate_image_to_video.py``),
  run through :func:`adaptformer_mm.models.convert.convert_file` (exit
  status 0, or 1 with an error naming ``SRC``).
* :class:`ConfigBenchmarkTool`: ``CONFIG [options] [--cfg-options k=v ...]``
  of the benchmarks (``tools/benchmark.py``, ``tools/benchmark_data.py``):
  load the config, merge the overrides, run, print the table, write the
  figures to ``--json``.

A tool states only its own options and what it runs; ``parse_args`` and
``main`` are its tool object's methods.
"""
import argparse
import json
import os
import os.path as osp
from dataclasses import dataclass
from typing import Callable, List, Mapping, Optional

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
        return parser.parse_args(argv)

    def main(self, argv: Argv = None) -> int:
        """Convert ``src`` to ``dst``; the exit status."""
        args = self.parse_args(argv)
        return convert_file(args.src, args.dst,
                            lambda ckpt: self.convert(ckpt, args),
                            self.target, args.ignore_unknown)


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """``--json FILE``, which :meth:`ConfigBenchmarkTool.main` writes; each
    benchmark adds it where its help lists it."""
    parser.add_argument('--json', help='write the figures to this file')


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
        parser.add_argument('config', help='config file')
        self.add_options(parser)
        parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                            help=self.cfg_options_help)
        return parser.parse_args(argv)

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
