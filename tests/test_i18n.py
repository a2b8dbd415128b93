"""Every message exists in English and Korean, with the same placeholders, in the
glossary's terms (handgrad.i18n)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import handgrad
from handgrad import i18n


def _import_everything() -> None:
    for info in pkgutil.walk_packages(handgrad.__path__, "handgrad."):
        if info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)


def test_every_registered_table_has_both_languages() -> None:
    _import_everything()
    problems = [p for table in i18n.catalogs() for p in i18n.check_table(table.domain,
                                                                           table.table)]
    assert not problems, "\n".join(problems)


def test_check_table_catches_each_defect() -> None:
    assert i18n.check_table("t", {"a": {"en": "x {n}", "ko": "기울기 {n}"}}) == []
    assert "no text in ko" in i18n.check_table("t", {"a": {"en": "x"}})[0]
    assert "placeholders differ" in i18n.check_table("t", {"a": {"en": "{n}", "ko": "기울기"}})[0]
    assert "no Hangul" in i18n.check_table("t", {"a": {"en": "x", "ko": "x"}})[0]
    assert "'기울기'" in i18n.check_table("t", {"a": {"en": "x", "ko": "그래디언트"}})[0]


def test_glossary_uses_no_avoided_word() -> None:
    for en, ko in i18n.GLOSSARY.items():
        for word in i18n.AVOID:
            assert word not in ko, (en, ko, word)
    assert set(i18n.AVOID.values()) <= set(i18n.GLOSSARY.values())


def test_language_choice_order(monkeypatch: pytest.MonkeyPatch) -> None:
    msg = i18n.Messages("test_i18n_order", {"hi": {"en": "gradient", "ko": "기울기"}})
    monkeypatch.delenv("HANDGRAD_LANG", raising=False)
    assert msg("hi") == "gradient"
    monkeypatch.setenv("HANDGRAD_LANG", "ko_KR.UTF-8")
    assert msg("hi") == "기울기"
    assert msg("hi", lang="en") == "gradient"
    i18n.set_lang("en")
    try:
        assert msg("hi") == "gradient"
    finally:
        i18n.set_lang(None)
    with pytest.raises(ValueError, match="lang"):
        msg("hi", lang="fr")
    with pytest.raises(KeyError, match="no message 'bye'"):
        msg("bye")
