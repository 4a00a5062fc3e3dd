"""benchmarks/sampler_study.py: every dataset's committed configuration passes the study's
checks, and a run writes where the results-folder rules say (the study itself replaced by a
fake that records its arguments)."""

from __future__ import annotations

import pytest

from spikegraph.experiments.study import runner
from tests.benchmarks.conftest import load

study = load("sampler_study")


@pytest.mark.parametrize("dataset", list(study.CONFIGS))
@pytest.mark.parametrize("quick", [False, True])
def test_every_committed_configuration_passes_the_checks(
    dataset, quick, tmp_path, tiny_arxiv_root, monkeypatch
):
    """Planned on the tiny graph in place of the dataset's: names, options, per-layer sizes,
    the budget and the memory estimate are checked as for the real run."""
    from spikegraph.datasets import load_dataset

    tiny = load_dataset("ogbn-arxiv", root=tiny_arxiv_root)
    monkeypatch.setattr(runner, "load_dataset", lambda *a, **k: tiny)
    monkeypatch.setattr(runner, "dataset_provenance", lambda *a, **k: None)
    args = study.study_arguments(dataset, quick)
    plan, jobs = runner.plan_study(**args, out=tmp_path / "out")
    rows = 1 + (len(study.QUICK_SAMPLERS) if quick else len(plan["samplers"]))
    seeds = 1 if quick else len(study.SEEDS)
    models = len(study.QUICK_MODELS if quick else study.MODELS)
    assert len(jobs) == models * rows * seeds
    assert plan["dataset"]["split"] == study.CONFIGS[dataset]["split"]
    assert plan["budget"] == (study.QUICK_BUDGET if quick else args["budget"]).to_dict()


@pytest.mark.parametrize(
    ("argv", "where"),
    [
        (["--dataset", "cora"], "scratch"),
        (["--dataset", "Cora", "--update-results"], "committed"),
        (["--dataset", "PubMed", "--quick"], "temporary"),
    ],
)
def test_a_run_writes_into_its_folder(argv, where, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(study, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(study, "SCRATCH", tmp_path / "results" / "local")
    seen = {}

    def fake(**kwargs):
        seen.update(kwargs)
        (kwargs["out"] / "study.md").parent.mkdir(parents=True, exist_ok=True)
        (kwargs["out"] / "study.md").write_text("# the report\n")
        return "result"

    monkeypatch.setattr(study, "run_sampler_study", fake)
    assert study.run(argv) == "result"
    dataset = "Cora" if "--quick" not in argv else "PubMed"
    out = seen["out"]
    if where == "scratch":
        assert out == tmp_path / "results" / "local" / "study" / dataset
    elif where == "committed":
        assert out == tmp_path / "results" / "study" / dataset
    else:
        assert not out.exists() and tmp_path not in out.parents  # removed after the run
        assert seen["seeds"] == [0] and seen["samplers"] == list(study.QUICK_SAMPLERS)
    assert seen["dataset"] == dataset
    assert seen["command"] == ["python", "benchmarks/sampler_study.py", *argv]
    assert "# the report" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dataset", "Nope"], "--dataset: unknown name 'Nope'"),
        (["--dataset", "Cora", "--quick", "--update-results"], "never replaces the committed"),
        (["--dataset", "Cora", "--jobs", "0"], "--jobs must be >= 1, got 0"),
    ],
)
def test_bad_options_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        study.run(argv)
    assert info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("dataset", list(study.CONFIGS))
def test_a_rerun_runs_the_models_the_committed_study_ran(dataset):
    """The script's pinned options, over today's registry defaults, give exactly the model
    configuration each committed ``study.json`` records, so rerunning one dataset's study
    cannot silently change the model its rows are compared under."""
    import json

    from spikegraph.experiments.node_classification import effective_model_options

    committed = json.loads((study.RESULTS / "study" / dataset / "study.json").read_text())
    recorded = committed["study"]["model_options"]
    args = study.study_arguments(dataset)
    assert sorted(recorded) == sorted(args["models"])
    for model in args["models"]:
        assert effective_model_options(model, args["model_options"][model]) == recorded[model]
