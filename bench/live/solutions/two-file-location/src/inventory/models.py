"""The records the inventory keeps."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass
class Item:
    """One stocked product."""

    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    location: str = ""

    @property
    def value(self) -> Decimal:
        """What the stock of this item is worth."""
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class Movement:
    """One change of a stock level: positive in, negative out."""

    sku: str
    delta: int
    reason: str
