"""OutOfStockError(InventoryError, ValueError) raised by Inventory.remove."""

from decimal import Decimal

import pytest
from inventory import Inventory, InventoryError
from inventory.errors import OutOfStockError


def test_error_hierarchy():
    assert issubclass(OutOfStockError, InventoryError)
    assert issubclass(OutOfStockError, ValueError)


def test_remove_too_many_raises_it():
    inv = Inventory()
    inv.add("A1", "Apple crate", 2, Decimal(1))
    with pytest.raises(OutOfStockError):
        inv.remove("A1", 3)
    assert inv.get("A1").quantity == 2
