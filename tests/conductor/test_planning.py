"""Planning a track: the model's structured answer (one call, one retry with the error),
through a deterministic provider and through the real client against the loopback server;
the track store under the git common dir."""

from __future__ import annotations

import json
from pathlib import Path

import openai_server as loopback
import pytest
from conftest import Snapshot
from openai_server import LoopbackServer
from trackkit import project, track_id

from astm.conductor import planner, store
from astm.conductor.models import Ticket, Track
from astm.config import Settings
from astm.core.plan import Plan
from astm.errors import ModelError, PlanError, UsageError
from astm.llm.openai_provider import OpenAIProvider
from astm.llm.plan_provider import PlanProvider
from astm.workspace.repo import Repo

openai_server = loopback.openai_server

FILES = {"shop/prices.py", "pyproject.toml"}
GOOD = {
    "title": "Tax",
    "description": "add tax",
    "tickets": [
        {"id": "stub", "archetype": "contract_stubber", "targets": ["shop/prices.py"], "prompt": "stub tax"},
        {"id": "impl", "archetype": "implementer", "targets": ["shop/prices.py::tax"], "prompt": "implement tax"},
    ],
}


def test_a_model_track_is_validated_and_stub_first_added() -> None:
    provider = PlanProvider(Plan(), answers=[GOOD])
    track, _ = planner.from_model("add tax", provider, base="ab" * 20, files=FILES)
    assert [t.id for t in track.tickets] == ["stub", "impl"]
    assert track.ticket("impl").depends_on == ["stub"]  # shares a file with the stub
    assert track.intent == "add tax" and track.base == "ab" * 20 and track.status == "planned"
    assert len(provider.prompts) == 1
    assert "Intent: add tax" in provider.prompts[0] and "shop/prices.py" in provider.prompts[0]


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({**GOOD, "tickets": [GOOD["tickets"][0], GOOD["tickets"][0]]}, "duplicate ticket id 'stub'"),
        ({**GOOD, "tickets": [{**GOOD["tickets"][0], "depends_on": ["impl"]},
                              {**GOOD["tickets"][1], "depends_on": ["stub"]}]}, "dependency cycle: stub -> impl -> stub"),
        ({**GOOD, "tickets": [{**GOOD["tickets"][1], "targets": ["shop/missing.py"]}]},
         "ticket impl: target shop/missing.py does not exist"),
    ],
)
def test_a_broken_track_is_asked_once_more_with_the_error(bad: dict, error: str) -> None:
    provider = PlanProvider(Plan(), answers=[bad, GOOD])
    track, _ = planner.from_model("add tax", provider, base="ab" * 20, files=FILES)
    assert track.title == "Tax"
    assert f"Your previous track was rejected: {error}" in provider.prompts[1]
    provider = PlanProvider(Plan(), answers=[bad, bad])
    with pytest.raises(PlanError, match=f"the model's track is not valid: {error}"):
        planner.from_model("add tax", provider, base="ab" * 20, files=FILES)


def test_scripted_answers_that_do_not_match() -> None:
    with pytest.raises(ModelError, match="no structured answer"):
        planner.from_model("x", PlanProvider(Plan()), base="ab" * 20, files=FILES)
    with pytest.raises(ModelError, match="does not match TrackAnswer"):
        planner.from_model("x", PlanProvider(Plan(), answers=["{}"]), base="ab" * 20, files=FILES)


def test_the_real_client_retries_a_non_json_answer_once(openai_server: LoopbackServer) -> None:
    settings = Settings(model="big", router_model="small", base_url=openai_server.base_url, http_retries=0)
    openai_server.enqueue("Sure! Here are the tickets: stub, then impl.")
    openai_server.enqueue(GOOD)
    track, usage = planner.from_model("add tax", OpenAIProvider(settings, api_key="k"), base="ab" * 20, files=FILES)
    assert [t.id for t in track.tickets] == ["stub", "impl"] and usage.prompt == 22
    first, second = openai_server.requests
    assert first.body["model"] == "small"  # structured answers go to the router model
    assert first.body["response_format"]["json_schema"]["name"] == "trackanswer"
    assert "That answer is not valid" in second.body["messages"][-1]["content"]
    openai_server.enqueue("not json", times=6)  # every mode of the ladder, each with its retry
    with pytest.raises(ModelError, match="TrackAnswer: .*did not match the schema"):
        planner.from_model("add tax", OpenAIProvider(settings, api_key="k"), base="ab" * 20, files=FILES)


def test_astm_track_intent_through_the_loopback_model(astm, tmp_path: Path, openai_server: LoopbackServer,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    repo = project(tmp_path)
    before = Snapshot.take(repo)
    monkeypatch.setenv("ASTM_MODEL", "m")
    monkeypatch.setenv("ASTM_BASE_URL", openai_server.base_url)
    openai_server.enqueue(GOOD)
    res = astm("track", "add tax", cwd=repo)
    assert res.code == 0, res.err
    tid = track_id(res.out)
    assert f"run it: astm track run {tid}" in res.out
    assert store.load(Repo.open(repo), tid).tickets[1].depends_on == ["stub"]
    before.assert_unchanged(repo)  # the track lives under .git/astm: the checkout is clean
    openai_server.enqueue("[1, 2", times=6)  # every mode of the ladder, each with its retry
    res = astm("track", "add tax", cwd=repo)
    assert res.code == 3 and len(res.err.strip().splitlines()) == 1 and "did not match the schema" in res.err


def test_store_round_trip_prefixes_and_damage(tmp_path: Path) -> None:
    repo = Repo.open(project(tmp_path))
    t1 = Track(id=store.new_id("Add tax!"), title="Add tax!",
               tickets=[Ticket(id="a", targets=["x.py"], prompt="p")])
    assert t1.id.startswith("add-tax-")
    path = store.save(repo, t1)
    assert path == repo.common / "astm" / "tracks" / f"{t1.id}.json"
    assert store.load(repo, t1.id[:6]) == t1
    t2 = t1.model_copy(update={"id": t1.id[:-4] + "zzzz"})
    store.save(repo, t2)
    with pytest.raises(UsageError, match="is ambiguous"):
        store.resolve(repo, "add-tax")
    with pytest.raises(UsageError, match="is not a track id"):
        store.resolve(repo, "../etc")
    store.path_of(repo, t2.id).write_text("{torn")
    with pytest.raises(UsageError, match=f"{t2.id}.json: track file is damaged"):
        store.load(repo, t2.id)
    data = json.loads(store.path_of(repo, t1.id).read_text())
    data["tickets"] *= 2  # a hand edit that duplicates a ticket
    store.path_of(repo, t2.id).write_text(json.dumps(data))
    with pytest.raises(UsageError, match="track file is damaged: duplicate ticket id"):
        store.load(repo, t2.id)
    assert [t.id for t in store.load_all(repo)] == [t1.id]  # the damaged one is skipped
    assert not list((repo.common / "astm" / "tracks").glob(".*tmp*"))


def test_track_plan_files(tmp_path: Path) -> None:
    p = tmp_path / "t.json"
    with pytest.raises(PlanError, match="cannot read track plan"):
        planner.load_plan(p)
    p.write_bytes(b"\xff\xfe")
    with pytest.raises(PlanError, match="not UTF-8"):
        planner.load_plan(p)
    p.write_text(json.dumps({"title": "x", "tickets": [], "extra": 1}))
    with pytest.raises(PlanError, match="invalid track plan at tickets"):
        planner.load_plan(p)
