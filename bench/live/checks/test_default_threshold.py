"""Inventory.low_stock() defaults to a threshold of 10; an explicit one still works."""

from decimal import Decimal

from inventory import Inventory


def test_default_threshold_is_ten():
    inv = Inventory()
    inv.add("A1", "Apple crate", 7, Decimal(2))
    inv.add("B2", "Pear crate", 12, Decimal(3))
    assert [i.sku for i in inv.low_stock()] == ["A1"]
    assert inv.low_stock(5) == []
