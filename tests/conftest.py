import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium (tests/browser.py); skipped without one, unless CI requires it."""
    from tests.browser import browser_or_skip

    b = browser_or_skip()
    yield b
    b.quit()
