"""Reading analyst-edited YAML seed files with errors that name the file, topic and line.

PyYAML's ``compose`` keeps every node's position (``start_mark.line``), which
``safe_load`` throws away. ``Node`` wraps a composed node with its file and the
topic being read, and its typed getters raise ``ConfigurationError`` such as::

    seeds/taxonomy/sanctions.yaml: topic sanctions, line 42: concept 'sanctoin' is not declared

Duplicate keys, which ``safe_load`` silently merges, are refused too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from workers.errors import ConfigurationError

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_STR = "tag:yaml.org,2002:str"


@dataclass(frozen=True)
class Node:
    """A YAML node with the context needed to report an error about it."""

    node: yaml.Node
    display: str  # file name as shown in messages, e.g. seeds/taxonomy/sanctions.yaml
    topic: str | None = None

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1

    def error(self, message: str) -> ConfigurationError:
        where = f"{self.display}: topic {self.topic}" if self.topic else self.display
        return ConfigurationError(f"{where}, line {self.line}: {message}")

    def with_topic(self, topic: str) -> Node:
        return replace(self, topic=topic)

    def _wrap(self, node: yaml.Node) -> Node:
        return Node(node, self.display, self.topic)

    # -- structure ---------------------------------------------------------------------
    def mapping(self, what: str = "a mapping") -> Fields:
        if not isinstance(self.node, yaml.MappingNode):
            raise self.error(f"expected {what}")
        out = Fields()
        for key_node, value_node in self.node.value:
            key_wrapped = self._wrap(key_node)
            key = key_wrapped.text("a key")
            if key in out:
                raise key_wrapped.error(f"duplicate key {key!r}")
            out[key] = self._wrap(value_node)
            out.key_nodes[key] = key_wrapped
        return out

    def sequence(self, what: str = "a list") -> list[Node]:
        if not isinstance(self.node, yaml.SequenceNode):
            raise self.error(f"expected {what}")
        return [self._wrap(item) for item in self.node.value]

    def is_sequence(self) -> bool:
        return isinstance(self.node, yaml.SequenceNode)

    def is_null(self) -> bool:
        return isinstance(self.node, yaml.ScalarNode) and self.node.tag.endswith(":null")

    # -- scalars -----------------------------------------------------------------------
    def text(self, what: str = "a string") -> str:
        node = self.node
        if not isinstance(node, yaml.ScalarNode) or node.tag not in (_STR, _INT, _FLOAT):
            raise self.error(f"expected {what}")
        value = str(node.value).strip()
        if not value:
            raise self.error(f"expected {what}, got an empty value")
        return value

    def number(self, what: str = "a number") -> float:
        node = self.node
        if not isinstance(node, yaml.ScalarNode) or node.tag not in (_INT, _FLOAT):
            raise self.error(f"expected {what}, got {_describe(node)}")
        try:
            return float(str(node.value).replace("_", ""))
        except ValueError as exc:
            raise self.error(f"expected {what}, got {node.value!r}") from exc

    def texts(self, what: str = "a list of strings") -> list[tuple[str, Node]]:
        """A list of strings, each with its own node (for per-item error lines)."""
        return [(item.text(what), item) for item in self.sequence(what)]


class Fields(dict[str, Node]):
    """A mapping's values by key, remembering the key nodes for errors about a key."""

    def __init__(self) -> None:
        super().__init__()
        self.key_nodes: dict[str, Node] = {}

    def key(self, name: str) -> Node:
        return self.key_nodes[name]

    def refuse_unknown(self, allowed: set[str], what: str = "") -> None:
        for name in self:
            if name not in allowed:
                prefix = f"{what}: " if what else ""
                raise self.key(name).error(
                    f"{prefix}unknown key {name!r} (expected {', '.join(sorted(allowed))})"
                )


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return repr(node.value)
    return "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"


def load(path: Path, display: str) -> Node:
    """Compose a YAML file into a ``Node``; syntax errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{display}: cannot read: {exc}") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f", line {mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigurationError(f"{display}{line}: {problem}") from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{display}: invalid YAML: {exc}") from exc
    if node is None:
        raise ConfigurationError(f"{display}, line 1: the file is empty")
    return Node(node, display)


def display_name(path: Path, seeds_dir: Path) -> str:
    """How a seed file is named in messages: relative to the seeds folder's parent."""
    try:
        return path.relative_to(seeds_dir.parent).as_posix()
    except ValueError:
        return path.as_posix()
