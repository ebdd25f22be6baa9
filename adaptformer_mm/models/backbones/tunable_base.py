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

A concrete backbone names the stock parts: ``blocks_attr`` (its
``ModuleList`` of transformer blocks, returned by ``tunable_blocks``),
``embed_attrs`` (modules and tensors used before block 0, whose parameters
``embed_parameters()`` returns), ``final_norm_name`` (the output norm
``train_final_norm`` trains), and writes ``forward_block(i, x)``; a method
(AdaptFormer, VPT) adds its modules in ``build_method_modules()``.

:class:`StandardTunableMixin` is the constructor of the backbones whose own
options are ``tuning``, ``train_final_norm``, ``with_cp`` and
``skip_frozen_grad`` (mmpretrain's ViT, both Swins; the VideoMAE ViT has its
own); :func:`method_config_mixin` the base of a method mixin that reads its
``<method>_cfg`` keyword into a frozen config before the backbone builds.
"""
import inspect
import logging
from typing import (Dict, Iterable, Iterator, List, Optional, Sequence, Tuple,
                    Union)

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


def check_build_kwargs(cls: type, tuning: str,
                       kwargs: dict) -> Dict[str, object]:
    """The checks before a tunable backbone builds its stock model:
    :func:`bind_stock_kwargs` (unknown keywords), :func:`check_tuning`, and
    a stock ``frozen_stages`` other than -1 refused (``tuning`` replaces
    it). Returns the bound stock arguments."""
    stock = bind_stock_kwargs(cls, kwargs)
    check_tuning(tuning)
    if stock.get('frozen_stages', -1) != -1:
        raise ValueError(
            f'frozen_stages={stock["frozen_stages"]!r} is not used by '
            f'{cls.__name__}: freezing is tuning=\'peft\' (frozen backbone) '
            f'or tuning=\'full\'; leave frozen_stages at -1')
    return stock


def method_config_mixin(config: type) -> type:
    """The base of a method mixin whose settings are ``config`` (a
    :class:`~adaptformer_mm.peft.config.MethodConfig` subclass).

    Its ``__init__`` takes the keyword ``config.key`` (``lora_cfg``, ...: a
    dict of overrides, a ``config``, or None for the defaults), keeps it,
    checked and frozen, as ``self.<key>`` *before* the backbone builds (so
    ``build_method_modules`` / ``setup_tunable`` / ``_freeze`` can read it
    during ``super().__init__``) and passes every other keyword on. Its
    signature names the keyword, so :func:`own_arguments` lists it.
    """
    key = config.key

    def __init__(self, **kwargs) -> None:
        setattr(self, key, config.from_cfg(kwargs.pop(key, None)))
        super(mixin, self).__init__(**kwargs)

    __init__.__signature__ = inspect.Signature([
        inspect.Parameter('self', inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=None,
                          annotation=Union[None, dict, config]),
        inspect.Parameter('kwargs', inspect.Parameter.VAR_KEYWORD),
    ])
    mixin = type(f'{config.__name__}Mixin', (), {
        '__init__': __init__,
        '__module__': __name__,
        '__doc__': f'Reads ``{key}`` into a frozen {config.__name__} '
                   '(:func:`method_config_mixin`).',
    })
    return mixin


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
    #: Name of the stock model's ``nn.ModuleList`` of transformer blocks
    #: (``'blocks'`` in mmaction2, ``'layers'`` in mmpretrain), which
    #: :attr:`tunable_blocks` returns; set by each backbone.
    blocks_attr: str = ''
    #: Stock modules and tensors used before block 0 (patch / position
    #: embedding...), whose parameters :meth:`embed_parameters` returns; a
    #: name that is None or a buffer (a fixed position table) adds nothing.
    embed_attrs: Tuple[str, ...] = ()
    #: Name of the stock norm that produces the output feature, which
    #: ``train_final_norm`` of :meth:`setup_tunable` trains; None: no such
    #: norm. Set by each backbone before :meth:`setup_tunable`.
    final_norm_name: Optional[str] = None

    # ------------------------------------------------------------ building
    def setup_tunable(self, tuning: str, trained_stock: Iterable[str] = (),
                      with_cp: bool = False, skip_frozen_grad: bool = True,
                      train_final_norm: bool = False) -> None:
        """Record the stock model, add the method's modules, freeze, log.

        Args:
            tuning (str): ``'peft'`` (stock parameters frozen except the
                modules named in ``trained_stock``; the method's modules
                train) or ``'full'`` (everything trains).
            trained_stock (Iterable[str]): Stock module names that still train
                under ``'peft'``.
            with_cp (bool): Activation checkpointing of every block that runs
                with autograd during training.
            skip_frozen_grad (bool): Run the embedding and all blocks below
                the lowest trainable block under ``torch.no_grad()``.
            train_final_norm (bool): Also train :attr:`final_norm_name` (e.g.
                the video ``fc_norm``) under ``'peft'``.
        """
        check_tuning(tuning)
        self.tuning = tuning
        self.with_cp = with_cp
        self.skip_frozen_grad = skip_frozen_grad
        self.trained_stock = tuple(trained_stock) + (
            tuple(self.final_norm_names()) if train_final_norm else ())
        if None in self.trained_stock:
            raise ValueError(f'train_final_norm=True: {type(self).__name__} '
                             'has no final norm (final_norm_name is None)')
        # Everything the stock model built is "pretrained"; the method's
        # modules added below are not. Recorded before they exist.
        self._stock_modules = [n for n, _ in self.named_modules() if n]
        self._stock_keys = list(self.state_dict())
        self.build_method_modules()
        self._freeze()
        print_log(f'{type(self).__name__} (tuning={tuning!r}):\n'
                  f'{self.tunable_summary().format()}', logger='current')

    def final_norm_names(self) -> Sequence[Optional[str]]:
        """The stock norms ``train_final_norm`` trains: by default
        :attr:`final_norm_name` (Swin: one per output stage)."""
        return (self.final_norm_name, )

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
        """The stock transformer blocks, in order (the module list named
        :attr:`blocks_attr`)."""
        if not self.blocks_attr:
            raise NotImplementedError(
                f'{type(self).__name__} sets no blocks_attr')
        return getattr(self, self.blocks_attr)

    def embed_parameters(self) -> List[nn.Parameter]:
        """Parameters used before block 0: those of :attr:`embed_attrs`."""
        params: List[nn.Parameter] = []
        for name in self.embed_attrs:
            item = getattr(self, name, None)
            if isinstance(item, nn.Parameter):
                params.append(item)
            elif isinstance(item, nn.Module):
                params += list(item.parameters())
        return params

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


class StandardTunableMixin(TunableBackboneMixin):
    """The constructor of the tunable backbones whose own options are just
    the four below (mmpretrain's ViT, both Swins): check the keywords, build
    the stock model from them, :meth:`prepare_tunable`, then
    :meth:`~TunableBackboneMixin.setup_tunable`.

    Accepts every argument of the stock class (by keyword; unknown keywords
    are an error) except ``frozen_stages``, which ``tuning`` replaces, plus:

    Args:
        tuning (str): ``'peft'``: every stock parameter is frozen (except the
            final norms with ``train_final_norm``); the method's modules
            train. ``'full'``: everything trains.
        train_final_norm (bool): Train, under ``'peft'``, the stock norms
            that produce the output (:meth:`final_norm_names`). Default
            False: on images the spec trains only the method's modules and
            the head.
        with_cp (bool): Activation checkpointing of every block that runs
            with autograd during training (replaces a stock ``with_cp``).
        skip_frozen_grad (bool): Run the embedding and all blocks below the
            lowest block holding a trainable parameter under
            ``torch.no_grad()`` (same gradients, no graph kept). Default True.
    """

    def __init__(self,
                 *,
                 tuning: str = 'peft',
                 train_final_norm: bool = False,
                 with_cp: bool = False,
                 skip_frozen_grad: bool = True,
                 **kwargs) -> None:
        stock = check_build_kwargs(type(self), tuning, kwargs)
        super().__init__(**kwargs)
        self.train_final_norm = train_final_norm
        self.prepare_tunable(stock)
        self.setup_tunable(tuning, with_cp=with_cp,
                           skip_frozen_grad=skip_frozen_grad,
                           train_final_norm=train_final_norm)

    def prepare_tunable(self, stock: Dict[str, object]) -> None:
        """What the backbone sets up between the stock model and
        :meth:`~TunableBackboneMixin.setup_tunable` (``stock``: the bound
        stock arguments). Nothing here."""
