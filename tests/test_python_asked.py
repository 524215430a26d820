"""Type hints the intent asks for and a function's new text lacks (astm.lang.python.asked)."""

from __future__ import annotations

from astm.lang.python import asked

ASK = "Add type hints to every parameter and return value of the functions in core.py"


def test_a_function_left_bare_is_refused_naming_what_lacks_a_type() -> None:
    diag = asked.missing(b'def truncate(text, width: int, suffix="..."):\n    return text\n', ASK)
    assert diag is not None and diag.message == "truncate still lacks type hints for text, suffix, the return value"


def test_an_annotated_function_and_self_pass() -> None:
    assert asked.missing(b"def f(text: str, *args: int, **kw: str) -> str:\n    return text\n", ASK) is None
    assert asked.missing(b"    def m(self, n: int) -> int:\n        return n\n", ASK) is None
    assert asked.missing(b"    def __init__(self, n: int):\n        self.n = n\n", ASK) is None


def test_only_when_the_intent_asks_for_type_hints() -> None:
    assert asked.missing(b"def f(x):\n    return x\n", "Fix the off-by-one in f") is None
    assert asked.missing(b"def f(x):\n    return x\n", "annotate f") is not None


def test_a_new_functions_stub_has_its_def_line_and_the_parameters_the_intent_writes() -> None:
    intent = "Add a method Inventory.restock(sku, quantity) that adds quantity units"
    assert asked.stub("restock", member=True, intent=intent) == b"    def restock(self, sku, quantity):\n        ...\n"
    assert asked.stub("count_lines", member=False, intent="Add count_lines(text) to core.py") == (
        b"def count_lines(text):\n    ...\n"
    )
    assert asked.stub("total_units", member=True, intent="Add Inventory.total_units") == (
        b"    def total_units(self):\n        ...\n"
    )
    assert asked.stub("OutOfStockError", member=False, intent="x") == b""  # a class: no stub
    assert asked.stub("MAX_SIZE", member=False, intent="x") == b""


def test_a_definition_is_cut_out_of_an_answer_that_does_not_compile() -> None:
    """The 1.5B's whole-file answer for Item ended in a half-written Movement."""
    answer = (b'from dataclasses import dataclass\n\n@dataclass\nclass Item:\n    sku: str\n'
              b'    location: str = ""\n\n@dataclass(frozen=True)\nclass Movement:\n\n# astm-request: x\n')
    assert asked.section(answer, "Item") == b'@dataclass\nclass Item:\n    sku: str\n    location: str = ""\n'
    assert asked.section(answer, "Movement") is None  # broken itself
    assert asked.section(answer, "Missing") is None


def test_a_method_is_cut_out_of_its_class_written_back_with_empty_siblings() -> None:
    """The 1.5B, asked for Inventory.recent_movements, wrote the class back with every
    other method's body a comment (no Python) three times running, at temperature 0."""
    answer = (b"class Inventory:\n    def __init__(self) -> None:\n        self.movements = []\n\n"
              b"    def add(self, sku: str) -> Item:\n        # Implementation of add method\n\n"
              b"    def recent_movements(self, n: int = 10) -> list[Movement]:\n"
              b'        """The last N movements, newest first."""\n        return self.movements[-n:][::-1]\n')
    assert asked.section(answer, "recent_movements") == (
        b"    def recent_movements(self, n: int = 10) -> list[Movement]:\n"
        b'        """The last N movements, newest first."""\n        return self.movements[-n:][::-1]\n'
    )
    assert asked.section(answer, "add") is None  # broken itself
    assert asked.section(answer, "Inventory") is None  # the class is the node: nothing to cut
    # One definition, the node itself, with imports above: the usual reading applies.
    assert asked.section(b"import x\ndef f(:\n", "f") is None


def test_a_class_the_intent_calls_a_subclass_of_two_bases_has_both() -> None:
    intent = "Add an OutOfStockError exception (a subclass of InventoryError and ValueError) to errors.py"
    diag = asked.missing(b"class OutOfStockError(InventoryError):\n    pass\n", intent)
    assert diag is not None and diag.message == "OutOfStockError must also subclass ValueError"
    assert asked.missing(b"class OutOfStockError(InventoryError, ValueError):\n    pass\n", intent) is None
    assert asked.missing(b"class OutOfStockError(errors.InventoryError, ValueError):\n    pass\n", intent) is None
    assert asked.missing(b"def f(x):\n    return x\n", intent) is None  # no class: nothing to check
