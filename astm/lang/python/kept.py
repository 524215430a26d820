"""A few values kept by key, for threads: the last ``size`` made, the oldest dropped first.

A 3 MB module's tree-sitter tree, or a composed file's change against its base, is asked
for from several places in one run; keeping the last few saves re-making them. The value
is made outside the lock: two threads asking at once may each make it (both are right).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Kept(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self._size = size
        self._values: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, make: Callable[[], V]) -> V:
        """The value kept for ``key``, else ``make()``'s, then kept."""
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
        value = make()
        with self._lock:
            self._values[key] = value
            while len(self._values) > self._size:
                self._values.popitem(last=False)
        return value

    def peek(self, key: K) -> tuple[bool, V | None]:
        """Whether a value is kept for ``key``, and the value (nothing is made)."""
        with self._lock:
            if key in self._values:
                return True, self._values[key]
        return False, None

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
