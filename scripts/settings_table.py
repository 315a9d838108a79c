"""The configuration table of the README, generated from the Settings model.

    python scripts/settings_table.py           # print it
    python scripts/settings_table.py --write   # replace it in README.md

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
    if isinstance(default, tuple | list) and not default:
        return "(empty)"
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


START, END = "<!-- settings-table:start -->\n", "<!-- settings-table:end -->"


def write_readme(readme: Path = ROOT / "README.md") -> None:
    text = readme.read_text(encoding="utf-8")
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    readme.write_text(before + START + table() + END + after, encoding="utf-8")


if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        write_readme()
    else:
        sys.stdout.write(table())
