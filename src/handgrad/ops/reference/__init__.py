"""The reference implementations: every op family written as its derivation reads.

Plain NumPy, loops where the definition is a loop, every array's shape in the
docstrings, the derivation at the top of each module. This is the code to read, and to
diff your own against. Each door has the name, signature and return values of the fast
door in :mod:`handgrad.ops` (``ops.reference.lstm_step_backward`` and
``ops.lstm_step_backward`` are interchangeable); only the cache differs: here it is a
NamedTuple whose fields say what they hold. The tests check that both give the same
numbers (float64, 1e-12) and that both agree with PyTorch.

    from handgrad.ops import reference as ref
    out, cache = ref.conv2d_forward(x, w, b, stride=2, padding=1)
    dx, dw, db = ref.conv2d_backward(dout, cache)

One family a module: conv (the forward loops, the backward as two convolutions),
pooling, batchnorm, softmax_cross_entropy, embedding, linear, rnn, lstm, gru (one time
step at a time; the sequence is the step in a loop, BPTT from the last step to the first).
"""

from handgrad.ops.reference.batchnorm import (
    BatchNormCache,
    batch_norm_backward,
    batch_norm_forward,
)
from handgrad.ops.reference.conv import Conv2dCache, conv2d_backward, conv2d_forward
from handgrad.ops.reference.embedding import (
    EmbeddingCache,
    embedding_backward,
    embedding_forward,
)
from handgrad.ops.reference.gru import (
    GRUCache,
    GRUStepCache,
    gru_backward,
    gru_forward,
    gru_step_backward,
    gru_step_forward,
)
from handgrad.ops.reference.linear import LinearCache, linear_backward, linear_forward
from handgrad.ops.reference.lstm import (
    LSTMCache,
    LSTMStepCache,
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    sigmoid,
)
from handgrad.ops.reference.pooling import (
    AdaptiveAvgPool2dCache,
    AvgPool2dCache,
    MaxPool2dCache,
    adaptive_avg_pool2d_backward,
    adaptive_avg_pool2d_forward,
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)
from handgrad.ops.reference.rnn import (
    RNNCache,
    RNNStepCache,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
)
from handgrad.ops.reference.softmax_cross_entropy import (
    CrossEntropyCache,
    SoftmaxCache,
    log_softmax_backward,
    log_softmax_forward,
    softmax_backward,
    softmax_cross_entropy_backward,
    softmax_cross_entropy_forward,
    softmax_forward,
    softmax_loss,
)

__all__ = [
    # convolution and pooling
    "conv2d_forward", "conv2d_backward",
    "max_pool2d_forward", "max_pool2d_backward",
    "avg_pool2d_forward", "avg_pool2d_backward",
    "adaptive_avg_pool2d_forward", "adaptive_avg_pool2d_backward",
    # normalisation, losses, lookup, dense
    "batch_norm_forward", "batch_norm_backward",
    "softmax_forward", "softmax_backward", "log_softmax_forward", "log_softmax_backward",
    "softmax_cross_entropy_forward", "softmax_cross_entropy_backward", "softmax_loss",
    "embedding_forward", "embedding_backward",
    "linear_forward", "linear_backward",
    # recurrent: one step, and the sequence
    "rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
    "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward",
    "gru_step_forward", "gru_step_backward", "gru_forward", "gru_backward",
    "sigmoid",
    # the caches
    "Conv2dCache", "MaxPool2dCache", "AvgPool2dCache", "AdaptiveAvgPool2dCache",
    "BatchNormCache", "SoftmaxCache", "CrossEntropyCache", "EmbeddingCache", "LinearCache",
    "RNNStepCache", "RNNCache", "LSTMStepCache", "LSTMCache", "GRUStepCache", "GRUCache",
]
