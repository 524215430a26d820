"""Staleness: which generated modules must be (re)built, and which input changed.

A module is stale when its generated file is missing, its header is missing or corrupted,
its module digest (its specs' and its dependencies' digests) differs, its generation
fingerprint (prompt version, and the model when one is known) differs, or ``--force``.
The reasons name the input: ``shop.pricing:price_with_tax: docstring changed``,
``dependency shop.money:parse_money changed (its API)``, ``the prompt changed`` ...
Within a stale module, a spec whose own line in the header still matches keeps its
generated definition (no model call); only the specs that changed are regenerated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from astm.specs.deps import Graph
from astm.specs.digest import SHORT, module_digest, sha
from astm.specs.discover import SpecModule
from astm.specs.header import Header, SpecLine, hand_edited, parse
from astm.specs.source import Source


@dataclass
class ModuleState:
    module: SpecModule
    expected: Header
    existing: bytes | None
    header: Header | None
    reasons: list[str] = field(default_factory=list)
    edited: bool = False  # the generated body was changed by hand
    regenerate: set[str] = field(default_factory=set)  # spec refs that need the model

    @property
    def stale(self) -> bool:
        return bool(self.reasons)

    @property
    def name(self) -> str:
        return self.module.module

    def to_json(self) -> dict[str, object]:
        return {
            "module": self.name, "kind": self.module.role, "file": self.module.generated_path,
            "stale": self.stale, "reasons": self.reasons, "edited_by_hand": self.edited,
            "regenerate": sorted(self.regenerate),
        }


def fingerprint(prompt_version: str, model: str | None) -> str:
    return f"prompt={prompt_version} model={model or '?'}"


def _fp(text: str) -> dict[str, str]:
    return dict(p.split("=", 1) for p in text.split() if "=" in p)


def expected_header(m: SpecModule, g: Graph, fp: str) -> Header:
    h = Header(kind=m.role, module=m.module, source=m.path, fingerprint=fp)
    for s in m.specs:
        deps = sorted(f"{d.target}={d.digest}" for d in g.deps[s.ref])
        short = s.digest.short()
        h.specs[s.ref] = SpecLine(s.ref, short["sig"], short["doc"], short["body"],
                                  sha(*deps)[:SHORT])
    h.deps = {d.target: d.digest[:SHORT] for d in g.module_deps(m.module)}
    h.digest = module_digest(m.role, [(s.ref, s.digest.full) for s in m.specs],
                             [(d.target, d.digest) for d in g.module_deps(m.module)])
    return h


def assess(m: SpecModule, g: Graph, source: Source, fp: str, *, force: bool = False) -> ModuleState:
    exp = expected_header(m, g, fp)
    data = source.read(m.generated_path)
    header = parse(data) if data is not None else None
    st = ModuleState(m, exp, data, header)
    refs = [s.ref for s in m.specs]
    if data is None:
        st.reasons.append(f"{m.generated_path} does not exist yet")
        st.regenerate = set(refs)
        return st
    if header is None:
        st.reasons.append(f"{m.generated_path} has no astm header (or a corrupted one)")
        st.regenerate = set(refs)
        return st
    st.edited = hand_edited(data, header)
    if force:
        st.reasons.append("--force")
        st.regenerate = set(refs)
    if header.kind != exp.kind:
        st.reasons.append(f"the kind changed ({header.kind} -> {exp.kind})")
        st.regenerate = set(refs)
    old_fp, new_fp = _fp(header.fingerprint), _fp(fp)
    if old_fp.get("prompt") != new_fp.get("prompt"):
        st.reasons.append("the prompt changed")
        st.regenerate = set(refs)
    if new_fp.get("model", "?") != "?" and old_fp.get("model") != new_fp["model"]:
        st.reasons.append(f"the model changed ({old_fp.get('model', '?')} -> {new_fp['model']})")
        st.regenerate = set(refs)
    for s in m.specs:
        old, new = header.specs.get(s.ref), exp.specs[s.ref]
        if old is None:
            st.reasons.append(f"{s.ref}: new spec")
            st.regenerate.add(s.ref)
            continue
        what = [w for w, a, b in (("signature", old.sig, new.sig), ("docstring", old.doc, new.doc),
                                  ("body", old.body, new.body)) if a != b]
        if what:
            st.reasons.append(f"{s.ref}: {' and '.join(what)} changed")
            st.regenerate.add(s.ref)
        if old.deps != new.deps:
            st.regenerate.add(s.ref)
    for ref in header.specs:
        if ref not in exp.specs:
            st.reasons.append(f"{ref}: spec removed")
    for ref, d in exp.deps.items():
        if ref not in header.deps:
            st.reasons.append(f"new dependency {ref}")
        elif header.deps[ref] != d:
            st.reasons.append(f"dependency {ref} changed (its API)")
    for ref in header.deps:
        if ref not in exp.deps:
            st.reasons.append(f"dependency {ref} dropped")
    if not st.reasons and header.digest != exp.digest:
        st.reasons.append("the module digest differs")
        st.regenerate = set(refs)
    if st.reasons and st.edited:
        st.regenerate = set(refs)  # a hand-edited body is not reused
    return st
