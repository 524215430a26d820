"""Discovery, digests and the dependency graph: pure, from source text."""

from __future__ import annotations

import pytest

from astm.errors import UsageError
from astm.specs.config import BuildConfig
from astm.specs.deps import build_graph, check_cycles
from astm.specs.digest import body_digest
from astm.specs.discover import Discovery, Problem, read_module
from astm.specs.header import Header, SpecLine, hand_edited, parse

CONF = BuildConfig(source_roots=("src",))

PRICING = '''"""Prices."""
from decimal import Decimal

import astm
from shop.money import parse_money


@astm.magic(deps=[parse_money])
def price_with_tax(amount: str, rate: float) -> Decimal:
    """Parse `amount`, add `rate`."""


@astm.magic()
class PriceBook:
    """Maps SKUs to prices."""
'''


def read(text: str, path: str = "src/shop/pricing.py") -> tuple[object, list[Problem]]:
    problems: list[Problem] = []
    m = read_module(path, "src", text.encode(), CONF, problems)
    return m, problems


def digests(text: str) -> dict[str, object]:
    m, problems = read(text)
    assert not problems
    return {s.ref: s.digest for s in m.specs}  # type: ignore[attr-defined]


def test_specs_are_found_with_refs_paths_and_deps() -> None:
    m, problems = read(PRICING)
    assert not problems
    assert m.module == "shop.pricing"  # type: ignore[attr-defined]
    assert m.generated_path == "src/shop/__generated__/pricing.py"  # type: ignore[attr-defined]
    assert m.generated_module == "shop.__generated__.pricing"  # type: ignore[attr-defined]
    price, book = m.specs  # type: ignore[attr-defined]
    assert (price.ref, price.kind, book.ref, book.kind) == (
        "shop.pricing:price_with_tax", "function", "shop.pricing:PriceBook", "class")
    assert price.explicit == ("shop.money:parse_money",)
    assert "decimal:Decimal" in price.deps


def test_comments_and_formatting_never_change_a_digest() -> None:
    reformatted = PRICING.replace(
        "def price_with_tax(amount: str, rate: float) -> Decimal:",
        "# the price\ndef price_with_tax(\n    amount: str,   # text\n    rate: float,\n) -> Decimal:  # ok",
    ).replace('@astm.magic(deps=[parse_money])', '@astm.magic( deps = [ parse_money, ] )')
    assert digests(reformatted) == digests(PRICING)


def test_a_docstring_edit_changes_the_docstring_part_only() -> None:
    before = digests(PRICING)["shop.pricing:price_with_tax"]
    after = digests(PRICING.replace("add `rate`", "add `rate` (0.2 = 20%)"))["shop.pricing:price_with_tax"]
    assert after.doc != before.doc  # type: ignore[attr-defined]
    assert (after.sig, after.body) == (before.sig, before.body)  # type: ignore[attr-defined]
    signature = digests(PRICING.replace("rate: float", "rate: Decimal"))["shop.pricing:price_with_tax"]
    assert signature.sig != before.sig and signature.doc == before.doc  # type: ignore[attr-defined]


@pytest.mark.parametrize(("source", "fragment"), [
    ("import astm\n\ndef outer():\n    @astm.magic()\n    def inner(): ...\n",
     "shop.pricing:inner (src/shop/pricing.py, line 5): defined inside a function (a closure)"),
    ("import astm\n\nclass K:\n    @astm.magic()\n    def m(self): ...\n",
     "shop.pricing:m (src/shop/pricing.py, line 5): a method"),
    ("import astm\n\nclass M(type): ...\n\n@astm.magic()\nclass C(metaclass=M):\n    '''x'''\n",
     "shop.pricing:C (src/shop/pricing.py, line 6): a class with a custom metaclass"),
    ("import astm\n\n@astm.magic()\ndef f(): ...\n\nf = 3\n",
     "shop.pricing:f (src/shop/pricing.py, line 4): name clash: f is also bound by hand-written code at line 6"),
    ("import astm\n\n@astm.magic()\ndef f(:\n", "src/shop/pricing.py (line 4): not valid Python"),
])
def test_bad_specs_are_refused_by_name(source: str, fragment: str) -> None:
    _, problems = read(source)
    assert [str(p) for p in problems if fragment in str(p)], [str(p) for p in problems]


def _module(path: str, text: str) -> object:
    problems: list[Problem] = []
    m = read_module(path, "src", text.encode(), CONF, problems)
    assert not problems and m is not None
    return m


def test_a_dependency_cycle_names_the_cycle() -> None:
    a = _module("src/pkg/a.py", "import astm\nfrom pkg.b import g\n\n@astm.magic(deps=[g])\ndef f(): ...\n")
    b = _module("src/pkg/b.py", "import astm\nfrom pkg.a import f\n\n@astm.magic(deps=[f])\ndef g(): ...\n")
    found = Discovery(modules=[a, b], by_module={"pkg.a": "src/pkg/a.py", "pkg.b": "src/pkg/b.py"})  # type: ignore[list-item]
    graph = build_graph(found, source=None)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"dependency cycle between spec modules: pkg\.a -> pkg\.b -> pkg\.a"):
        check_cycles(graph)


def test_headers_round_trip_and_corruption_is_none() -> None:
    body = b"def f():\n    return 1\n"
    h = Header(kind="impl", module="m", source="src/m.py", digest="ab" * 32, fingerprint="prompt=x model=y",
               specs={"m:f": SpecLine("m:f", "1" * 16, "2" * 16, "3" * 16, "4" * 16)},
               deps={"n:g": "5" * 16}, body=body_digest(body))
    data = h.render("0.1.0").encode() + body
    got = parse(data)
    assert got is not None and got.specs == h.specs and got.deps == h.deps and got.digest == h.digest
    assert not hand_edited(data, got)
    assert hand_edited(data + b"# mine\n", got)
    assert parse(body) is None
    assert parse(data.replace(b"# astm: spec m:f sig=", b"# astm: spec m:f sag=")) is None
    assert parse(data.replace(b"# astm: digest ", b"# astm: digest zz")) is None
    assert parse(b"# astm: kind impl\n\xff\xfe") is None
