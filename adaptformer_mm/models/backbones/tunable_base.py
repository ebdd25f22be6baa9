"""What every tunable backbone shares, written once: the skeleton, the
family protocol and the way a (method, family) cell is made.

:class:`TunableBackboneMixin` goes in front of a stock backbone class (a
*family*: mmaction2's VideoMAE ViT and Video Swin, mmpretrain's ViT and Swin)
and adds:

* freezing decided at build time (``tuning='peft'`` or ``'full'``), so DDP,
  resume and test see the same trainable set (mmengine builds the optimizer
  and wraps DDP before any hook runs);
* ``train()`` that keeps frozen stock modules in eval mode (no dropout or
  drop-path on the frozen path, VPT Sec. 3.2 / AdaptFormer's recipe);
* the forward skeleton (:meth:`TunableBackboneMixin.forward`): no autograd
  graph below the lowest block holding a trainable parameter, and optional
  activation checkpointing of the blocks that do need one;
* the ``trainable params: N || all params: M`` summary (the tunable-only
  state is :func:`adaptformer_mm.peft.tunable_state_dict`);
* a plain report of pretrained tensors a checkpoint did not fill (they stay
  frozen: freezing never depends on what loaded).

A family sets the protocol's items (``stock_backbone``, ``family_name``,
``blocks_attr``, ``embed(inputs)``, ``attn_branch`` / ``mlp_branch``,
``readout``, and optional hooks with defaults; ``docs/adding_a_method.md``
lists them). A method is a mixin (:class:`MethodMixin`) that adds its modules
in ``build_method_modules()`` and uses only those hooks; :func:`method_class`
makes and registers the class of a (method, family) cell.

:class:`StandardTunableMixin` is the constructor of the families whose own
options are ``tuning``, ``train_final_norm``, ``with_cp`` and
``skip_frozen_grad`` (mmpretrain's ViT, both Swins; the VideoMAE ViT adds
``attn_impl``); :func:`method_config_mixin` the base of a method mixin that
reads its ``<method>_cfg`` keyword into a frozen config before the backbone
builds.
"""
import inspect
import logging
import math
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Optional,
                    Sequence, Tuple, Union)

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


class MethodMixin:
    """What every method mixin has: the prefix of its registered names and
    the mixin it uses on a given family (:func:`method_class`)."""

    #: Prefix of the registered names (``'AdaptFormer'``).
    method_name: str = ''

    @classmethod
    def for_family(cls, family: type) -> type:
        """The mixin that runs this method on ``family`` (itself; VPT picks
        its window variant on a windowed family). Raises ``TypeError``
        naming the family when the method cannot run there."""
        return cls


def method_config_mixin(config: type) -> type:
    """The base of a method mixin whose settings are ``config`` (a
    :class:`~adaptformer_mm.peft.config.MethodConfig` subclass).

    Its ``__init__`` takes the keyword ``config.key`` (``lora_cfg``, ...: a
    dict of overrides, a ``config``, or None for the defaults), keeps it,
    checked and frozen, as ``self.<key>`` *before* the backbone builds (so
    ``build_method_modules`` / ``setup_tunable`` / ``_freeze`` can read it
    during ``super().__init__``) and passes every other keyword on. Its
    signature names the keyword, so :func:`own_arguments` lists it.

    A family may give the config another class (``method_configs``: Swin's
    per-stage :class:`~adaptformer_mm.peft.swin_adapter.SwinAdapterConfig`)
    and other defaults (``method_defaults``: the image adapter dropout 0.1).
    """
    key = config.key

    def __init__(self, **kwargs) -> None:
        kind = self.method_configs.get(key, config)
        setattr(self, key, kind.from_cfg(kwargs.pop(key, None),
                                         **self.method_defaults.get(key, {})))
        super(mixin, self).__init__(**kwargs)

    __init__.__signature__ = inspect.Signature([
        inspect.Parameter('self', inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=None,
                          annotation=Union[None, dict, config]),
        inspect.Parameter('kwargs', inspect.Parameter.VAR_KEYWORD),
    ])
    mixin = type(f'{config.__name__}Mixin', (MethodMixin, ), {
        '__init__': __init__,
        '__module__': __name__,
        '__doc__': f'Reads ``{key}`` into a frozen {config.__name__} '
                   '(:func:`method_config_mixin`).',
    })
    return mixin


