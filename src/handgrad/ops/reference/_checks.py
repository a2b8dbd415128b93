"""Argument checks shared by the reference implementations, and their messages.

Every reference door checks its arguments before it computes anything, and a bad
argument gets an error that names it, shows the shapes and states the rule (never a bare
NumPy message from deep inside a loop). Shapes and values raise ``ValueError``, a wrong
dtype or type ``TypeError``. The messages exist in English and Korean
(:class:`handgrad.i18n.Messages`; the language follows ``HANDGRAD_LANG`` / ``--lang``).

The output-size rule of convolution and pooling lives here too, since both use it:

    OH = floor((H + P_top + P_bottom - D(K-1) - 1) / S) + 1

(the dilated kernel spans D(K-1)+1 pixels and fits floor((H_padded - span) / S) + 1
times; ``ceil_mode`` pooling rounds up instead, see :func:`output_size`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from handgrad.i18n import Messages

MSG = Messages("ops.reference", {
    "not_array": {
        "en": "{fn}: {name} must be a NumPy array, got {got}",
        "ko": "{fn}: {name}은(는) NumPy 배열이어야 합니다. 받은 값: {got}",
    },
    "not_float": {
        "en": "{fn}: {name} must be a floating-point array, got dtype {dtype} (shape {shape})",
        "ko": "{fn}: {name}은(는) 부동소수점 배열이어야 합니다. 받은 dtype: {dtype} (형상 {shape})",
    },
    "dtype_differs": {
        "en": "{fn}: {name} has dtype {dtype} but {other} has dtype {other_dtype}; they must "
              "be equal (no silent promotion: convert one of them)",
        "ko": "{fn}: {name}의 dtype은 {dtype}, {other}의 dtype은 {other_dtype}입니다. 둘은 "
              "같아야 합니다(자동 변환은 하지 않습니다: 한쪽을 변환하세요)",
    },
    "layout": {
        "en": "{fn}: {name} must have the layout {layout}, got shape {shape}",
        "ko": "{fn}: {name}의 형상은 {layout} 꼴이어야 합니다. 받은 형상: {shape}",
    },
    "shape": {
        "en": "{fn}: {name} must have shape {rule} = {want}, got {shape}",
        "ko": "{fn}: {name}의 형상은 {rule} = {want}이어야 합니다. 받은 형상: {shape}",
    },
    "int_or_pair": {
        "en": "{fn}: {name} must be an int or a pair of ints (height, width), got {value}",
        "ko": "{fn}: {name}은(는) 정수 또는 정수 두 개(높이, 너비)여야 합니다. 받은 값: {value}",
    },
    "positive": {
        "en": "{fn}: {name} must be positive, got {value}",
        "ko": "{fn}: {name}은(는) 양수여야 합니다. 받은 값: {value}",
    },
    "positive_int": {
        "en": "{fn}: {name} must be a positive integer, got {value}",
        "ko": "{fn}: {name}은(는) 양의 정수여야 합니다. 받은 값: {value}",
    },
    "non_negative": {
        "en": "{fn}: {name} must be >= 0, got {value}",
        "ko": "{fn}: {name}은(는) 0 이상이어야 합니다. 받은 값: {value}",
    },
    "choice": {
        "en": "{fn}: {name} must be one of {choices}, got {value}",
        "ko": "{fn}: {name}은(는) {choices} 중 하나여야 합니다. 받은 값: {value}",
    },
    "interval": {
        "en": "{fn}: {name} must lie in {interval}, got {value}",
        "ko": "{fn}: {name}은(는) {interval} 안에 있어야 합니다. 받은 값: {value}",
    },
    "divisible": {
        "en": "{fn}: {name} = {value} is not divisible by groups = {groups}; every group "
              "gets {name}/groups channels",
        "ko": "{fn}: {name} = {value}이(가) groups = {groups}로 나누어떨어지지 않습니다. 각 "
              "그룹은 {name}/groups개의 채널을 받습니다",
    },
    "window_too_big": {
        "en": "{fn}: the (dilated) kernel does not fit in the padded input along {axis}: "
              "{axis}_out = floor(({size} + {pad} - {dilation}*({kernel}-1) - 1)/{stride}) + 1"
              " = {out}, but it must be >= 1",
        "ko": "{fn}: (팽창된) 필터(커널)가 패딩된 입력의 {axis} 축에 들어가지 않습니다: "
              "{axis}_out = floor(({size} + {pad} - {dilation}*({kernel}-1) - 1)/{stride}) + 1"
              " = {out}, 1 이상이어야 합니다",
    },
    "same_needs_stride_1": {
        "en": "{fn}: padding='same' needs stride 1 (as in PyTorch), got stride {stride}; give "
              "the padding as numbers instead",
        "ko": "{fn}: padding='same'은 스트라이드가 1일 때만 됩니다(PyTorch와 같음). 받은 "
              "스트라이드: {stride}. 패딩을 숫자로 주세요",
    },
    "pool_padding": {
        "en": "{fn}: padding must be at most half of the kernel size, P <= K/2 (PyTorch's "
              "rule), got padding {padding} for kernel_size {kernel}",
        "ko": "{fn}: 패딩은 커널 크기의 절반 이하여야 합니다, P <= K/2 (PyTorch의 규칙). "
              "받은 값: 패딩 {padding}, 커널 크기 {kernel}",
    },
    "int_indices": {
        "en": "{fn}: {name} must hold integer indices, got dtype {dtype} (shape {shape}); "
              "convert with .astype(np.int64)",
        "ko": "{fn}: {name}은(는) 정수 인덱스여야 합니다. 받은 dtype: {dtype} (형상 {shape}). "
              ".astype(np.int64)로 변환하세요",
    },
    "index_range": {
        "en": "{fn}: {name} holds the index {index}, outside [0, {size}) ({what} = {size})",
        "ko": "{fn}: {name}에 [0, {size}) 밖의 인덱스 {index}가 있습니다 ({what} = {size})",
    },
    "needs": {
        "en": "{fn}: {name} is needed when {when}",
        "ko": "{fn}: {when}일 때는 {name}이(가) 필요합니다",
    },
    "one_value_per_channel": {
        "en": "{fn}: training needs more than one value per channel to compute a variance, "
              "got input shape {shape}",
        "ko": "{fn}: 학습 모드에서는 분산을 구하려면 채널마다 값이 두 개 이상 필요합니다. "
              "받은 입력 형상: {shape}",
    },
})


def is_int(value: Any) -> bool:
    """An int (or NumPy integer), not a bool."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def float_array(x: Any, fn: str, name: str) -> np.ndarray:
    """``x`` itself when it is a floating-point ndarray; TypeError otherwise."""
    if not isinstance(x, np.ndarray):
        raise TypeError(MSG("not_array", fn=fn, name=name, got=type(x).__name__))
    if x.dtype.kind != "f":
        raise TypeError(MSG("not_float", fn=fn, name=name, dtype=x.dtype, shape=x.shape))
    return x


