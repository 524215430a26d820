"""Digests that change with meaning only: formatting and comments never make a spec stale.

A spec is hashed from its ``ast`` (no positions, so no layout), in three parts so that
``astm build --explain`` can say which one changed: the signature (decorators with their
arguments, parameters, return annotation, bases, keywords), the docstring (cleaned, as
``inspect.cleandoc`` does), and the body without its docstring. The serialisation is our
own, not ``ast.dump``: it skips empty and missing fields, so a Python upgrade that adds a
field (``type_params`` in 3.12) or changes ``dump``'s defaults (3.13) changes no digest.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

FORMAT = "astm-specs-1"  # bump when the digest recipe changes: everything rebuilds once
SHORT = 16  # hex digits written per input in headers


def canon(node: object) -> str:
    """A stable text of an AST (or list, or constant), without positions."""
    if isinstance(node, ast.AST):
        parts = []
        for name, value in ast.iter_fields(node):
            if value is None or value == [] or name == "type_comment":
                continue
            parts.append(f"{name}={canon(value)}")
        return f"{type(node).__name__}({','.join(parts)})"
    if isinstance(node, list):
        return "[" + ",".join(canon(x) for x in node) + "]"
    return f"{type(node).__name__}:{node!r}"


def sha(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


@dataclass(frozen=True)
class SpecDigest:
    sig: str
    doc: str
    body: str

    @property
    def full(self) -> str:
        return sha(FORMAT, self.sig, self.doc, self.body)

    def short(self) -> dict[str, str]:
        return {"sig": self.sig[:SHORT], "doc": self.doc[:SHORT], "body": self.body[:SHORT]}


Def = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def _body(node: Def) -> list[ast.stmt]:
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return body


def signature_of(node: Def) -> str:
    if isinstance(node, ast.ClassDef):
        head: list[object] = [node.decorator_list, node.bases, node.keywords]
    else:
        head = [type(node).__name__, node.decorator_list, node.args, node.returns]
    head.append(getattr(node, "type_params", []))
    return canon(head)


def spec_digest(node: Def) -> SpecDigest:
    doc = ast.get_docstring(node, clean=True) or ""
    return SpecDigest(
        sig=sha("sig", node.name, signature_of(node)),
        doc=sha("doc", doc),
        body=sha("body", canon(_body(node))),
    )


def api_digest(node: ast.stmt) -> str:
    """A hand-written definition's API: its signature and docstring (function bodies are
    its own business; a class's methods' signatures count)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return sha("api", node.name, signature_of(node), ast.get_docstring(node) or "")
    if isinstance(node, ast.ClassDef):
        members = [api_digest(s) for s in node.body
                   if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        fields = [canon(s) for s in node.body if isinstance(s, (ast.AnnAssign, ast.Assign))]
        return sha("api", node.name, signature_of(node), ast.get_docstring(node) or "",
                   *members, *fields)
    return sha("api", canon(node))


def module_digest(role: str, specs: Iterable[tuple[str, str]], deps: Iterable[tuple[str, str]]) -> str:
    """What a generated module depends on: its specs' and its dependencies' digests."""
    lines = [FORMAT, role]
    lines += [f"spec {ref} {d}" for ref, d in sorted(specs)]
    lines += [f"dep {ref} {d}" for ref, d in sorted(deps)]
    return sha(*lines)


def body_digest(body: bytes) -> str:
    """The generated text below the header: a hand edit changes it."""
    return hashlib.sha256(body.replace(b"\r\n", b"\n")).hexdigest()
