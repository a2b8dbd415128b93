"""Data: the shipped MNIST digits and an IDX reader, datasets and a DataLoader.

    from handgrad.data import load_mnist, TensorDataset, DataLoader
    x, y = load_mnist("train")                 # float32 (8000, 1, 28, 28), int64 (8000,)
    loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, seed=0)
"""

from handgrad.data.loader import DataLoader, Dataset, TensorDataset
from handgrad.data.mnist import MNIST_MEAN, MNIST_STD, load_mnist, preprocess, read_idx

__all__ = ["load_mnist", "read_idx", "preprocess", "MNIST_MEAN", "MNIST_STD",
           "Dataset", "TensorDataset", "DataLoader"]

from handgrad.data.text import BPTTBatcher, CharVocab, load_text, split_text  # noqa: E402

__all__ += ["CharVocab", "load_text", "split_text", "BPTTBatcher"]