def same_dtype(fn: str, name: str, a: np.ndarray, other: str, b: np.ndarray) -> None:
    """``a`` (a float array) must have the dtype of ``b``: float32 @ float64 would quietly
    turn everything after it into float64."""
    float_array(a, fn, name)
    if a.dtype != b.dtype:
        raise TypeError(MSG("dtype_differs", fn=fn, name=name, dtype=a.dtype, other=other,
                            other_dtype=b.dtype))


def layout(fn: str, name: str, a: np.ndarray, ndims: tuple[int, ...], text: str) -> None:
    """``a.ndim`` must be one of ``ndims``; ``text`` says what the axes are."""
    if a.ndim not in ndims:
        raise ValueError(MSG("layout", fn=fn, name=name, layout=text, shape=a.shape))


def shape(fn: str, name: str, a: np.ndarray, want: tuple[int, ...], rule: str) -> None:
    """``a.shape`` must be ``want``; ``rule`` writes it in symbols, e.g. "(4H, D)"."""
    if a.shape != tuple(want):
        raise ValueError(MSG("shape", fn=fn, name=name, rule=rule, want=tuple(want),
                             shape=a.shape))


def int_pair(value: Any, fn: str, name: str) -> tuple[int, int]:
    """An int or a pair of ints -> (height value, width value)."""
    if is_int(value):
        return int(value), int(value)
    if isinstance(value, tuple | list) and len(value) == 2 and all(is_int(v) for v in value):
        return int(value[0]), int(value[1])
    raise TypeError(MSG("int_or_pair", fn=fn, name=name, value=repr(value)))


def positive(pair: tuple[int, ...], fn: str, name: str) -> None:
    if any(v <= 0 for v in pair):
        raise ValueError(MSG("positive", fn=fn, name=name, value=pair))


