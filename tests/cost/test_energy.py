import math

import pytest
import torch
from torch_geometric.nn.models import GCN

from spikegraph.cost import PROFILES, EnergyProfile, count, get_profile

from .conftest import N, undirected_edges

# Horowitz, ISSCC 2014, 45 nm: energy of one addition and one multiplication, pJ.
HOROWITZ = {
    "45nm": (0.9, 3.7),  # 32-bit float
    "fp16": (0.4, 1.1),  # 16-bit float
    "int32": (0.1, 3.1),
    "int8": (0.03, 0.2),
}


@pytest.mark.parametrize("name", sorted(HOROWITZ))
def test_builtin_profiles_are_horowitz_add_and_mult(name):
    add, mult = HOROWITZ[name]
    p = get_profile(name)
    assert p.ac_pj == pytest.approx(add)
    assert p.mac_pj == pytest.approx(add + mult)
    assert "Horowitz" in p.source and "ISSCC 2014" in p.source


def test_default_profile_is_the_fields_45nm_pair():
    p = get_profile("45nm")
    assert (p.mac_pj, p.ac_pj) == (4.6, 0.9)
    assert get_profile("FP32") is p and get_profile("fp32") is p
    assert set(PROFILES) >= {"45nm", "fp16", "int8"}


def test_energy_arithmetic():
    p = get_profile("45nm")
    assert p.energy_pj(macs=10, acs=100) == pytest.approx(10 * 4.6 + 100 * 0.9)
    assert p.energy_pj(0, 0) == 0.0
    int8 = get_profile("int8")
    assert int8.energy_pj(1000, 1000) == pytest.approx(1000 * 0.23 + 1000 * 0.03)


def test_user_profile_prices_the_same_counts():
    torch.manual_seed(0)
    x, ei = torch.randn(N, 5), undirected_edges()
    report = count(GCN(5, 4, 2, 3), x, ei)
    mine = EnergyProfile("chip", mac_pj=2.0, ac_pj=0.5, source="datasheet of chip, table 3")
    other = report.with_profile(mine)
    assert (other.total.macs, other.total.acs) == (report.total.macs, report.total.acs)
    assert other.total.energy_pj == pytest.approx(2.0 * report.total.macs + 0.5 * report.total.acs)
    assert sum(r.energy_pj for r in other.layers) == pytest.approx(other.total.energy_pj)
    direct = count(GCN(5, 4, 2, 3), x, ei, profile=mine)
    assert direct.profile is mine


def test_energy_per_node_and_per_inference():
    torch.manual_seed(0)
    report = count(GCN(5, 4, 2, 3), torch.randn(N, 5), undirected_edges())
    t = report.total
    assert t.num_nodes == N and t.num_forwards == 1
    assert t.energy_per_node_pj == pytest.approx(t.energy_pj / N)
    assert t.energy_per_inference_pj == pytest.approx(t.energy_pj)


def test_unknown_profile_name():
    with pytest.raises(ValueError, match="Unknown energy profile 'tpu'"):
        get_profile("tpu")
    with pytest.raises(ValueError, match="Unknown energy profile 'tpu'"):
        count(GCN(5, 4, 2, 3), torch.randn(N, 5), undirected_edges(), profile="tpu")
    with pytest.raises(TypeError, match="'profile' must be a name or an EnergyProfile"):
        get_profile(4.6)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"mac_pj": -1.0}, ValueError, "'mac_pj' must be a finite, non-negative energy in pJ"),
        ({"ac_pj": -0.1}, ValueError, "'ac_pj' must be a finite, non-negative energy in pJ"),
        ({"ac_pj": math.nan}, ValueError, "'ac_pj' must be a finite"),
        ({"mac_pj": math.inf}, ValueError, "'mac_pj' must be a finite"),
        ({"mac_pj": "4.6"}, TypeError, "'mac_pj' must be a number, got str"),
        ({"source": ""}, ValueError, "needs a 'source'"),
        ({"name": " "}, ValueError, "non-empty 'name'"),
    ],
)
def test_bad_profiles(kwargs, error, match):
    args = {"name": "x", "mac_pj": 1.0, "ac_pj": 0.1, "source": "somewhere", **kwargs}
    with pytest.raises(error, match=match):
        EnergyProfile(**args)


def test_negative_counts_are_rejected():
    with pytest.raises(ValueError, match="Operation counts must be >= 0"):
        get_profile("45nm").energy_pj(macs=-1, acs=0)


# -- a custom profile never carries a built-in profile's name (audit F5) ---------------------


@pytest.mark.parametrize("name", ["45nm", "FP32", "int8", "horowitz"])
def test_a_custom_profile_cannot_take_a_builtin_name(name):
    with pytest.raises(ValueError, match=rf"{name!r} is the name of a built-in profile"):
        EnergyProfile(name, mac_pj=2.0, ac_pj=0.5, source="datasheet of chip")
    builtin = get_profile(name)
    same = EnergyProfile(name, builtin.mac_pj, builtin.ac_pj, "restated")
    assert (same.mac_pj, same.ac_pj) == (builtin.mac_pj, builtin.ac_pj)


def _cli_profile(monkeypatch, capsys, *options):
    """The profile ``spikegraph cost`` hands to the experiment for these options."""
    import spikegraph.experiments.cost as experiment
    from spikegraph.cli import main

    seen = []

    def stop(*args, profile, **kwargs):
        seen.append(profile)
        raise KeyboardInterrupt

    monkeypatch.setattr(experiment, "cost_comparison", stop)
    code = main(["cost", "--vs", "none", "--epochs", "0", *options])
    return seen[0] if seen else capsys.readouterr().err, code


def test_cli_custom_profile_is_named_custom_or_as_given(monkeypatch, capsys):
    figures = ["--mac-pj", "2", "--ac-pj", "0.5", "--profile-source", "my chip"]
    profile, _ = _cli_profile(monkeypatch, capsys, *figures)
    assert (profile.name, profile.mac_pj, profile.ac_pj) == ("custom", 2.0, 0.5)
    assert profile.source == "my chip"
    profile, _ = _cli_profile(monkeypatch, capsys, "--profile", "chip", *figures)
    assert profile.name == "chip"
    err, code = _cli_profile(monkeypatch, capsys, "--profile", "45nm", *figures)
    assert code == 2 and "'45nm' is the name of a built-in profile" in err
    assert _cli_profile(monkeypatch, capsys, "--profile", "int8")[0] is get_profile("int8")
