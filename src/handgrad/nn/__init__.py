"""Layers and models: ``handgrad.nn``, shaped like ``torch.nn``."""

from handgrad.nn import functional, init, utils
from handgrad.nn.layers import (
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    ModuleList,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
)
from handgrad.nn.module import Module, Parameter, StateDictError

__all__ = ["functional", "init", "utils", "Module", "Parameter", "StateDictError", "Linear", "ReLU",
           "LeakyReLU", "Tanh", "Sigmoid", "Dropout", "Flatten", "Identity", "Sequential",
           "ModuleList"]
# -- losses (nn/loss.py) --
from handgrad.nn.loss import (  # noqa: E402
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    L1Loss,
    LogSoftmax,
    MSELoss,
    NLLLoss,
    Softmax,
)

__all__ += ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "BCEWithLogitsLoss", "Softmax",
            "LogSoftmax"]
# -- convolution, pooling, batch norm (nn/conv.py) --
from handgrad.nn.conv import (  # noqa: E402
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    MaxPool2d,
)

__all__ += ["Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm1d",
            "BatchNorm2d"]
# -- recurrent (nn/recurrent.py) --
from handgrad.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell  # noqa: E402
from handgrad.nn.sparse import Embedding  # noqa: E402

__all__ += ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "Embedding"]
