"""Validators by language and level. Only problems a change introduces count."""

from astm.validate.diagnostic import Diagnostic

__all__ = ["Diagnostic"]
