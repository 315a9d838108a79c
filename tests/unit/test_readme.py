"""The README documents what the code does: its configuration table and its commands."""

from pathlib import Path

from scripts.settings_table import table
from workers.cli.main import cli

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_configuration_table_is_current() -> None:
    assert table() in README, (
        "README configuration table is stale: python scripts/settings_table.py"
    )


def test_every_command_is_documented() -> None:
    for name in cli.commands:
        assert f"newswire {name}" in README, name


def test_quick_start_commands_exist() -> None:
    assert "scripts/dev demo" in README and "scripts/dev test" in README
