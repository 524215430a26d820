"""Stock levels and stock movements for a small shop."""

from inventory.errors import InventoryError, UnknownItemError
from inventory.models import Item, Movement
from inventory.store import Inventory

__all__ = ["Inventory", "InventoryError", "Item", "Movement", "UnknownItemError"]
