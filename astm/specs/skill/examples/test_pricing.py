# ruff: noqa: F401, I001  (the names are used by the specs' docstrings)
"""Test spec examples: the docstring lists the checks; the stub is never collected."""

import astm
from shop.pricing import PriceBook, price_with_tax


@astm.test()
def test_price_with_tax() -> None:
    """price_with_tax("$10", 0.2) == Decimal("12.00"); price_with_tax("0.005", 0) rounds
    half-up to Decimal("0.01"); a negative amount raises ValueError."""


@astm.test()
def test_price_book() -> None:
    """After add("a", Decimal("1.50")), get("a") == Decimal("1.50") and len() == 1;
    add("a", Decimal("2")) replaces it; get("missing") raises KeyError."""
