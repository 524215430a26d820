from decimal import Decimal

import pytest
from inventory import Inventory, UnknownItemError


def make() -> Inventory:
    inv = Inventory()
    inv.add("A1", "Apple crate", 10, Decimal("4.50"))
    inv.add("B2", "Banana box", 3, Decimal("6.00"))
    return inv


def test_add_and_get():
    inv = make()
    assert inv.get("A1").name == "Apple crate"


def test_add_twice_is_refused():
    inv = make()
    with pytest.raises(ValueError):
        inv.add("A1", "Apple crate", 1, Decimal(1))


def test_unknown_sku():
    with pytest.raises(UnknownItemError):
        make().get("Z9")


def test_remove_lowers_stock_and_records_movement():
    inv = make()
    inv.remove("A1", 4)
    assert inv.get("A1").quantity == 6
    assert inv.movements[-1].delta == -4


def test_total_value():
    assert make().total_value() == Decimal("63.00")


def test_low_stock():
    assert [item.sku for item in make().low_stock()] == ["B2"]
