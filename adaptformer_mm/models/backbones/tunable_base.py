"""What every tunable backbone shares, video or image, written once.

:class:`TunableBackboneMixin` goes in front of a stock ViT class (mmaction2's
VideoMAE ``VisionTransformer`` or mmpretrain's ``VisionTransformer``) and adds:

* freezing decided at build time (``tuning='peft'`` or ``'full'``), so DDP,
  resume and test see the same trainable set (mmengine builds the optimizer
  and wraps DDP before any hook runs);
* ``train()`` that keeps frozen stock modules in eval mode (no dropout or
  drop-path on the frozen path, VPT Sec. 3.2 / AdaptFormer's recipe);
* no autograd graph below the lowest block holding a trainable parameter,
  and optional activation checkpointing of the blocks that do need one;
* the ``trainable params: N || all params: M`` summary (the tunable-only
  state is :func:`adaptformer_mm.peft.tunable_state_dict`);
* a plain report of pretrained tensors a checkpoint did not fill (they stay
  frozen: freezing never depends on what loaded).

A concrete backbone provides the stock parts: ``tunable_blocks`` (the
``ModuleList`` of transformer blocks), ``embed_parameters()`` (parameters
used before block 0) and ``forward_block(i, x)``; a method (AdaptFormer, VPT)
adds its modules in ``build_method_modules()``.
"""
import inspect
import logging
from typing import Dict, Iterable, Iterator, List, Sequence, Tuple

import torch
from mmengine.logging import print_log
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from adaptformer_mm.peft import (ParamSummary, keep_in_eval, set_trainable,
                                 summarize_parameters)

TUNINGS = ('peft', 'full')


def own_arguments(cls: type) -> Tuple[str, ...]:
    """Keyword arguments ``cls`` takes beyond its stock backbone
    (``cls.stock_backbone``): those of every ``__init__`` in its MRO before
    the stock class (the tunable backbone, then method mixins such as
    ``adapter_cfg``), read from their signatures, base-most class first.

    This is what a stock-model builder must drop from a config of ``cls`` (a
    benchmark baseline, say) and what error messages list as valid.
    """
    stock = cls.stock_backbone
    mro = cls.__mro__
    names: List[str] = []
    for klass in reversed(mro[:mro.index(stock)]):
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        for name, param in inspect.signature(init).parameters.items():
            if name != 'self' and param.kind not in (
                    inspect.Parameter.VAR_KEYWORD,
                    inspect.Parameter.VAR_POSITIONAL) and name not in names:
                names.append(name)
    return tuple(names)


