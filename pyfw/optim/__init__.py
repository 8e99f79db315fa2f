"""pyfw.optim: SGD, Adam, AdamW, RMSprop with PyTorch's update rules, and lr_scheduler."""
from pyfw.optim.adam import Adam, AdamW
from pyfw.optim.optimizer import Optimizer
from pyfw.optim.rmsprop import RMSprop
from pyfw.optim.sgd import SGD
from pyfw.optim import lr_scheduler

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler"]
