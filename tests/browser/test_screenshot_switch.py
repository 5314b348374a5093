"""Browser tests save screenshots only when asked (`make screenshots`, CI's first stage)."""

from __future__ import annotations

from tests.browser import conftest


class FakePage:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def screenshot(self, **options) -> None:
        self.calls.append(options)


def test_no_screenshot_unless_asked(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "SCREENSHOT_DIR", tmp_path)
    monkeypatch.delenv("QUICKBOT_SCREENSHOTS", raising=False)
    page = FakePage()

    path = conftest.save_screenshot(page, "tokens-375")

    assert page.calls == []
    assert path == tmp_path / "tokens-375.png"


def test_screenshot_with_quickbot_screenshots_set(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "SCREENSHOT_DIR", tmp_path / "shots")
    monkeypatch.setenv("QUICKBOT_SCREENSHOTS", "1")
    page = FakePage()

    conftest.save_screenshot(page, "tokens-375", full_page=False, caret="initial")

    assert page.calls == [
        {"path": str(tmp_path / "shots" / "tokens-375.png"), "full_page": False, "caret": "initial"}
    ]