def bind_stock_kwargs(cls: type, kwargs: dict) -> Dict[str, object]:
    """All arguments of ``cls.stock_backbone.__init__`` with defaults applied.

    Unknown keywords are a ``TypeError`` naming them and every valid one (the
    stock arguments and :func:`own_arguments`), so a misspelt config key
    fails at build instead of being ignored.
    """
    signature = inspect.signature(cls.stock_backbone.__init__)
    stock_args = [
        name for name, p in signature.parameters.items()
        if name != 'self' and p.kind is not inspect.Parameter.VAR_KEYWORD
    ]
    unknown = sorted(set(kwargs) - set(stock_args))
    if unknown:
        raise TypeError(f'{cls.__name__} got unknown argument(s) {unknown}; '
                        f'valid: {stock_args} and '
                        f'{", ".join(own_arguments(cls))}')
    bound = signature.bind_partial(None, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def check_tuning(tuning: str) -> None:
    if tuning not in TUNINGS:
        raise ValueError(f'tuning must be one of {TUNINGS}, got {tuning!r}')


class TunableBackboneMixin:
    """Build-time freezing, frozen-in-eval, no wasted autograd, summaries and
    load reports for a stock ViT (see the module docstring).

    Subclasses call :meth:`setup_tunable` at the end of ``__init__``, once the
    stock model exists.
    """

    #: Tool that converts checkpoints for this backbone (named in warnings).
    convert_hint = 'tools/convert_ckpt.py'
    #: The stock ViT class this backbone extends (set by each backbone).
    stock_backbone: type = object

    # ------------------------------------------------------------ building
    def setup_tunable(self, tuning: str, trained_stock: Iterable[str],
                      with_cp: bool, skip_frozen_grad: bool) -> None:
        """Record the stock model, add the method's modules, freeze, log.

        Args:
            tuning (str): ``'peft'`` (stock parameters frozen except the
                modules named in ``trained_stock``; the method's modules
                train) or ``'full'`` (everything trains).
            trained_stock (Iterable[str]): Stock module names that still train
                under ``'peft'`` (e.g. the video ``fc_norm``).
            with_cp (bool): Activation checkpointing of every block that runs
                with autograd during training.
            skip_frozen_grad (bool): Run the embedding and all blocks below
                the lowest trainable block under ``torch.no_grad()``.
        """
        check_tuning(tuning)
        self.tuning = tuning
        self.with_cp = with_cp
        self.skip_frozen_grad = skip_frozen_grad
        self.trained_stock = tuple(trained_stock)
        # Everything the stock model built is "pretrained"; the method's
        # modules added below are not. Recorded before they exist.
        self._stock_modules = [n for n, _ in self.named_modules() if n]
        self._stock_keys = list(self.state_dict())
        self.build_method_modules()
        self._freeze()
        print_log(f'{type(self).__name__} (tuning={tuning!r}):\n'
                  f'{self.tunable_summary().format()}', logger='current')

    def build_method_modules(self) -> None:
        """Add the method's trainable modules; called once by
        :meth:`setup_tunable` before freezing. None here (linear probing)."""

    def _freeze(self) -> None:
        stock = set(self._stock_keys)
        prefixes = tuple(n + '.' for n in self.trained_stock)

        def trainable(name: str) -> bool:
            if name not in stock or self.tuning == 'full':
                return True
            return name.startswith(prefixes)

        set_trainable(self, trainable)
        if self.tuning == 'full':
            self._frozen_modules: List[str] = []
        else:
            self._frozen_modules = [
                n for n in self._stock_modules if n not in self.trained_stock
            ]

    def train(self, mode: bool = True):
        """Frozen stock modules stay in eval mode (no dropout, no
        drop-path); the method's modules and trained stock modules follow
        ``mode``."""
        super().train(mode)
        if mode:
            keep_in_eval(self, self._frozen_modules)
        return self

    def tunable_summary(self) -> ParamSummary:
        """Trainable / all parameter counts and trainable groups."""
        return summarize_parameters(self)

    # ------------------------------------------------------------- forward
    @property
    def tunable_blocks(self) -> nn.ModuleList:
        """The stock transformer blocks, in order."""
        raise NotImplementedError

    def embed_parameters(self) -> List[nn.Parameter]:
        """Parameters used before block 0 (patch / position embedding...)."""
        raise NotImplementedError

    def forward_block(self, index: int, x: Tensor) -> Tensor:
        """Block ``index`` on tokens ``(B, N, d)``."""
        raise NotImplementedError

    def block_params(self, index: int) -> Iterator[nn.Parameter]:
        """Parameters that make block ``index`` need autograd."""
        return self.tunable_blocks[index].parameters()

    def first_grad_block(self) -> int:
        """Lowest block index that holds a trainable parameter; ``-1`` when
        the embedding stage trains, ``depth`` when no block does."""
        if any(p.requires_grad for p in self.embed_parameters()):
            return -1
        for i in range(len(self.tunable_blocks)):
            if any(p.requires_grad for p in self.block_params(i)):
                return i
        return len(self.tunable_blocks)

    def grad_plan(self) -> Tuple[bool, int]:
        """``(grad, start)``: whether autograd is on for this call and the
        first block that records a graph (``-1``: the embedding too).

        Nothing below ``start`` holds a trainable parameter, so running it
        under ``no_grad`` changes no gradient; it only saves the graph and the
        activations autograd would keep.
        """
        grad = torch.is_grad_enabled()
        start = self.first_grad_block() if self.skip_frozen_grad else -1
        return grad, start

    def run_block(self, index: int, x: Tensor, grad: bool,
                  start: int) -> Tensor:
        """:meth:`forward_block` under the plan of :meth:`grad_plan`."""
        needs_grad = grad and index >= start
        with torch.set_grad_enabled(needs_grad):
            if self.with_cp and self.training and needs_grad:
                return checkpoint(
                    self.forward_block, index, x, use_reentrant=False)
            return self.forward_block(index, x)

    # ------------------------------------------------------------- loading
    def deterministic_keys(self) -> Sequence[str]:
        """State keys that are a function of the shape, not weights (never
        reported as missing)."""
        return ()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)
        self._report_load(state_dict, prefix)

    def _report_load(self, state_dict, prefix: str) -> None:
        """Name every backbone tensor the checkpoint did not fill.

        Frozen pretrained tensors left at their init are the dangerous case
        (the reference code silently re-initialised and unfroze them): they
        get a WARNING. Freezing never depends on what loaded.
        """
        own = self.state_dict()
        deterministic = set(self.deterministic_keys())
        missing = [
            k for k in own
            if prefix + k not in state_dict and k not in deterministic
        ]
        unexpected = sorted(
            k[len(prefix):] for k in state_dict
            if k.startswith(prefix) and k[len(prefix):] not in own)
        stock = set(self._stock_keys)
        params = dict(self.named_parameters())
        frozen = [k for k in missing if k in stock and not (
            k in params and params[k].requires_grad)]
        trained = [k for k in missing if k in stock and k not in frozen]
        method = [k for k in missing if k not in stock]
        name = type(self).__name__
        where = f' (under prefix {prefix!r})' if prefix else ''
        if frozen:
            print_log(
                f'{name}{where}: {len(frozen)} FROZEN pretrained tensor(s) '
                f'were NOT in the checkpoint and keep their initial values '
                f'(they stay frozen): {frozen}. Was the checkpoint converted '
                f'({self.convert_hint}) and does init_cfg need '
                f'prefix="backbone."?',
                logger='current',
                level=logging.WARNING)
        if trained:
            print_log(
                f'{name}{where}: trainable pretrained tensor(s) not in the '
                f'checkpoint start from their init: {trained}',
                logger='current',
                level=logging.WARNING)
        if method:
            print_log(
                f'{name}{where}: {len(method)} method tensor(s) not in the '
                f'checkpoint start from their init (expected when loading a '
                f'pretrained backbone).',
                logger='current')
        if unexpected:
            print_log(
                f'{name}{where}: checkpoint tensors with no place in this '
                f'backbone were ignored: {unexpected}',
                logger='current',
                level=logging.WARNING)
