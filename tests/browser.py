"""A headless Chromium for the tests that open pages (the docs site, the backward-pass
step-through): Debian's ``chromium`` and ``chromium-driver`` driven by Selenium.

Use the ``browser`` fixture (defined in ``tests/conftest.py``)::

    def test_page(browser, tmp_path):
        browser.open(path_or_url)           # a file path or an http:// URL
        assert browser.console_errors() == []
        browser.screenshot("backward-first-step")   # -> $HANDGRAD_ARTIFACTS/....png

Without Chromium the browser tests are skipped, unless ``HANDGRAD_REQUIRE_BROWSER=1``
(``.ci/run`` sets it after installing Chromium), where a missing browser is a failure:
in CI a browser test can never pass by not running.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ROOT = Path(__file__).resolve().parents[1]

# The flags a root process in a closed network needs: no sandbox, no GPU, and no
# background connections (refused here, and slow to time out).
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--window-size=1280,900",
)


def artifacts_dir() -> Path:
    """Where screenshots go: ``$HANDGRAD_ARTIFACTS``, else ``artifacts/`` in the repo."""
    path = Path(os.environ.get("HANDGRAD_ARTIFACTS", ROOT / "artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).exists() or shutil.which(Path(path).name)):
            return f"{path} not found (apt-get install chromium chromium-driver)"
    return None


class Browser:
    """One headless Chromium page; console messages are collected per :meth:`open`."""

    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or CHROMIUM
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(shutil.which("chromedriver") or CHROMEDRIVER)
        self.driver: Any = webdriver.Chrome(service=service, options=options)
        self._log: list[dict[str, Any]] = []

    def open(self, target: str | os.PathLike[str]) -> None:
        url = str(target)
        if "://" not in url:
            url = Path(url).resolve().as_uri()
        self._drain()
        self._log = []
        self.driver.get(url)

    def _drain(self) -> list[dict[str, Any]]:
        entries = self.driver.get_log("browser")
        self._log.extend(entries)
        return entries

    def console(self) -> list[dict[str, Any]]:
        """Every console message since the last :meth:`open` (level, message, source)."""
        self._drain()
        return list(self._log)

    def console_errors(self) -> list[str]:
        """Console errors and uncaught exceptions since the last :meth:`open`."""
        return [e["message"] for e in self.console() if e.get("level") == "SEVERE"]

    def js(self, script: str, *args: Any) -> Any:
        """Run JavaScript in the page and return its value (``return ...``)."""
        return self.driver.execute_script(script, *args)

    def screenshot(self, name: str) -> Path:
        path = artifacts_dir() / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def quit(self) -> None:
        self.driver.quit()


def browser_or_skip() -> Browser:
    missing = _missing()
    if missing:
        if os.environ.get("HANDGRAD_REQUIRE_BROWSER") == "1":
            pytest.fail(f"HANDGRAD_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    return Browser()
