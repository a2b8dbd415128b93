"""Optimizers and learning-rate schedules, shaped like ``torch.optim``.

Every optimizer matches its torch.optim namesake step for step (tests feed both the same
gradients); each docstring writes its update rule out.
"""

from handgrad.optim import lr_scheduler
from handgrad.optim.adagrad import Adagrad
from handgrad.optim.adam import Adam, AdamW
from handgrad.optim.optimizer import Optimizer
from handgrad.optim.rmsprop import RMSprop
from handgrad.optim.rprop import Rprop
from handgrad.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Rprop", "lr_scheduler"]
