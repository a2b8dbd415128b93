"""English and Korean text: one glossary of terms, one way to pick the language.

Every message a learner reads (gradient-check reports, exercise tasks and verdicts, the
command line's explanations) is written in English and in Korean. A module that prints
such text keeps its strings in one :class:`Messages` table, keyed by a short name, with
both languages side by side::

    from handgrad.i18n import Messages

    MSG = Messages("gradcheck", {
        "ok": {
            "en": "OK: {name} matches the numerical gradient",
            "ko": "OK: {name}의 기울기가 수치 기울기와 일치합니다",
        },
    })
    print(MSG("ok", name="dW"))          # language from get_lang()

The language is, in order: the ``lang=`` argument of a call, :func:`set_lang`, the
environment variable ``HANDGRAD_LANG`` (``en`` or ``ko``), else English. Commands that
print text take ``--lang en|ko`` and call :func:`set_lang`.

Korean text uses the standard terms of the field, the ones in :data:`GLOSSARY` (those
of the Korean editions of "Deep Learning from Scratch" and of Korean lectures):
역전파 for backpropagation, 기울기 for gradient, 합성곱 for convolution, and so on.
:data:`AVOID` lists transliterations that must not appear instead; ``tests/test_i18n.py``
checks every registered table for both languages, the same ``{placeholders}`` in each,
and no avoided word.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Iterator, Mapping

__all__ = ["LANGS", "GLOSSARY", "AVOID", "Messages", "get_lang", "set_lang", "catalogs",
           "check_table"]

LANGS: tuple[str, ...] = ("en", "ko")

# English term -> the Korean term used everywhere in handgrad (code, CLI, docs).
GLOSSARY: dict[str, str] = {
    "activation function": "활성화 함수",
    "backpropagation": "역전파",
    "backpropagation through time (BPTT)": "시간 역전파(BPTT)",
    "backward pass": "역전파",
    "batch": "배치",
    "batch normalization": "배치 정규화",
    "bias": "편향",
    "bits per character": "문자당 비트",
    "cell state": "셀 상태",
    "chain rule": "연쇄 법칙",
    "channel": "채널",
    "checkpoint": "체크포인트",
    "computational graph": "계산 그래프",
    "conditional probability": "조건부 확률",
    "convolution": "합성곱",
    "cross-correlation": "교차 상관",
    "cross-entropy": "교차 엔트로피",
    "derivative": "미분",
    "dilation": "팽창",
    "dimension": "차원",
    "dropout": "드롭아웃",
    "element": "원소",
    "embedding": "임베딩",
    "epoch": "에폭",
    "exploding gradient": "기울기 폭발",
    "feature map": "특징 맵",
    "filter (kernel)": "필터(커널)",
    "forget gate": "망각 게이트",
    "forward pass": "순전파",
    "gate": "게이트",
    "gradient": "기울기",
    "gradient check": "기울기 확인",
    "gradient descent": "경사 하강법",
    "hidden state": "은닉 상태",
    "hyperparameter": "하이퍼파라미터",
    "input": "입력",
    "input gate": "입력 게이트",
    "layer": "계층",
    "learning rate": "학습률",
    "linear regression": "선형 회귀",
    "loss function": "손실 함수",
    "matrix": "행렬",
    "max pooling": "최대 풀링",
    "maximum likelihood estimation": "최대 우도 추정",
    "mini-batch": "미니배치",
    "numerical gradient": "수치 미분",
    "optimizer": "옵티마이저",
    "output": "출력",
    "output gate": "출력 게이트",
    "overfitting": "과대적합",
    "padding": "패딩",
    "parameter": "매개변수",
    "partial derivative": "편미분",
    "pooling": "풀링",
    "recurrent neural network (RNN)": "순환 신경망(RNN)",
    "relative error": "상대 오차",
    "reset gate": "리셋 게이트",
    "shape": "형상",
    "sign": "부호",
    "softmax": "소프트맥스",
    "stochastic gradient descent (SGD)": "확률적 경사 하강법(SGD)",
    "stride": "스트라이드",
    "tensor": "텐서",
    "time step": "시간 단계",
    "transpose": "전치",
    "update gate": "업데이트 게이트",
    "upstream gradient": "상류 기울기",
    "vanishing gradient": "기울기 소실",
    "weight": "가중치",
}

# Words that must not stand in Korean text where the glossary has a term: the
# transliterations and synonyms learners meet elsewhere, mapped to handgrad's term.
AVOID: dict[str, str] = {
    "그래디언트": "기울기",
    "그라디언트": "기울기",
    "그레이디언트": "기울기",
    "경사도": "기울기",
    "백프로파게이션": "역전파",
    "역전달": "역전파",
    "컨볼루션": "합성곱",
    "콘볼루션": "합성곱",
    "컨벌루션": "합성곱",
    "바이어스": "편향",
    "웨이트": "가중치",
    "히든 스테이트": "은닉 상태",
    "배니싱": "기울기 소실",
    "트랜스포즈": "전치",
    "포워드": "순전파",
}

_LANG_ENV = "HANDGRAD_LANG"
_chosen: str | None = None


def _valid(lang: str, where: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"{where}: language must be one of {', '.join(LANGS)}, got {lang!r}")
    return lang


def set_lang(lang: str | None) -> None:
    """Choose the language of handgrad's messages for this process (None: back to default)."""
    global _chosen
    _chosen = None if lang is None else _valid(lang, "set_lang")


