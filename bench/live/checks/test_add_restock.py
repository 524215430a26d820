"""Inventory.restock(sku, quantity) adds stock and records a "restock" movement."""

from decimal import Decimal

import pytest
from inventory import Inventory, UnknownItemError


def test_restock_adds_and_records():
    inv = Inventory()
    inv.add("A1", "Apple crate", 3, Decimal(2))
    inv.restock("A1", 7)
    assert inv.get("A1").quantity == 10
    last = inv.movements[-1]
    assert (last.sku, last.delta, last.reason) == ("A1", 7, "restock")


def test_restock_unknown_sku():
    with pytest.raises(UnknownItemError):
        Inventory().restock("Z9", 1)
