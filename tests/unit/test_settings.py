import pytest

from workers.errors import ConfigurationError
from workers.settings import Settings, get_settings


def test_defaults_are_consistent() -> None:
    settings = Settings()
    assert settings.visibility_timeout > settings.process_time_limit


def test_time_limit_beyond_visibility_timeout_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWIRE_VISIBILITY_TIMEOUT", "100")
    monkeypatch.setenv("NEWSWIRE_PROCESS_TIME_LIMIT", "200")
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigurationError, match="tasks would run twice"):
            get_settings()
    finally:
        get_settings.cache_clear()


def test_soft_limit_must_be_below_hard_limit() -> None:
    with pytest.raises(ValueError, match="soft_time_limit"):
        Settings(process_soft_time_limit=100, process_time_limit=90)


def test_a_retry_delay_plus_a_time_limit_beyond_the_visibility_timeout_is_refused() -> None:
    """A retried task waits its delay in the worker, unacknowledged, then runs to its limit."""
    with pytest.raises(ValueError, match=r"600s \+ 120s"):
        Settings(visibility_timeout=700)
    assert Settings(visibility_timeout=721).visibility_timeout == 721


def test_max_deliveries_must_exceed_max_retries() -> None:
    with pytest.raises(ValueError, match="max_deliveries must exceed max_retries"):
        Settings(max_retries=5, max_deliveries=5)
