"""Manifests: the symbols a dynld host exports or a module imports, with their signatures.

A manifest is a YAML mapping::

    headers: [api.h]            # optional, relative to the manifest's directory
    exports:                    # a C declaration each, or a mapping {name:, decl:, sig:}
      - int mod_add(int, int);
      - char *mod_name;
      - {name: mod_init}        # declared in a header
      - {decl: "void *mod_any;", sig: 0}   # sig: overrides the computed one (0: unchecked)
    imports:
      - int print(char *, ...);

Declarations are parsed in the context of the headers (their typedefs, tags and macros);
a bare name (``- mod_init`` or ``{name: mod_init}``) takes its declaration from the headers.
Every error is one ``file:line: what is wrong`` DynError, whatever the input.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import yaml
from pycparser import c_ast

from ..errors import DynError, read_input, unreadable_reason
from . import signatures

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_NULL = "tag:yaml.org,2002:null"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TOP_KEYS = ("headers", "exports", "imports")
ENTRY_KEYS = ("name", "decl", "sig")


@dataclass(frozen=True)
class ManifestSymbol:
    """One exported or imported symbol."""

    name: str
    sig: int
    kind: str  # 'func' or 'object'
    decl: str  # normalised C declaration (no storage class, no ';')
    line: int = field(default=0, compare=False)  # where the manifest lists it


@dataclass
class Manifest:
    """A loaded, validated manifest."""

    path: str
    headers: list[str]  # resolved paths (the manifest's directory joined with each entry)
    exports: list[ManifestSymbol]
    imports: list[ManifestSymbol]

    def header_paths(self) -> list[str]:
        """The header files the manifest depends on (for build-system scanners)."""
        return list(self.headers)

    def export(self, name: str) -> ManifestSymbol | None:
        """The export called ``name``, if any."""
        return next((s for s in self.exports if s.name == name), None)

    def import_(self, name: str) -> ManifestSymbol | None:
        """The import called ``name``, if any."""
        return next((s for s in self.imports if s.name == name), None)


@dataclass
class _Entry:
    section: str
    line: int
    name: str | None
    decl: str | None
    decl_line: int
    sig: int | None


class _Loader:
    def __init__(self, path: str):
        self.path = path

    def err(self, node_or_line, msg: str) -> DynError:
        line = node_or_line if isinstance(node_or_line, int) else node_or_line.start_mark.line + 1
        return DynError(msg, f"{self.path}:{line}")

    def compose(self, data: bytes):
        try:
            return yaml.compose(data, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            what = ", ".join(x for x in (e.context, e.problem) if x) or "invalid YAML"
            if mark is not None:
                raise DynError(f"invalid YAML: {what}", f"{self.path}:{mark.line + 1}") from None
            raise DynError(f"invalid YAML: {what}", self.path) from None
        except yaml.YAMLError as e:
            first = str(e).splitlines()[0] if str(e) else "invalid YAML"
            raise DynError(f"invalid YAML: {first}", self.path) from None
        except RecursionError:
            raise DynError("invalid YAML: nested too deeply", self.path) from None
        except (ValueError, TypeError, UnicodeError) as e:
            raise DynError(f"invalid YAML: {e}", self.path) from None

    def string(self, node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR:
            raise self.err(node, f"{what} must be a string")
        return node.value

    def sequence(self, node, what: str) -> list:
        if isinstance(node, yaml.ScalarNode) and node.tag == _NULL:
            return []
        if not isinstance(node, yaml.SequenceNode) or node.tag != _SEQ:
            raise self.err(node, f"'{what}' must be a list")
        return list(node.value)

    def sig(self, node) -> int:
        value: object = None
        if isinstance(node, yaml.ScalarNode) and node.tag == _INT:
            try:
                value = yaml.constructor.SafeConstructor().construct_yaml_int(node)
            except (ValueError, TypeError, yaml.YAMLError):
                value = None
        elif isinstance(node, yaml.ScalarNode) and node.tag == _STR:
            try:
                value = int(node.value.strip().replace("_", ""), 0)
            except ValueError:
                value = None
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0xFFFFFFFF:
            shown = node.value if isinstance(node, yaml.ScalarNode) else type(node).__name__
            raise self.err(node, f"sig must be a 32-bit unsigned integer, not {shown!r}")
        return value

    def entry(self, section: str, node) -> _Entry:
        line = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode):
            text = self.string(node, f"an entry of '{section}'").strip()
            if not text:
                raise self.err(node, f"empty declaration in '{section}'")
            bare = text.rstrip(";").strip()
            if _IDENT.match(bare):
                return _Entry(section, line, bare, None, line, None)
            return _Entry(section, line, None, text, _content_line(node), None)
        if not isinstance(node, yaml.MappingNode) or node.tag != _MAP:
            raise self.err(node, f"an entry of '{section}' must be a declaration string or a mapping")
        got: dict[str, object] = {}
        decl_line = line
        for k, v in node.value:
            key = self.string(k, "a key")
            if key not in ENTRY_KEYS:
                raise self.err(k, f"unknown key '{key}' (expected one of: {', '.join(ENTRY_KEYS)})")
            if key in got:
                raise self.err(k, f"duplicate key '{key}'")
            if key == "sig":
                got[key] = self.sig(v)
            elif key == "name":
                name = self.string(v, "name").strip()
                if not _IDENT.match(name):
                    raise self.err(v, f"name {name!r} is not a C identifier")
                got[key] = name
            else:
                text = self.string(v, "decl").strip()
                if not text:
                    raise self.err(v, "empty declaration")
                got[key] = text
                decl_line = _content_line(v)
        if "name" not in got and "decl" not in got:
            raise self.err(node, "an entry needs a 'name' or a 'decl'")
        sig = got.get("sig")
        return _Entry(
            section,
            line,
            got.get("name"),  # type: ignore[arg-type]
            got.get("decl"),  # type: ignore[arg-type]
            decl_line,
            sig if isinstance(sig, int) else None,
        )

    def load(self) -> Manifest:
        seen, headers = self.top()
        entries: list[_Entry] = []
        for section in ("exports", "imports"):
            if section in seen:
                entries += [self.entry(section, item) for item in self.sequence(seen[section], section)]
        return self.resolve(headers, entries)

    def top(self) -> tuple[dict[str, object], list[str]]:
        """The manifest's top-level keys and its resolved, checked header paths."""
        data = read_input(self.path)
        root = self.compose(data)
        if root is None:
            raise DynError("empty manifest (expected a mapping with 'exports' and/or 'imports')", self.path)
        if not isinstance(root, yaml.MappingNode) or root.tag != _MAP:
            raise self.err(root, "a manifest must be a mapping (keys: headers, exports, imports)")
        seen: dict[str, object] = {}
        for k, v in root.value:
            key = self.string(k, "a key")
            if key not in TOP_KEYS:
                raise self.err(k, f"unknown key '{key}' (expected one of: {', '.join(TOP_KEYS)})")
            if key in seen:
                raise self.err(k, f"duplicate key '{key}'")
            seen[key] = v
        base = os.path.dirname(self.path)
        headers: list[str] = []
        for item in self.sequence(seen["headers"], "headers") if "headers" in seen else []:
            h = self.string(item, "a header").strip()
            if not h:
                raise self.err(item, "empty header name")
            if "\0" in h or "\n" in h or '"' in h:
                raise self.err(item, f"bad header name {h!r}")
            resolved = os.path.normpath(os.path.join(base, h))
            if resolved in headers:
                raise self.err(item, f"header '{h}' listed twice")
            reason = unreadable_reason(resolved)
            if reason is not None:
                raise self.err(item, f"cannot read header '{h}': {reason}")
            headers.append(resolved)
        return seen, headers

    def resolve(self, headers: list[str], entries: list[_Entry]) -> Manifest:
        with_decl = [e for e in entries if e.decl is not None]
        snippets = [signatures.Snippet(_terminated(e.decl or ""), self.path, e.decl_line) for e in with_decl]
        tr = signatures.Translation([(h, h) for h in headers], snippets) if headers or snippets else None
        builder = tr.builder if tr is not None else None
        items = dict(zip((id(e) for e in with_decl), tr.snippet_items if tr else [], strict=True))
        result: dict[str, list[ManifestSymbol]] = {"exports": [], "imports": []}
        where: dict[str, tuple[str, int]] = {}
        for e in entries:
            if e.decl is not None:
                assert tr is not None
                name, decl = self.check_decl(e, items[id(e)], tr)
            else:
                assert e.name is not None
                found = builder.symbols.get(e.name) if builder is not None else None
                if found is None:
                    raise self.err(e.line, f"'{e.name}' is not declared in the headers (give its declaration)")
                name, decl = e.name, found[1]
            assert builder is not None
            ctype = builder.symbols[name][0]
            kind = "func" if isinstance(ctype, signatures.Function) else "object"
            sig = e.sig if e.sig is not None else signatures.sign(ctype)
            if name in where:
                sec, ln = where[name]
                also = "" if sec == e.section else f" (in '{sec}')"
                raise self.err(e.line, f"'{name}' listed twice{also}, first at line {ln}")
            where[name] = (e.section, e.line)
            result[e.section].append(ManifestSymbol(name, sig, kind, signatures.decl_text(decl), e.line))
        return Manifest(self.path, headers, result["exports"], result["imports"])

    def check_decl(self, e: _Entry, items, tr: signatures.Translation) -> tuple[str, c_ast.Decl]:
        line = e.decl_line
        if len(items) != 1:
            raise self.err(line, f"expected one function or object declaration, found {len(items)} declarations")
        ext, d, _ = items[0]
        if isinstance(ext, c_ast.FuncDef):
            raise self.err(line, "a function definition, not a declaration")
        if d is None or not isinstance(ext, c_ast.Decl):
            what = "a typedef" if isinstance(ext, c_ast.Typedef) else "this"
            raise self.err(line, f"{what} declares no function or object")
        bad = [s for s in d.storage if s in ("static", "typedef", "register", "auto", "_Thread_local")]
        if bad:
            raise self.err(line, f"'{d.name}' cannot be {bad[0]}")
        if d.init is not None:
            raise self.err(line, f"'{d.name}' has an initializer")
        if e.name is not None and e.name != d.name:
            raise self.err(line, f"name '{e.name}' does not match the declaration's '{d.name}'")
        tr.check_declaration(d)
        return d.name, d


def _content_line(node) -> int:
    """The line where a scalar's text starts (block scalars start on the next line)."""
    line = node.start_mark.line + 1
    if getattr(node, "style", None) in ("|", ">"):
        line += 1
    return line


def _terminated(text: str) -> str:
    text = text.rstrip()
    return text if text.endswith(";") else text + ";"


def load_manifest(path: str) -> Manifest:
    """Load and validate a manifest; DynError ``file:line: what is wrong`` if it is bad."""
    return _Loader(path).load()


def manifest_headers(path: str) -> list[str]:
    """Only the headers a manifest names, checked, without parsing its declarations (for scanners)."""
    return _Loader(path).top()[1]
