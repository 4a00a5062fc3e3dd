"""A study proposes only the neuron options its neuron takes: ``--fix neuron=NAME`` with a
registered neuron that has no ``tau`` or ``reset`` tunes without them (each trial used to be
built with both and fail with ``MessagePassing.__init__() got an unexpected keyword argument
'reset'``), while the built-in models' spaces, with their own or any built-in neuron, stay
exactly as the committed sweep records state them."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
import torch

optuna = pytest.importorskip("optuna")

from spikegraph.cli import main  # noqa: E402
from spikegraph.experiments import tune  # noqa: E402
from spikegraph.models.search_space import SPACE_VERSIONS  # noqa: E402
from spikegraph.nn.neurons import NEURONS, CountingRule, SpikingNeuron  # noqa: E402
from tests.experiments.test_tune import config, url  # noqa: E402

RESULTS = Path(__file__).parents[2] / "benchmarks" / "results"


class Draws:
    """A trial that takes the last choice and the upper bound of every parameter."""

    def __init__(self) -> None:
        self.params: dict = {}

    def suggest_categorical(self, name, choices):
        self.params[name] = choices[-1]
        return choices[-1]

    def suggest_float(self, name, low, high, step=None, log=False):
        self.params[name] = high
        return high

    def suggest_int(self, name, low, high, step=1, log=False):
        self.params[name] = high
        return high


@pytest.fixture
def myif():
    """The user trial's neuron: integrate-and-fire with a threshold, no ``tau``/``reset``;
    and one that takes ``tau`` but not ``reset``. Registered for the test only."""

    class MyIF(SpikingNeuron, name="test-myif"):
        def __init__(self, v_threshold: float = 1.0) -> None:
            super().__init__()
            self.v_threshold = v_threshold

        def multistep(self, x, steps=None):
            x = x.expand(steps, *x.shape) if steps else x
            return (x.cumsum(0) >= self.v_threshold).to(x.dtype)

        def counting_rule(self):
            return CountingRule(1.0, "soft")

    class Leaky(MyIF, name="test-leaky"):
        def __init__(self, tau: float = 2.0, v_threshold: float = 1.0) -> None:
            super().__init__(v_threshold)
            self.tau = tau

    class Bare(MyIF, name="test-bare"):
        def __init__(self) -> None:
            super().__init__(1.0)

    try:
        yield MyIF
    finally:
        for name in ("test-myif", "test-leaky", "test-bare"):
            NEURONS.pop(name, None)


def names(space) -> list[str]:
    return [p.name for p in space]


def test_a_fixed_neuron_is_proposed_only_the_options_it_takes(myif):
    full = names(config("sgcn").space)
    assert {"tau", "reset"} <= set(full)
    held = config("sgcn", fixed={"neuron": "test-myif"})
    assert names(held.space) == [n for n in full if n not in ("tau", "reset")]
    drawn = tune.sample_params(Draws(), "sgcn", held.fixed)
    assert "tau" not in drawn and "reset" not in drawn
    assert drawn["T"] == 16 and drawn["norm"] == "tdbn"  # the rest is drawn as before
    # the record lists the space the study searches
    assert [p["name"] for p in held.to_dict()["space"]] == names(held.space)
    # a neuron that takes tau but not reset keeps tau only
    leaky = config("sgat", fixed={"neuron": "test-leaky"})
    assert "tau" in names(leaky.space) and "reset" not in names(leaky.space)
    drawn = tune.sample_params(Draws(), "sgat", leaky.fixed)
    assert drawn["tau"] == math.inf and "reset" not in drawn
    # the threshold the paper's models tune without STFN is the neuron's option too
    assert "v_threshold" in names(config("gcsnn", fixed={"norm": "none"}).space)
    mine = config("gcsnn", fixed={"norm": "none", "neuron": "test-myif"})
    assert "v_threshold" in names(mine.space)
    bare = config("gcsnn", fixed={"norm": "none", "neuron": "test-bare"})
    assert names(bare.space) == [n for n in names(mine.space) if n != "v_threshold"]
    assert "v_threshold" not in tune.sample_params(Draws(), "gcsnn", bare.fixed)


def test_a_trial_of_a_fixed_neuron_without_tau_or_reset_builds_and_trains(myif, toy):
    cfg = config("sgcn", trials=2, epochs=1, fixed={"neuron": "test-myif"})
    params = tune.sample_params(Draws(), "sgcn", cfg.fixed)
    data = tune.preprocess_features(toy, params["features"])
    (run,) = tune.train_runs(data, 3, "sgcn", params, (0,), 1, None, fixed=cfg.fixed)
    assert 0.0 <= run.val_acc <= 1.0 and run.epochs_run == 1
    assert run.firing_rates is not None


def test_cli_tunes_with_a_fixed_neuron_that_takes_no_tau_or_reset(myif, tmp_path, toy, capsys):
    out = tmp_path / "r.json"
    argv = ["tune", "--model", "sgcn", "--fix", "neuron=test-myif", "--trials", "2"]
    argv += ["--epochs", "1", "--seeds", "0", "--storage", url(tmp_path), "--records", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    records = tune.read_records(out)
    assert records["config"]["fixed"] == {"neuron": "test-myif"}
    assert [t["state"] for t in records["trials"]] == ["COMPLETE", "COMPLETE"]
    for trial in records["trials"]:
        assert not {"tau", "reset"} & set(trial["params"]), trial["params"]
        assert {"T", "norm", "lr"} <= set(trial["params"])
    assert "tau" not in [p["name"] for p in records["config"]["space"]]


def test_the_fixed_options_check_builds_only_what_trials_can_draw(myif, monkeypatch):
    """The check of the fixed options builds the model with the registry's defaults and,
    where that fails, with drawn parameters: those are drawn as trials draw them, so a
    neuron is never built with an option it does not take."""
    seen = []

    def refuse(name, i, o, **options):
        seen.append(options)
        raise ValueError("no")

    monkeypatch.setattr(tune, "build_model", refuse)
    with pytest.raises(ValueError, match=r"\(neuron='test-myif'\) are refused by model 'sgcn'"):
        config("sgcn", fixed={"neuron": "test-myif"})
    assert len(seen) == 33
    assert not any({"tau", "reset"} & set(options) for options in seen)
    assert any("T" in options for options in seen)


def _fingerprint() -> tuple[str, int]:
    """Every space a study of a built-in model searches (the record's ``space``) and the
    parameters a trial draws from it, for each space version, with the model's own neuron
    and each built-in neuron held fixed (and ``norm="none"`` where the norm is not tuned)."""
    rows = []
    for version, spaces in SPACE_VERSIONS.items():
        for model in spaces:
            tuned = {p.name for v in SPACE_VERSIONS.values() for p in v.get(model, ())}
            variants: list[dict] = [{}]
            if "T" in tuned:
                variants += [{"neuron": n} for n in ("lif", "plif", "alif")]
                if "norm" not in tuned:
                    variants.append({"norm": "none"})
            for fixed in variants:
                cfg = config(model, trials=1, epochs=1, fixed=fixed, space_version=version)
                drawn = tune.sample_params(Draws(), model, cfg.fixed, version)
                space = cfg.to_dict()["space"]
                rows.append([version, model, fixed, space, sorted(drawn.items(), key=str)])
    text = json.dumps(rows, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest(), len(rows)


def test_the_built_in_spaces_are_unchanged():
    # computed at 0ad495d, before neuron options were drawn only for neurons taking them
    assert _fingerprint() == (
        "89ff1f2a7cbdabb500dda52ff99baa5996fc7689a95cba623acaf7c5bcae80c1",
        105,
    )


def test_the_committed_sweep_records_state_the_spaces_studies_search_now():
    paths = sorted(RESULTS.glob("**/sweeps/*.json"))
    assert len(paths) >= 30
    versions = set()
    for path in paths:
        stored = json.loads(path.read_text())["config"]
        cfg = tune.StudyConfig.from_dict(stored)  # refuses a record whose space differs
        assert [p.to_dict() for p in cfg.space] == stored["space"], path.name
        versions.add(cfg.space_version)
    assert versions >= {2, 3}


def test_the_neuron_a_study_holds_is_built_as_the_record_says(myif, toy):
    # the selected configuration of such a study rebuilds the user's neuron
    cfg = config("sgcn", fixed={"neuron": "test-myif"})
    params = tune.sample_params(Draws(), "sgcn", cfg.fixed)
    model_options, _ = tune.trial_options("sgcn", params, cfg.fixed)
    assert model_options["neuron"] == "test-myif" and "tau" not in model_options
    torch.manual_seed(0)
    net = tune.build_model("sgcn", 6, 3, **model_options)
    neurons = [m for m in net.modules() if isinstance(m, SpikingNeuron)]
    assert neurons and all(type(m) is myif for m in neurons)
