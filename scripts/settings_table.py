"""Print the configuration table of the README from the Settings model.

    python scripts/settings_table.py

tests/unit/test_readme.py fails when the README's table is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workers.settings import PROJECT_ROOT, Settings  # noqa: E402


def env_name(name: str) -> str:
    field = Settings.model_fields[name]
    alias = field.validation_alias
    return alias if isinstance(alias, str) else f"NEWSWIRE_{name.upper()}"


def default_text(name: str) -> str:
    default = Settings.model_fields[name].default
    if default is None:
        return "(unset)"
    if isinstance(default, Path) and default.is_absolute():
        # Show defaults relative to the checkout, never this machine's paths.
        if default.is_relative_to(PROJECT_ROOT):
            return f"<repo>/{default.relative_to(PROJECT_ROOT)}"
        if default.is_relative_to(PROJECT_ROOT.parent):
            return f"<repo>/../{default.relative_to(PROJECT_ROOT.parent)}"
    return str(default)


def table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        rows.append(f"| `{env_name(name)}` | `{default_text(name)}` | {field.description} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.stdout.write(table())
