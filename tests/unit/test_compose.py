"""docker-compose.yml runs the same commands as the CLI, with the shape DESIGN.md asks for.

No Docker engine runs here: the file is checked as data, and each service's
command is parsed by the real `newswire` command line.
"""

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from workers.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_redis_keeps_an_append_only_file_and_never_evicts(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert "healthcheck" in redis
    assert any(volume.endswith(":/data") for volume in redis["volumes"])


def test_services_and_profiles(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"redis", "worker-fetch", "worker-process", "beat", "flower"} <= set(services)
    assert services["flower"]["profiles"] == ["monitoring"]
    for name in ("worker-fetch", "worker-process", "beat", "feeds-sync"):
        service = services[name]
        assert service["environment"]["NEWSWIRE_REDIS_URL"].startswith("redis://redis:")
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"


@pytest.mark.parametrize("service", ["worker-fetch", "worker-process", "beat", "feeds-sync"])
def test_commands_are_newswire_commands(compose: dict[str, Any], service: str) -> None:
    command = compose["services"][service]["command"]
    assert command[0] == "newswire"
    # Resolve the command without running it: click parses the arguments, --help stops.
    result = CliRunner().invoke(cli, [*command[1:], "--help"])
    assert result.exit_code == 0, result.output


def test_worker_kinds_match_queues(compose: dict[str, Any]) -> None:
    assert compose["services"]["worker-fetch"]["command"][-1] == "fetch"
    assert compose["services"]["worker-process"]["command"][-1] == "process"
    assert (ROOT / compose["services"]["feeds-sync"]["command"][-1]).is_file()
