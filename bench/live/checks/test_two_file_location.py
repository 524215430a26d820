"""Item.location (default ""), set through Inventory.add(..., location=...)."""

from decimal import Decimal

from inventory import Inventory, Item


def test_item_location_defaults_to_empty():
    assert Item("A1", "Apple crate", 1, Decimal(1)).location == ""


def test_add_stores_location():
    inv = Inventory()
    inv.add("A1", "Apple crate", 1, Decimal(1), location="Aisle 3")
    inv.add("B2", "Banana box", 1, Decimal(1))
    assert inv.get("A1").location == "Aisle 3"
    assert inv.get("B2").location == ""
