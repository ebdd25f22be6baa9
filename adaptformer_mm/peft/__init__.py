"""Pure-PyTorch building blocks shared by the video and image backbones."""
from .adapter import LAYERNORM_OPTIONS, AdaptMLP, check_adapter_args
from .prompt import (PROMPT_INITS, PromptTokens, check_prompt_args,
                     xavier_prompt_bound)
from .tunable import (ParamSummary, keep_in_eval, load_tunable_state_dict,
                      set_trainable, summarize_parameters, trainable_groups,
                      tunable_state_dict)

__all__ = [
    'AdaptMLP', 'check_adapter_args', 'LAYERNORM_OPTIONS', 'PromptTokens',
    'check_prompt_args', 'xavier_prompt_bound', 'PROMPT_INITS',
    'ParamSummary', 'keep_in_eval', 'load_tunable_state_dict',
    'set_trainable', 'summarize_parameters', 'trainable_groups',
    'tunable_state_dict'
]
