"""Tracks on disk: ``<git-common-dir>/astm/tracks/<id>.json``, written atomically.

The git common dir is shared by every worktree, survives a crash of astm (each save is a
temp file then ``os.replace``) and is never part of the working tree, so a track never
dirties the user's checkout. Ticket results stay reachable from
``refs/astm/tracks/<track>/<ticket>`` (see ``astm.workspace.chain``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from pathlib import Path

from pydantic import ValidationError

from astm.conductor.models import Track
from astm.errors import PlanError, UsageError
from astm.workspace.landing import slugify
from astm.workspace.repo import Repo

TRACK_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def tracks_dir(repo: Repo) -> Path:
    return repo.common / "astm" / "tracks"


def new_id(title: str) -> str:
    """``<slug of the title, 24 chars at most>-<4 hex>``: readable and unique enough."""
    slug = slugify(title)[:24].rstrip("-") or "track"
    return f"{slug}-{secrets.token_hex(2)}"


def save(repo: Repo, track: Track) -> Path:
    return write(repo, track.id, render(track))


def render(track: Track) -> str:
    """The track file's text as of now (its ``updated`` stamped)."""
    track.updated = time.time()
    return track.model_dump_json(indent=1, exclude_none=True) + "\n"


def write(repo: Repo, tid: str, text: str) -> Path:
    """``text`` as track ``tid``'s file: a temp file, then ``os.replace`` (never torn)."""
    d = tracks_dir(repo)
    d.mkdir(parents=True, exist_ok=True)
    final = d / f"{tid}.json"
    tmp = d / f".{tid}.json.tmp{os.getpid()}"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, final)
    return final


def path_of(repo: Repo, tid: str) -> Path:
    return tracks_dir(repo) / f"{tid}.json"


def resolve(repo: Repo, given: str) -> str:
    """A track id from a full id or a unique prefix; UsageError listing what exists."""
    if not TRACK_ID.fullmatch(given):
        raise UsageError(f"{given!r} is not a track id (see `astm track list`)")
    ids = ids_of(repo)
    if given in ids:
        return given
    hits = [i for i in ids if i.startswith(given)]
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise UsageError(f"track {given!r} is ambiguous: {', '.join(hits[:5])}")
    raise UsageError(f"no track {given!r} (see `astm track list`)")


def load(repo: Repo, given: str) -> Track:
    tid = resolve(repo, given)
    p = path_of(repo, tid)
    try:
        return Track.model_validate_json(p.read_text(encoding="utf-8"))
    except (OSError, ValueError, ValidationError, PlanError) as exc:
        first = str(exc).splitlines()[0]
        raise UsageError(f"track file is damaged: {first}", path=str(p)) from None


def ids_of(repo: Repo) -> list[str]:
    d = tracks_dir(repo)
    return sorted(p.stem for p in d.glob("*.json")) if d.is_dir() else []


def load_all(repo: Repo) -> list[Track]:
    """Every readable track, oldest first (a damaged file is skipped, not fatal)."""
    out = []
    for tid in ids_of(repo):
        try:
            out.append(Track.model_validate_json(path_of(repo, tid).read_text(encoding="utf-8")))
        except (OSError, ValueError, ValidationError, PlanError):
            continue
    return sorted(out, key=lambda t: t.created)


def delete(repo: Repo, tid: str) -> None:
    path_of(repo, tid).unlink(missing_ok=True)


def dump(track: Track) -> str:
    return json.dumps(json.loads(track.model_dump_json(exclude_none=True)), indent=2)
