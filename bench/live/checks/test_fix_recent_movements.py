"""Inventory.recent_movements(n): the last n movements, newest first."""

from decimal import Decimal

from inventory import Inventory


def test_recent_movements_newest_first():
    inv = Inventory()
    inv.add("A1", "Apple crate", 10, Decimal(1))
    inv.add("B2", "Banana box", 5, Decimal(1))
    inv.remove("A1", 2)
    inv.remove("B2", 1)
    recent = inv.recent_movements(2)
    assert [(m.sku, m.delta) for m in recent] == [("B2", -1), ("A1", -2)]
    assert len(inv.recent_movements()) == 4
    assert inv.recent_movements(10)[-1].reason == "opening"