def get_lang(lang: str | None = None) -> str:
    """The language to write in: ``lang`` if given, else :func:`set_lang`'s, else
    ``$HANDGRAD_LANG``, else ``'en'``."""
    if lang is not None:
        return _valid(lang, "lang")
    if _chosen is not None:
        return _chosen
    env = os.environ.get(_LANG_ENV, "").strip().lower()
    if env:
        # accept locale-style values such as ko_KR.UTF-8
        env = env.split("_")[0].split(".")[0]
        if env in LANGS:
            return env
    return "en"


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


_HANGUL = re.compile("[\uac00-\ud7a3]")


def check_table(domain: str, table: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Problems of a message table: a missing language, different placeholders, Korean
    text without Hangul, or a word of :data:`AVOID`. Empty when the table is good."""
    problems: list[str] = []
    for key, texts in table.items():
        missing = [lang for lang in LANGS if not texts.get(lang)]
        if missing:
            problems.append(f"{domain}.{key}: no text in {', '.join(missing)}")
            continue
        if _fields(texts["en"]) != _fields(texts["ko"]):
            en, ko = sorted(_fields(texts["en"])), sorted(_fields(texts["ko"]))
            problems.append(f"{domain}.{key}: placeholders differ: en {en} vs ko {ko}")
        if not _HANGUL.search(texts["ko"]):
            problems.append(f"{domain}.{key}: the Korean text has no Hangul: {texts['ko']!r}")
        for word, term in AVOID.items():
            if word in texts["ko"]:
                problems.append(f"{domain}.{key}: Korean text uses {word!r}; the glossary "
                                f"term is {term!r}")
    return problems


_REGISTRY: dict[str, Messages] = {}


class Messages:
    """A table of messages in every language of :data:`LANGS`, looked up by key.

    ``table[key][lang]`` is a ``str.format`` template; both languages take the same
    placeholders. Tables register themselves by ``domain`` so one test checks them all.
    """

    def __init__(self, domain: str, table: Mapping[str, Mapping[str, str]]) -> None:
        self.domain = domain
        self.table = {key: dict(texts) for key, texts in table.items()}
        _REGISTRY[domain] = self

    def __call__(self, key: str, lang: str | None = None, **fields: object) -> str:
        try:
            texts = self.table[key]
        except KeyError:
            raise KeyError(f"{self.domain}: no message {key!r}") from None
        text = texts.get(get_lang(lang)) or texts["en"]
        return text.format(**fields) if fields else text

    def __contains__(self, key: object) -> bool:
        return key in self.table

    def keys(self) -> list[str]:
        return list(self.table)


def catalogs() -> Iterator[Messages]:
    """Every registered message table (import the modules that define them first)."""
    return iter(list(_REGISTRY.values()))
