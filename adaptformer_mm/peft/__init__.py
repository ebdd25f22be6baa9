"""Pure-PyTorch building blocks shared by the video and image backbones.

One frozen config per method (:class:`AdapterConfig`, :class:`PromptConfig`,
built from a config's ``adapter_cfg`` / ``prompt_cfg`` dict), the modules
that read it (:class:`AdaptMLP`, :class:`PromptTokens`), parameter selection
and summaries (:mod:`.tunable`), tunable-only state (:mod:`.tunable_state`)
and the task-file format (:mod:`.task_file`).
"""
from .adapter import ADAPTER_MODES, LAYERNORM_OPTIONS, AdapterConfig, AdaptMLP
from .attentive_probe import AttentiveProbeConfig, AttentivePooler
from .bitfit import BitFitConfig, bias_parameter_names
from .config import MethodConfig, resolve_layers
from .lora import LoRA, LoRAConfig, LoRALinear, add_lora, merge_lora
from .mlp_head import MLP, MLPHeadConfig
from .partial import PartialConfig
from .prompt import (PROMPT_INITS, PromptConfig, PromptTokens,
                     xavier_prompt_bound)
from .tunable import (ParamSummary, keep_in_eval, set_trainable,
                      summarize_parameters, trainable_groups,
                      tunable_state_dict)
from .tunable_state import (BackboneMismatchError, complete_tunable_state,
                            frozen_checksum, pretrained_backbone_file,
                            restore_tunable_state)

__all__ = [
    'MethodConfig', 'resolve_layers', 'AdapterConfig', 'AdaptMLP',
    'ADAPTER_MODES', 'LAYERNORM_OPTIONS', 'PromptConfig', 'PromptTokens',
    'xavier_prompt_bound', 'PROMPT_INITS', 'ParamSummary', 'keep_in_eval',
    'set_trainable', 'summarize_parameters', 'trainable_groups',
    'tunable_state_dict', 'BackboneMismatchError',
    'complete_tunable_state', 'frozen_checksum', 'pretrained_backbone_file',
    'restore_tunable_state'
]
# Baselines of the VPT paper and LoRA / attentive probing, one config each.
__all__ += [
    'PartialConfig', 'BitFitConfig', 'bias_parameter_names', 'LoRAConfig',
    'LoRA', 'LoRALinear', 'add_lora', 'merge_lora', 'MLPHeadConfig', 'MLP',
    'AttentiveProbeConfig', 'AttentivePooler'
]