def positive_int(value: Any, fn: str, name: str) -> int:
    """``value`` as an int when it is a positive integer; ValueError otherwise."""
    if not is_int(value) or value <= 0:
        raise ValueError(MSG("positive_int", fn=fn, name=name, value=repr(value)))
    return int(value)


def non_negative(pair: tuple[int, ...], fn: str, name: str) -> None:
    if any(v < 0 for v in pair):
        raise ValueError(MSG("non_negative", fn=fn, name=name, value=pair))


def choice(value: Any, choices: tuple[Any, ...], fn: str, name: str) -> None:
    if value not in choices:
        raise ValueError(MSG("choice", fn=fn, name=name, choices=choices, value=repr(value)))


def output_size(size: int, kernel: int, stride: int, pad_before: int, pad_after: int,
                dilation: int, fn: str, axis: str, ceil_mode: bool = False) -> int:
    """The number of window positions along one axis (the rule of the module docstring).

    ``ceil_mode`` (pooling) rounds the division up, PyTorch's way: the last window may
    hang over the right edge, but it must start inside the input or the left padding,
    so a last window starting at or after H + P_before is dropped.
    """
    span = dilation * (kernel - 1) + 1           # input pixels the dilated kernel covers
    room = size + pad_before + pad_after - span  # how far the window can slide
    if room < 0:
        raise ValueError(MSG("window_too_big", fn=fn, axis=axis, size=size,
                             pad=pad_before + pad_after, dilation=dilation, kernel=kernel,
                             stride=stride, out=room // stride + 1))
    if not ceil_mode:
        return room // stride + 1
    out = -(-room // stride) + 1                 # ceil(room / stride) + 1
    if (out - 1) * stride >= size + pad_before:  # the last window would start in the padding
        out -= 1
    return out


def unbatched(x: np.ndarray) -> tuple[np.ndarray, bool]:
    """(N, C, H, W) as it is; an unbatched (C, H, W) as a batch of one, and True."""
    return (x[None], True) if x.ndim == 3 else (x, False)


def upstream(dout: Any, count: int) -> tuple[Any, ...]:
    """The upstream gradients of a door with ``count`` outputs, as a tuple of ``count``.

    ``backward(dout, cache)`` takes one array for the first output, or a tuple of one per
    output (``(dout, dh_n)``); missing trailing ones are None (the output was not used).
    """
    grads = tuple(dout) if isinstance(dout, tuple | list) else (dout,)
    return grads + (None,) * (count - len(grads))


def recurrent(fn: str, x: np.ndarray, states: tuple[tuple[str, Any], ...], w_ih: np.ndarray,
              w_hh: np.ndarray, b_ih: Any, b_hh: Any, gates: int, seq: bool
              ) -> tuple[int, int, int, int]:
    """Shapes and dtypes of a recurrent call; returns (T, N, D, H) (T = 1 for a step).

    x is (T, N, D) for a sequence, (N, D) for one step; w_ih (G*H, D), w_hh (G*H, H),
    b_ih and b_hh (G*H,) or None; every state (N, H) or None. G = ``gates``.
    """
    float_array(x, fn, "input")
    layout(fn, "input", x, (3,) if seq else (2,),
           "(T, N, input_size)" if seq else "(N, input_size)")
    for name, w in (("weight_ih", w_ih), ("weight_hh", w_hh)):
        same_dtype(fn, name, w, "input", x)
        layout(fn, name, w, (2,), f"({gates}*hidden_size, ...)")
    H = w_hh.shape[1]
    N, D = x.shape[-2], x.shape[-1]
    shape(fn, "weight_hh", w_hh, (gates * H, H), f"({gates}*hidden_size, hidden_size)")
    shape(fn, "weight_ih", w_ih, (gates * H, D), f"({gates}*hidden_size, input_size)")
    for name, b in (("bias_ih", b_ih), ("bias_hh", b_hh)):
        if b is not None:
            same_dtype(fn, name, b, "input", x)
            shape(fn, name, b, (gates * H,), f"({gates}*hidden_size,)")
    for name, s in states:
        if s is not None:
            same_dtype(fn, name, s, "input", x)
            shape(fn, name, s, (N, H), "(batch, hidden_size)")
    return (x.shape[0] if seq else 1), N, D, H
