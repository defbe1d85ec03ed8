"""Config YAML, read safely: a SafeLoader that also reads `1e-3` as a number, with bounds
on nesting, values, alias expansion and integer length, and duplicate keys refused."""

from __future__ import annotations

import re
from typing import Any

import yaml

from seqcls.config.limits import (
    MAX_CONFIG_BYTES,
    MAX_INT_CHARS,
    MAX_YAML_DEPTH,
    MAX_YAML_VALUES,
    clip,
    show,
)
from seqcls.errors import ConfigError


class YamlLimitError(ConfigError, yaml.YAMLError):
    """YAML past a bound, or with a key twice in one mapping: a ConfigError for a user's
    config, and a YAMLError (with `problem`) for readers of the YAML files seqcls writes."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.problem = message


class _ConfigLoader(yaml.SafeLoader):
    """YAML's safe loader, also reading `1e-3` as a number, with bounds and duplicate keys.

    PyYAML follows YAML 1.1, where a float needs a dot (`1.0e-3`), so the `1e-3` that
    people write for learning rates would arrive as a string.

    Bounded: nesting depth and values composed (a huge file), values after alias expansion
    (a "billion laughs" of a few hundred bytes expands to 9**9 values, which validation and
    error messages would walk), aliases that contain themselves, and integer length. A key
    that appears twice in one mapping is an error (YAML would keep the last silently).
    Bounds raise YamlLimitError naming the key path and line, without the file name;
    callers add where the text came from.
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._path: list[str] = []  # key path of the node being composed
        self._composed = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        # index: the key node for a mapping's value, the position for a sequence's item.
        if isinstance(index, int):
            part = f"[{index}]"
        elif isinstance(index, yaml.ScalarNode):
            part = f".{clip(index.value, 40)}"
        else:
            part = ""
        self._path.append(part)
        self._composed += 1
        try:
            if len(self._path) > MAX_YAML_DEPTH or self._composed > MAX_YAML_VALUES:
                if len(self._path) > MAX_YAML_DEPTH:
                    what = f"values nested more than {MAX_YAML_DEPTH} levels deep"
                else:
                    what = f"more than {MAX_YAML_VALUES:,} values"
                where = clip("".join(self._path).lstrip("."), 200) or "the top level"
                line = self.peek_event().start_mark.line + 1
                raise YamlLimitError(
                    f"{where} (line {line}): the YAML holds {what}; a config has a few "
                    "sections of settings, so this is not one (or is damaged)"
                )
            return super().compose_node(parent, index)
        finally:
            self._path.pop()

    def construct_document(self, node: Any) -> Any:
        _check_yaml_graph(self, node)
        return super().construct_document(node)


_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)

_MERGE_TAG = "tag:yaml.org,2002:merge"
_INT_TAG = "tag:yaml.org,2002:int"


def _check_int_length(node: yaml.Node, path: str) -> None:
    # Python refuses to parse integers of over 4300 digits (a ValueError), and YAML 1.1's
    # base 60 (`1:1:1:...`) takes quadratic time; no setting needs either.
    if isinstance(node, yaml.ScalarNode) and node.tag == _INT_TAG:
        if len(node.value) > MAX_INT_CHARS:
            raise YamlLimitError(
                f"{path or 'the top level'} (line {node.start_mark.line + 1}): an integer "
                f"written with {len(node.value):,} characters; no setting needs more than "
                f"{MAX_INT_CHARS}"
            )


def _node_children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    return []


def _check_yaml_graph(loader: _ConfigLoader, root: yaml.Node) -> None:
    """Refuse duplicate keys, self-containing aliases and alias expansion past
    MAX_YAML_VALUES, before anything is constructed. Linear in the nodes composed."""
    # Each node once, with the key path it is first reached by.
    paths: dict[int, str] = {id(root): ""}
    stack = [root]
    while stack:
        node = stack.pop()
        path = paths[id(node)]
        _check_int_length(node, path)
        children: list[tuple[str, yaml.Node]] = []
        if isinstance(node, yaml.SequenceNode):
            children = [(f"{path}[{index}]", child) for index, child in enumerate(node.value)]
        elif isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                    children += [(path, key_node), (path, value_node)]
                    continue
                key_path = f"{path}.{clip(key_node.value)}" if path else clip(key_node.value)
                _check_int_length(key_node, key_path)
                key = loader.construct_object(key_node)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:  # unhashable: constructing the mapping reports it
                    first = key_node
                if first is not key_node:
                    raise YamlLimitError(
                        f"{key_path}: the key {show(key)} appears twice in one mapping "
                        f"(line {first.start_mark.line + 1} and line "
                        f"{key_node.start_mark.line + 1}); YAML would silently keep the last "
                        "value only; delete one of them"
                    )
                children += [(key_path, key_node), (key_path, value_node)]
        for child_path, child in children:
            if id(child) not in paths:
                paths[id(child)] = child_path
                stack.append(child)
    # Values after expansion: 1 + the children's, memoised per node (aliases share nodes).
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    pending: list[tuple[yaml.Node, bool]] = [(root, False)]
    while pending:
        node, finished = pending.pop()
        where = f"{paths[id(node)] or 'the top level'} (line {node.start_mark.line + 1})"
        if finished:
            open_nodes.discard(id(node))
            size = 1 + sum(sizes[id(child)] for child in _node_children(node))
            if size > MAX_YAML_VALUES:
                raise YamlLimitError(
                    f"{where}: YAML aliases (*name) expand this value to {size:,} values, more "
                    f"than the {MAX_YAML_VALUES:,} a config may hold; write the value out "
                    "without aliases"
                )
            sizes[id(node)] = size
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_nodes:
            raise YamlLimitError(
                f"{where}: a YAML alias (*name) refers to a value that contains the alias "
                "itself, so the value would be infinite; write the value out"
            )
        open_nodes.add(id(node))
        pending.append((node, True))
        pending += [(child, False) for child in _node_children(node) if id(child) not in sizes]


def yaml_load(text: str) -> Any:
    """Parse config YAML (a SafeLoader: no arbitrary objects), bounded as _ConfigLoader says.

    Raises yaml.YAMLError for text that is not YAML, YamlLimitError (a ConfigError and a
    YAMLError) past a bound."""
    if len(text) > MAX_CONFIG_BYTES:
        raise YamlLimitError(
            f"{len(text):,} characters of YAML, more than the {MAX_CONFIG_BYTES:,} a config "
            "may have (a config is a few kilobytes)"
        )
    return yaml.load(text, Loader=_ConfigLoader)
