"""pyfw.nn: modules, functional, init (PyTorch's names)."""
from pyfw.nn import functional, init  # noqa: F401
from pyfw.nn.modules import *  # noqa: F401,F403
from pyfw.nn.modules import Module, Parameter  # noqa: F401
