"""The errors the inventory raises."""

from __future__ import annotations


class InventoryError(Exception):
    """Base class of every inventory error."""


class UnknownItemError(InventoryError, KeyError):
    """No item has this SKU."""

    def __init__(self, sku: str) -> None:
        super().__init__(sku)
        self.sku = sku
