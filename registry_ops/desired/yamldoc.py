"""Safe YAML parsing that remembers where every value came from.

PyYAML's safe loader gives plain data; errors about that data must still
name a line and column, so we walk the composed node tree alongside and
record the start mark of every mapping key, value and sequence item.

Manifests come from pull requests, so the input may be hostile. Before any
node or Python object is built, one iterative pass over libyaml's event
stream refuses what would exhaust memory or the stack:

- nesting deeper than :data:`MAX_DEPTH` (the composer and the constructor
  recurse once per level; a few thousand ``[`` crash them),
- aliases that expand to more than :data:`MAX_NODES` values (a "billion
  laughs" file of a few hundred bytes expands to millions of nodes),
- an alias inside the node its anchor names (a cyclic structure, which
  every recursive walk after loading would follow forever),
- a second document in the stream (one manifest or policy per file).

The caller (the loader) limits the file size before the text gets here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

PathKey = tuple[str | int, ...]

# Real manifests nest four levels deep (policy -> gates -> gate -> tags);
# 64 leaves room for any honest file and keeps every recursion shallow.
MAX_DEPTH = 64
# Values in a document once aliases are expanded. A large manifest has a
# few hundred; 100,000 is far beyond honest use and still cheap to build.
MAX_NODES = 100_000

STR_TAG = "tag:yaml.org,2002:str"
# What YAML 1.1 turns a plain scalar into, in words a user knows.
_TAG_NAMES = {
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:int": "an integer",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:null": "null",
    "tag:yaml.org,2002:timestamp": "a date",
    "tag:yaml.org,2002:binary": "binary data",
}


@dataclass(frozen=True)
class Scalar:
    """A scalar that YAML did not read as a string: its source text and what it became."""

    source: str
    tag: str

    @property
    def kind(self) -> str:
        """What YAML made of it, e.g. 'a boolean'."""
        return _TAG_NAMES.get(self.tag, f"a value tagged {self.tag}")


@dataclass
class YamlDoc:
    """Parsed data plus ``path -> (line, column)`` (1-based) for every node."""

    data: Any
    marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    # Keys given twice in one mapping: YAML keeps the last silently, we refuse.
    duplicate_keys: list[tuple[PathKey, tuple[int, int]]] = field(default_factory=list)
    # Values that YAML resolved to something other than a string (``NO``,
    # ``0755``, ``1.10``): their source text, so messages show what was written.
    scalars: dict[PathKey, Scalar] = field(default_factory=dict)
    # Mapping keys that are not strings (``yes:``, ``~:``, ``2024:``): path (as
    # the data names it: 'True'), source text and position. A list, because
    # ``yes:`` and ``on:`` are both True and share a path.
    odd_keys: list[tuple[PathKey, Scalar, tuple[int, int]]] = field(default_factory=list)

    def mark(self, path: PathKey) -> tuple[int, int] | None:
        """The closest known position for ``path``: the value, else its nearest parent."""
        norm = normalize(path)
        while True:
            if norm in self.marks:
                return self.marks[norm]
            if not norm:
                return None
            norm = norm[:-1]


class YamlSyntaxError(Exception):
    """The file is not valid YAML (or not safe to load); carries the position, if any."""

    def __init__(self, message: str, line: int | None, column: int | None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


class YamlLimitError(YamlSyntaxError):
    """The file is valid YAML but too deep, too alias-heavy or cyclic to load safely."""


def normalize(path: Any) -> PathKey:
    """Path elements as stored in marks: sequence indices stay int, keys become str."""
    return tuple(p if isinstance(p, int) and not isinstance(p, bool) else str(p) for p in path)


# libyaml's parser gives the same nodes and marks about three times faster
# (1,000 manifests: 1.3 s -> 0.4 s); the pure-Python one is the fallback.
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def loader_class(base: type[yaml.SafeLoader]) -> type[yaml.SafeLoader]:
    """``base`` (a safe loader), with every constructor failure turned into a located error.

    PyYAML's own constructors raise bare Python errors on inputs such as
    ``2024-02-30``, ``0b_`` or ``!!bool x``; those become ConstructorErrors
    that name the node. A factory, so the pure-Python fallback is tested too.
    """

    class Loader(base):  # type: ignore[valid-type,misc]
        def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
            try:
                return super().construct_object(node, deep)
            except yaml.YAMLError:
                raise
            except Exception as exc:  # any constructor failure is about this input
                text = node.value if isinstance(node, yaml.ScalarNode) else "this value"
                tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
                detail = "" if isinstance(exc, KeyError) or not str(exc) else f": {exc}"
                raise yaml.constructor.ConstructorError(
                    None, None, f"cannot read {text!r} as {tag}{detail}", node.start_mark
                ) from None

    return Loader


_Loader = loader_class(_BaseLoader)


def _pos(mark: Any) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


def _refuse(message: str, mark: Any) -> YamlLimitError:
    line, col = _pos(mark)
    return YamlLimitError(message, line, col)


def _check_events(loader: Any) -> None:
    """Walk the event stream once, iteratively, and refuse unsafe structure.

    Each open collection is a frame ``[anchor, expanded size, height]``; an
    anchor's size and height are known when its collection ends, so an alias
    adds them without expanding anything. (This loop runs for every event of
    every file, so it dispatches on the exact event type, commonest first.)
    """
    frames: list[list[Any]] = []
    anchors: dict[str, tuple[int, int]] = {}
    open_anchors: dict[str, int] = {}
    total = 0
    documents = 0
    aliased = False
    get_event = loader.get_event
    starts = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
    ends = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    while True:
        event = get_event()
        kind = type(event)
        if kind is yaml.ScalarEvent:
            # A scalar adds one value; its parent's height is at least 1 already.
            total += 1
            if frames:
                frames[-1][1] += 1
            if event.anchor is not None:
                anchors[event.anchor] = (1, 0)
        elif kind in starts:
            if len(frames) >= MAX_DEPTH:
                raise _refuse(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
            total += 1
            frames.append([event.anchor, 1, 1])
            if event.anchor is not None:
                open_anchors[event.anchor] = open_anchors.get(event.anchor, 0) + 1
        elif kind in ends:
            anchor, size, height = frames.pop()
            if frames:
                parent = frames[-1]
                parent[1] += size
                parent[2] = max(parent[2], height + 1)
            if anchor is not None:
                open_anchors[anchor] -= 1
                anchors[anchor] = (size, height)
        elif kind is yaml.AliasEvent:
            aliased = True
            name = str(event.anchor)
            if open_anchors.get(name):
                raise _refuse(
                    f"alias *{name} is inside the value its anchor &{name} names: "
                    "a cyclic structure cannot be loaded",
                    event.start_mark,
                )
            if name not in anchors:
                raise _refuse(f"alias *{name} has no anchor &{name} before it", event.start_mark)
            size, height = anchors[name]
            total += size
            if len(frames) + height > MAX_DEPTH:
                raise _refuse(
                    f"alias *{name} nests values deeper than {MAX_DEPTH} levels once expanded",
                    event.start_mark,
                )
            if frames:
                parent = frames[-1]
                parent[1] += size
                parent[2] = max(parent[2], height + 1)
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _refuse(
                    "a second YAML document starts here: one manifest or policy per file",
                    event.start_mark,
                )
        elif kind is yaml.StreamEndEvent:
            return
        if total > MAX_NODES:
            raise _refuse(
                f"more than {MAX_NODES:,} values once aliases are expanded; "
                "refusing to load (an alias bomb?)"
                if aliased
                else f"more than {MAX_NODES:,} values; refusing to load",
                event.start_mark,
            )


def parse(text: str) -> YamlDoc:
    """Parse one YAML document safely, recording positions; raise YamlSyntaxError.

    Raises :class:`YamlLimitError` (a YamlSyntaxError) for documents nested
    deeper than MAX_DEPTH, aliases expanding beyond MAX_NODES values, cyclic
    aliases and streams of more than one document, before building anything.
    """
    try:
        precheck = _Loader(text)
        try:
            _check_events(precheck)
        finally:
            precheck.dispose()
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
            doc = YamlDoc(data)
            if node is not None:
                _walk(node, (), doc, loader)
        finally:
            loader.dispose()
    except YamlLimitError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        if "maximum nesting depth" in str(exc.problem):
            # libyaml's own limit (1,000 levels) fires before our event pass gets there.
            raise YamlLimitError(f"nested deeper than {MAX_DEPTH} levels", line, col) from None
        raise YamlSyntaxError(f"invalid YAML: {exc.problem or exc}", line, col) from None
    except yaml.reader.ReaderError as exc:
        # Raised for characters YAML forbids; it knows only a character offset.
        before = text[: exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise YamlSyntaxError(
            f"invalid YAML: character U+{ord(char):04X} is not allowed ({exc.reason})", line, col
        ) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"invalid YAML: {exc}", None, None) from None
    return doc


def _key_name(key_node: yaml.Node, loader: Any) -> str:
    """A key as the loaded data names it (``yes`` -> 'True'), so paths match the data."""
    if not isinstance(key_node, yaml.ScalarNode):
        return "?"
    if key_node.tag == STR_TAG:
        return str(key_node.value)
    return str(loader.construct_object(key_node, deep=True))


def _walk(node: yaml.Node, path: PathKey, doc: YamlDoc, loader: Any) -> None:
    # Recursion is safe here: depth and expanded size were bounded by _check_events.
    doc.marks[path] = _pos(node.start_mark)
    if isinstance(node, yaml.ScalarNode):
        if node.tag != STR_TAG:
            doc.scalars[path] = Scalar(str(node.value), str(node.tag))
    elif isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = _key_name(key_node, loader)
            child = (*path, key)
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != STR_TAG:
                scalar = Scalar(str(key_node.value), str(key_node.tag))
                doc.odd_keys.append((child, scalar, _pos(key_node.start_mark)))
            elif key in seen:
                doc.duplicate_keys.append((child, _pos(key_node.start_mark)))
            seen.add(key)
            doc.key_marks[child] = _pos(key_node.start_mark)
            _walk(value_node, child, doc, loader)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), doc, loader)
