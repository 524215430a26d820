"""The textkit command."""

from __future__ import annotations

import click
from textkit.core import initials as initials_of
from textkit.core import slugify, word_count


@click.group()
def main() -> None:
    """Small text helpers."""


@main.command()
@click.argument("text")
def slug(text: str) -> None:
    """Print the slug of TEXT."""
    click.echo(slugify(text))


@main.command()
@click.argument("text")
def count(text: str) -> None:
    """Print how many words TEXT holds."""
    click.echo(word_count(text))


@main.command()
@click.argument("name")
def initials(name: str) -> None:
    """Print the initials of NAME."""
    click.echo(initials_of(name))
