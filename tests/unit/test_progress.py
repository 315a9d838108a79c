"""Progress bars appear on a terminal only, and never change what is iterated."""

import io

import pytest

from workers.cli.progress import progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_bar_outside_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    assert list(progress(range(5), total=5, description="syncing")) == [0, 1, 2, 3, 4]
    assert err.getvalue() == ""


def test_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    err = _Terminal()
    monkeypatch.setattr("sys.stderr", err)
    assert list(progress(iter(range(300)), total=300, description="replaying")) == list(range(300))
    assert "replaying" in err.getvalue()
