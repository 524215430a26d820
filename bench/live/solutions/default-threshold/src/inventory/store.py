"""The inventory: items by SKU and the movements that changed them."""

from __future__ import annotations

from decimal import Decimal

from inventory.errors import UnknownItemError
from inventory.models import Item, Movement


class Inventory:
    """Items by SKU, and every stock movement in the order it happened."""

    def __init__(self) -> None:
        self.items: dict[str, Item] = {}
        self.movements: list[Movement] = []

    def add(self, sku: str, name: str, quantity: int, unit_price: Decimal) -> Item:
        """Register a new item with its opening stock."""
        if sku in self.items:
            raise ValueError(f"item {sku} already exists")
        item = Item(sku, name, quantity, unit_price)
        self.items[sku] = item
        self.movements.append(Movement(sku, quantity, "opening"))
        return item

    def get(self, sku: str) -> Item:
        """The item with this SKU."""
        try:
            return self.items[sku]
        except KeyError:
            raise UnknownItemError(sku) from None

    def remove(self, sku: str, quantity: int, reason: str = "sale") -> None:
        """Take QUANTITY units of an item out of stock."""
        item = self.get(sku)
        if quantity > item.quantity:
            raise ValueError(f"only {item.quantity} of {sku} in stock")
        item.quantity -= quantity
        self.movements.append(Movement(sku, -quantity, reason))

    def total_value(self) -> Decimal:
        """What the whole stock is worth."""
        return sum((item.value for item in self.items.values()), Decimal(0))

    def low_stock(self, threshold: int = 10) -> list[Item]:
        """Items whose quantity is below THRESHOLD, by SKU."""
        return sorted(
            (item for item in self.items.values() if item.quantity < threshold),
            key=lambda item: item.sku,
        )

    def recent_movements(self, n: int = 10) -> list[Movement]:
        """The last N movements, newest first."""
        return self.movements[:n]
