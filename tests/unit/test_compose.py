"""docker-compose.yml runs the same commands as the CLI, with the shape DESIGN.md asks for.

No Docker engine (nor the compose plugin) runs here: the file is validated against
the Compose Specification's JSON Schema (the copy check-jsonschema ships), and each
service's command and healthcheck is parsed by the real `newswire` command line.
"""

import copy
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from workers.cli.main import cli
from workers.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


@pytest.fixture(scope="module")
def compose_schema() -> Validator:
    vendor = files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((vendor / "compose-spec.json").read_text(encoding="utf-8"))
    cls = validator_for(schema)
    cls.check_schema(schema)
    validator: Validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return validator


def test_file_follows_the_compose_specification(
    compose: dict[str, Any], compose_schema: Validator
) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in compose_schema.iter_errors(compose)]
    assert errors == []


def test_schema_check_catches_a_misspelt_key(
    compose: dict[str, Any], compose_schema: Validator
) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["beat"]["healthcheck"]["intervall"] = "5s"
    assert not compose_schema.is_valid(broken)


def test_redis_keeps_an_append_only_file_and_never_evicts(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--appendfsync always" in command  # what NEWSWIRE_REDIS_FSYNC requires by default
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


SERVICES_WITH_HEALTH = {
    "worker-fetch": ["health", "worker", "--kind", "fetch"],
    "worker-process": ["health", "worker", "--kind", "process"],
    "beat": ["health", "beat"],
}


@pytest.mark.parametrize("service", sorted(SERVICES_WITH_HEALTH))
def test_each_service_kind_has_a_newswire_healthcheck(
    compose: dict[str, Any], service: str
) -> None:
    check = compose["services"][service]["healthcheck"]
    assert check["test"][:2] == ["CMD", "newswire"]
    args = check["test"][2:]
    assert args[: len(SERVICES_WITH_HEALTH[service])] == SERVICES_WITH_HEALTH[service]
    # The real parser accepts the whole command line (--help stops before running it).
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "--quiet" in args  # exit status only: docker keeps the output of failing checks
    assert check["start_period"] and check["interval"] and check["retries"] >= 1


@pytest.mark.parametrize("service", ["worker-fetch", "worker-process"])
def test_workers_serve_metrics_inside_the_network(compose: dict[str, Any], service: str) -> None:
    spec = compose["services"][service]
    env = spec["environment"]
    port = env["NEWSWIRE_METRICS_PORT"]
    assert int(port) > 0 and env["NEWSWIRE_METRICS_ADDRESS"] == "0.0.0.0"
    assert port in spec["expose"]
    assert env["NEWSWIRE_LOG_FORMAT"] == "json"


def test_environment_names_are_settings(compose: dict[str, Any]) -> None:
    """A misspelt NEWSWIRE_ variable would be ignored silently: every one must be a setting."""
    known = {f"NEWSWIRE_{name.upper()}" for name in Settings.model_fields} | {"NEWSWIRE_CORPUS"}
    for name, service in compose["services"].items():
        for variable in service.get("environment", {}):
            if variable.startswith("NEWSWIRE_"):
                assert variable in known, f"{name}: {variable}"