def plain_drop_rates(model: nn.Module) -> None:
    """Make every drop-path rate of ``model`` a Python float. mmpretrain
    stores ``numpy.float64`` rates (from ``np.linspace``), and
    ``torch.compile`` breaks the graph at each comparison with one."""
    for module in model.modules():
        rate = getattr(module, 'drop_prob', None)
        # numpy.float64 subclasses float: test the exact type.
        if rate is not None and type(rate) not in (float, int) and \
                not torch.is_tensor(rate):
            module.drop_prob = float(rate)


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

    # ---------------------------------------------------- family protocol
    # What a family (a stock backbone made tunable) provides; the methods
    # read nothing else. docs/adding_a_method.md lists them with examples.
    #: Registry the family's classes go to (mmaction2's or mmpretrain's
    #: ``MODELS``); None: not registered.
    registry = None
    #: Suffix of the family's registered names (``'VideoViT'`` gives
    #: ``AdaptFormerVideoViT``).
    family_name: str = ''
    #: Tokens before the patch tokens in the sequence (CLS: 1).
    num_prefix_tokens: int = 0
    #: ``'sequence'``: blocks see ``(B, N, d)`` tokens (ViT);
    #: ``'windows'``: a grid attended in windows (Swin); VPT follows it.
    token_layout: str = 'sequence'
    #: Per-method config classes and defaults of this family, by config key
    #: (:func:`method_config_mixin`).
    method_configs: Dict[str, type] = {}
    method_defaults: Dict[str, dict] = {}

    @property
    def stage_widths(self) -> Tuple[int, ...]:
        """Token width of each stage (a ViT has one stage)."""
        return (self.embed_dims, )

    @property
    def block_stage(self) -> Tuple[int, ...]:
        """Stage of each block."""
        return (0, ) * len(self.tunable_blocks)

    @property
    def readout_heads(self) -> int:
        """Attention heads of the last block (a pooler over the tokens the
        readout sees uses as many)."""
        return self.tunable_blocks[-1].attn.num_heads

    @property
    def patch_fan_in(self) -> int:
        """Inputs of one patch projection (``3*16*16``, or ``3*2*16*16``
        for a video tubelet): VPT's init bound."""
        return math.prod(self.patch_embed.projection.weight.shape[1:])

    @property
    def num_patch_tokens(self) -> int:
        """Patch tokens of the input the backbone was built for."""
        return self.pos_embed.shape[1] - self.num_prefix_tokens

    def embed(self, inputs: Tensor) -> Tuple[Tensor, Any]:
        """Tokens before block 0 and a context the readout needs (the
        token grid, ...)."""
        raise NotImplementedError

    def attn_branch(self, block: nn.Module, x: Tensor) -> Tensor:
        """The block's attention residual branch (without the residual)."""
        raise NotImplementedError

    def mlp_branch(self, block: nn.Module, x: Tensor) -> Tensor:
        """The block's MLP residual branch (without the residual)."""
        raise NotImplementedError

    def readout(self, x: Tensor, ctx: Any, index: int,
                pool: Optional[Callable[[Tensor, int], Tensor]] = None):
        """The output after block ``index`` (the stock readout). ``pool``,
        when given, replaces the stock pooling: it maps the (normed) tokens
        the stock readout pools, ``(B, n, d)`` with ``prefix`` prefix tokens
        first, to ``(B, d)`` (the attentive probe, VPT's output ablation)."""
        raise NotImplementedError

    # ------------------------------------------------------------ building
    def setup_tunable(self, tuning: str, trained_stock: Iterable[str] = (),
                      with_cp: bool = False, skip_frozen_grad: bool = True,
                      train_final_norm: bool = False) -> None:
        """Record the stock model, add the method's modules, freeze, log.

        Args:
            tuning (str): ``'peft'`` (stock parameters frozen except the
                modules named in ``trained_stock``; the method's modules
                train) or ``'full'`` (everything trains).
            trained_stock (Iterable[str]): Stock modules (or single stock
                parameters, such as UniFormerV2's ``temporal_cls_token``)
                that still train under ``'peft'``; a trained module runs in
                the caller's mode with all its submodules.
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
        plain_drop_rates(self)
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
        named = set(self.trained_stock)
        prefixes = tuple(n + '.' for n in self.trained_stock)

        def trainable(name: str) -> bool:
            if name not in stock or self.tuning == 'full':
                return True
            return name in named or name.startswith(prefixes)

        set_trainable(self, trainable)
        if self.tuning == 'full':
            self._frozen_modules: List[str] = []
        else:
            # A trained stock module trains whole: its submodules (dropout,
            # a BatchNorm's statistics) follow train() / eval() with it.
            self._frozen_modules = [
                n for n in self._stock_modules
                if n not in named and not n.startswith(prefixes)
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
    def forward(self, inputs: Tensor):
        """The skeleton every family shares: :meth:`embed`, the blocks
        through :meth:`run_block` under :meth:`grad_plan`, each followed by
        :meth:`after_block` (outputs, norms, patch merging), then
        :meth:`format_outputs`."""
        grad, start = self.grad_plan()
        with torch.set_grad_enabled(grad and start < 0):
            x, ctx = self.embed(inputs)
        outs: List[Tensor] = []
        for i in range(len(self.tunable_blocks)):
            x = self.run_block(i, x, grad, start)
            # Under the caller's grad mode: a trained norm may follow frozen
            # blocks, and frozen work on tensors without a graph records
            # none.
            x = self.after_block(i, x, ctx, outs)
        return self.format_outputs(outs)

    @property
    def tunable_blocks(self) -> nn.ModuleList:
        """The stock transformer blocks, in order (the module list named
        :attr:`blocks_attr`)."""
        return getattr(self, self.blocks_attr)

    def block_names(self) -> List[str]:
        """Module name of each block of :attr:`tunable_blocks`
        (``blocks.0``, ``stages.1.blocks.0``, ...)."""
        names = {id(m): n for n, m in self.named_modules()}
        return [names[id(b)] for b in self.tunable_blocks]

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
        """Block ``index``, the pre-norm block of every family:
        ``x' = x + attn_branch(x); x' + mlp_branch(x')``."""
        block = self.tunable_blocks[index]
        x = x + self.attn_branch(block, x)
        return x + self.mlp_branch(block, x)

    def after_block(self, index: int, x: Tensor, ctx: Any,
                    outs: List[Tensor]) -> Tensor:
        """What runs between block ``index`` and the next one; appends to
        ``outs`` what the backbone returns. Here: the :meth:`readout` of the
        last block."""
        if index == len(self.tunable_blocks) - 1:
            outs.append(self.readout(x, ctx, index))
        return x

    def format_outputs(self, outs: List[Tensor]):
        """The backbone's return value from the collected outputs (here the
        one output)."""
        return outs[-1]

    def pool_readout_error(self) -> Optional[str]:
        """Why :meth:`readout` cannot take a ``pool`` with this backbone's
        settings (it returns no single pooled feature), or None."""
        return None

    def cls_readout_error(self) -> Optional[str]:
        """Why the readout does not read a CLS token, or None when it does
        (VPT's ``output='cls'``)."""
        return 'this family\'s readout reads no CLS token'

    def check_pool_readout(self, key: str) -> None:
        """Refuse, at build, a method setting (``key``) that replaces the
        readout's pooling when :meth:`pool_readout_error` says no."""
        reason = self.pool_readout_error()
        if reason is not None:
            raise ValueError(f'{type(self).__name__}: {key} replaces the '
                             f'pooled readout, which {reason}')

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


#: The hooks a family must implement (:class:`TunableBackboneMixin`).
FAMILY_HOOKS = ('embed', 'attn_branch', 'mlp_branch', 'readout')


def check_family(family: type) -> None:
    """Raise ``TypeError`` naming ``family`` and every protocol item it
    lacks (see ``docs/adding_a_method.md``)."""
    if not (isinstance(family, type)
            and issubclass(family, TunableBackboneMixin)):
        raise TypeError(f'{family!r} is not a tunable family: a family '
                        'subclasses TunableBackboneMixin (or '
                        'StandardTunableMixin) and its stock backbone')
    base = TunableBackboneMixin
    missing = [h for h in FAMILY_HOOKS
               if getattr(family, h) is getattr(base, h)]
    if family.stock_backbone is object:
        missing.append('stock_backbone')
    if not family.family_name:
        missing.append('family_name')
    if not family.blocks_attr and \
            family.tunable_blocks is base.tunable_blocks:
        missing.append('blocks_attr (or tunable_blocks)')
    if missing:
        raise TypeError(
            f'{family.__name__} is not a complete tunable family: it lacks '
            f'{missing}; a family sets stock_backbone, family_name and '
            f'blocks_attr and implements {list(FAMILY_HOOKS)} (see '
            'docs/adding_a_method.md)')


def method_class(method: type, family: type) -> type:
    """The class that runs ``method`` (a :class:`MethodMixin`) on
    ``family``, named ``method.method_name + family.family_name`` and
    registered in ``family.registry`` (when it has one).

    This is how every (method, family) cell is made, for the project's
    families and for a user's own: no file per pair.
    """
    check_family(family)
    mixin = method.for_family(family)
    name = method.method_name + family.family_name
    summary = (method.__doc__ or '').strip().splitlines()[0]
    cls = type(name, (mixin, family), {
        '__module__': method.__module__,
        '__qualname__': name,
        '__doc__': f'{summary}\n\n{method.method_name} '
                   f'(:class:`{mixin.__module__}.{mixin.__name__}`, whose '
                   f'config holds every default) on the '
                   f':class:`{family.__module__}.{family.__name__}` family '
                   '(its arguments, shapes and readout).',
    })
    if family.registry is not None:
        family.registry.register_module(module=cls)
    return cls
