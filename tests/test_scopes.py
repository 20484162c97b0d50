"""One scope syntax everywhere (model/results/scopes.py): ``"target:billing"`` and the older
``("target", "billing")`` read the same figure from a run, a sweep and a tuning; a scope the result
does not have is a clear error that lists the scopes it has."""

from __future__ import annotations

import pickle

import pytest

from helpers import AGENTS, TIMEOUT, TINY
from model.errors import TransferSimError
from model.results.scopes import (ScopeError, UnknownScope, derive_scopes, parse_scope, scope_text, scope_words,
                                  scopes_in)
from model.scenario import scenario_from_dict

TAR = "transfer_abandonment_rate"


@pytest.fixture(scope="module")
def tiny():
    import tomllib

    return scenario_from_dict(tomllib.loads(TINY))


@pytest.fixture(scope="module")
def result(tiny):
    from model.sim import simulate

    return simulate(tiny, replications=3, interval="30m")


@pytest.mark.parametrize("text, expected", [
    ("overall", ("overall", "all")), ("overall:all", ("overall", "all")), (" overall ", ("overall", "all")),
    ("target:billing", ("target", "billing")), ("service:support", ("service", "support")),
    ("group:billing", ("group", "billing")), ("target:agent:anna", ("target", "agent:anna")),
    ("target: billing ", ("target", "billing")),
])
def test_every_form_of_a_scope_reads_as_kind_and_key(text, expected) -> None:
    assert parse_scope(text) == expected
    assert parse_scope(*expected) == expected  # the two-argument form is the same scope
    assert parse_scope(scope_text(*expected)) == expected


@pytest.mark.parametrize("bad", ["target", "target:", "nowhere", "billing", "tech:billing", "", ":x", "group: "])
def test_a_badly_written_scope_says_the_forms(bad) -> None:
    with pytest.raises(ScopeError, match="scope") as info:
        parse_scope(bad)
    assert isinstance(info.value, TransferSimError) and isinstance(info.value, ValueError)


def test_both_forms_at_once_and_non_text_are_refused() -> None:
    with pytest.raises(ScopeError, match="not both"):
        parse_scope("target:billing", "billing")
    with pytest.raises(ScopeError):
        parse_scope(None)  # type: ignore[arg-type]
    with pytest.raises(ScopeError, match="needs a name"):
        parse_scope("target")


def test_a_run_reads_the_same_figure_in_both_forms(result) -> None:
    assert result.metric(TAR, "target:billing") == result.metric(TAR, "target", "billing")
    assert result.metric(TAR) == result.metric(TAR, "overall") == result.metric(TAR, "overall", "all")
    assert result.table("target:billing").equals(result.table("target", "billing"))
    assert result.by_interval(TAR, "target:billing").equals(result.by_interval(TAR, "target", "billing"))
    assert result.metric("agent_occupancy", "group:billing")[0] > 0


def test_an_unknown_scope_lists_the_scopes_the_run_has(result) -> None:
    for call in (lambda: result.metric(TAR, "target:tech"), lambda: result.table("target:tech"),
                 lambda: result.by_interval(TAR, "target:tech"), lambda: result.metric(TAR, "target", "tech")):
        with pytest.raises(UnknownScope) as info:
            call()
        err = info.value
        assert isinstance(err, KeyError) and isinstance(err, TransferSimError)
        text = str(err)
        assert text.startswith("no scope 'target:tech' in this result") and not text.startswith("'")
        for have in ("overall", "service:support", "target:billing", "group:frontline", "group:billing"):
            assert have in text, have
        assert pickle.loads(pickle.dumps(err)).args == err.args  # crosses a process boundary whole
    with pytest.raises(ScopeError):
        result.metric(TAR, "target")  # a kind without its name is a typing mistake, not a missing scope
    with pytest.raises(KeyError, match="no metric 'nope' for target:billing"):
        result.metric("nope", "target:billing")


def test_scopes_in_lists_overall_first_then_each_kind_by_name(result) -> None:
    scopes = scopes_in(result.metrics)
    assert scopes[0] == "overall"
    assert scopes == ["overall", "service:support", "target:billing", "target:frontline", "group:billing",
                      "group:frontline"]


def test_a_sweep_reads_the_same_figure_in_both_forms(tiny) -> None:
    from model.experiments import run_sweep

    res = run_sweep(tiny, {AGENTS: [1, 2]}, 2, executor="serial", progress=False)
    assert res.metric(TAR, "target:billing").equals(res.metric(TAR, "target", "billing"))
    with pytest.raises(UnknownScope, match="no scope 'target:tech' in this sweep; its scopes: overall, "):
        res.metric(TAR, "target:tech")


def test_tuning_reads_the_scope_from_the_one_parser_and_derives_it_from_the_parameter(tiny) -> None:
    from model.experiments import ExperimentError
    from model.experiments import tuning

    assert tuning.parse_scope is parse_scope  # re-exported: imports from tuning keep working
    assert tuning.tune_scope(tiny, AGENTS, None)[:2] == ("target", "billing")
    assert "derived from groups.billing.agents" in tuning.tune_scope(tiny, AGENTS, None)[2]
    kind, key, why = tuning.tune_scope(tiny, TIMEOUT, None)
    assert (kind, key) == ("overall", "all") and "not the staffing of a group that receives transfers" in why
    assert tuning.tune_scope(tiny, "groups.frontline.agents", None)[:2] == ("overall", "all")
    assert tuning.tune_scope(tiny, AGENTS, "service:support") == ("service", "support", "as given")
    with pytest.raises(ExperimentError, match="scope"):
        tuning.tune_scope(tiny, AGENTS, "billing")


def test_derived_scopes_follow_the_varied_groups_that_receive_transfers() -> None:
    targets = ["billing", "tech", "agent:anna"]
    assert derive_scopes(["groups.tech.agents"], targets) == ["target:tech"]
    assert derive_scopes([TIMEOUT, "groups.tech.agents"], targets) == ["target:tech"]
    assert derive_scopes(["groups.tech.agents", "groups.billing.max_concurrent", "groups.tech.routing"],
                         targets) == ["target:tech", "target:billing"]
    assert derive_scopes(["agents.anna.max_concurrent"], targets) == ["target:agent:anna"]
    assert derive_scopes(["groups.frontline.agents", TIMEOUT], targets) == ["overall"]
    assert derive_scopes([], targets) == ["overall"] and derive_scopes(["groups"], targets) == ["overall"]


def test_scopes_in_words() -> None:
    assert scope_words("overall", "all") == "all contacts"
    assert scope_words("target", "tech") == "transfers to tech"
    assert scope_words("target", "agent:anna") == "transfers to the agent anna"
    assert scope_words("service", "support") == "contacts of the support service"
    assert scope_words("group", "tech") == "the tech group's agents"
