from .bn_linear_head import BNLinearHead
from .mlp_head import MLPClsHead, MLPHead

__all__ = ['BNLinearHead', 'MLPHead', 'MLPClsHead']
