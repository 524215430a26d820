"""Inventory.total_units(): the units in stock over all items."""

from decimal import Decimal

from inventory import Inventory


def test_total_units_sums_quantities():
    inv = Inventory()
    assert inv.total_units() == 0
    inv.add("A1", "Apple crate", 3, Decimal(2))
    inv.add("B2", "Pear crate", 4, Decimal(3))
    inv.remove("A1", 1)
    assert inv.total_units() == 6
