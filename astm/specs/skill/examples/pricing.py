# ruff: noqa: I001
"""Spec examples: a function spec with an explicit dependency, and a class spec."""

from decimal import Decimal

import astm
from shop.money import parse_money


@astm.magic(deps=[parse_money])
def price_with_tax(amount: str, rate: float) -> Decimal:
    """Parse `amount` ("$12.50" or "12.50") with `parse_money`, add `rate` (0.2 = 20%),
    and round half-up to cents. Raise ValueError on a negative amount."""


@astm.magic(prompt="Keep prices as Decimal; never convert them to float.")
class PriceBook:
    """Maps SKUs (str) to prices (Decimal). `add(sku, price)` stores or replaces a price;
    `get(sku)` returns it (KeyError if absent); `len(book)` is the number of SKUs."""
