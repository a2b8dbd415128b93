"""The browser fixture itself: it sees console errors and writes screenshots."""

from __future__ import annotations


def test_browser_reports_console_errors_and_screenshots(browser, tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<html><body><h1 id='x'>handgrad</h1>"
                    "<script>console.error('boom'); window.answer = 6 * 7;</script>"
                    "</body></html>")
    browser.open(page)
    assert browser.js("return document.getElementById('x').textContent") == "handgrad"
    assert browser.js("return window.answer") == 42
    errors = browser.console_errors()
    assert len(errors) == 1 and "boom" in errors[0]
    clean = tmp_path / "clean.html"
    clean.write_text("<html><body>ok</body></html>")
    browser.open(clean)
    assert browser.console_errors() == []
    shot = browser.screenshot("test-browser-fixture")
    assert shot.stat().st_size > 1000
