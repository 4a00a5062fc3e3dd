"""On-disk preprocessing caches (METIS partitions, GraphSAINT norms): no code from disk, a key
that covers everything the result depends on, atomic writes, checked content."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import torch

from spikegraph.samplers import (
    ClusterGCNSampler,
    GraphSAINTNodeSampler,
    GraphSAINTRandomWalkSampler,
)
from spikegraph.samplers.base import SamplerCacheError


def saint(graph, tmp_path, **kw):
    return GraphSAINTRandomWalkSampler(graph, 5, sample_coverage=10, cache_dir=tmp_path, **kw)


def cluster(graph, tmp_path, **kw):
    return ClusterGCNSampler(graph, 5, cache_dir=tmp_path, **kw)


BUILDERS = {"saint": saint, "cluster": cluster}


def only_cache_file(folder: Path) -> Path:
    files = [p for p in folder.iterdir() if p.suffix == ".pt"]
    assert len(files) == 1, files
    return files[0]


class _Payload:
    """Pickles to a call of ``os.system`` that creates a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_crafted_cache_file_runs_no_code(small_graph, tmp_path, kind):
    build = BUILDERS[kind]
    cache = tmp_path / "cache"
    build(small_graph, cache)
    path = only_cache_file(cache)
    marker = tmp_path / "marker"
    torch.save({"part": _Payload(marker)}, path)  # a replaced cache file
    with pytest.raises(SamplerCacheError, match=str(path.name)) as info:
        build(small_graph, cache)
    assert not marker.exists(), "loading the cache ran code from disk"
    assert str(path) in str(info.value)


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_truncated_or_garbage_cache_is_a_clear_error(small_graph, tmp_path, kind):
    build = BUILDERS[kind]
    build(small_graph, tmp_path)
    path = only_cache_file(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SamplerCacheError, match="delete it"):
        build(small_graph, tmp_path)
    torch.save([1, 2, 3], path)  # loads under weights_only, but is not a cache
    with pytest.raises(SamplerCacheError, match=str(path.name)):
        build(small_graph, tmp_path)


def test_tampered_partition_is_refused(small_graph, tmp_path):
    cluster(small_graph, tmp_path)
    path = only_cache_file(tmp_path)
    payload = torch.load(path, weights_only=True)
    good = payload["result"]["part"].clone()
    for bad, what in (
        (good[:-1], "60 entries"),
        (torch.full_like(good, 5), r"cluster id 5.*\[0, 5\)"),
        (good.float(), "int64"),
    ):
        payload["result"]["part"] = bad
        torch.save(payload, path)
        with pytest.raises(SamplerCacheError, match=what):
            cluster(small_graph, tmp_path)


def test_tampered_saint_counts_are_refused(small_graph, tmp_path):
    saint(small_graph, tmp_path)
    path = only_cache_file(tmp_path)
    payload = torch.load(path, weights_only=True)
    res = payload["result"]
    cases = [
        ("node_count", res["node_count"][:-1], "60 entries"),
        ("node_count", res["node_count"] - 10**6, "negative"),
        ("edge_count", res["edge_count"] + 10**6, "above"),
        ("edge_count", torch.full_like(res["edge_count"], res["num_samples"]), "more often than"),
        ("num_samples", 0, "num_samples"),
        ("mean_targets", float("nan"), "mean_targets"),
    ]
    for key, bad, what in cases:
        tampered = {**payload, "result": {**res, key: bad}}
        torch.save(tampered, path)
        with pytest.raises(SamplerCacheError, match=what):
            saint(small_graph, tmp_path)


def test_cache_copied_under_another_key_is_refused(small_graph, tmp_path):
    """A file renamed to another key's name does not stand in for it."""
    cluster(small_graph, tmp_path / "a")
    path_a = only_cache_file(tmp_path / "a")
    ClusterGCNSampler(small_graph, 4, cache_dir=tmp_path / "b")
    path_b = only_cache_file(tmp_path / "b")
    path_b.write_bytes(path_a.read_bytes())
    with pytest.raises(SamplerCacheError, match="another key"):
        ClusterGCNSampler(small_graph, 4, cache_dir=tmp_path / "b")


def test_key_covers_edge_weight(small_graph, tmp_path):
    g1 = small_graph.clone()
    g1.edge_weight = torch.ones(g1.num_edges)
    g2 = small_graph.clone()
    g2.edge_weight = torch.full((g2.num_edges,), 2.0)
    for build in BUILDERS.values():
        assert not build(g1, tmp_path).preprocess_cached
        assert build(g1, tmp_path).preprocess_cached
        assert not build(g2, tmp_path).preprocess_cached  # other weights: recomputed
        assert not build(small_graph, tmp_path).preprocess_cached  # no weights: recomputed


def test_key_covers_edge_index_content_and_num_nodes(small_graph, tmp_path):
    cluster(small_graph, tmp_path)
    other = small_graph.clone()
    other.edge_index = other.edge_index.flip(0)  # same bytes count, other content
    assert not cluster(other, tmp_path).preprocess_cached
    bigger = small_graph.clone()
    bigger.num_nodes = 61
    assert not cluster(bigger, tmp_path).preprocess_cached


def test_saint_key_covers_targets_and_seed(small_graph, tmp_path):
    """The loss norms depend on the target set and the estimate on the seed: neither may come
    from another configuration's cache."""
    all_nodes = saint(small_graph, tmp_path)
    half = torch.arange(30)
    fresh = saint(small_graph, tmp_path / "fresh", targets=half)
    cached = saint(small_graph, tmp_path, targets=half)
    assert not cached.preprocess_cached
    assert torch.equal(cached.norms.node_norm, fresh.norms.node_norm)
    assert not torch.equal(cached.norms.node_norm, all_nodes.norms.node_norm)
    assert not saint(small_graph, tmp_path, seed=1).preprocess_cached
    assert saint(small_graph, tmp_path, seed=1).preprocess_cached


def test_cached_sampler_draws_the_same_batches_as_an_uncached_one(small_graph, tmp_path):
    """Loading the norms leaves the random source where computing them would have."""
    plain = saint(small_graph, None)
    saint(small_graph, tmp_path)
    cached = saint(small_graph, tmp_path)
    assert cached.preprocess_cached
    for _ in range(3):
        assert torch.equal(plain.sample().n_id, cached.sample().n_id)
    for name in ("edge_norm", "node_norm", "node_count", "edge_count"):
        assert torch.equal(getattr(plain.norms, name), getattr(cached.norms, name))
    assert plain.norms.num_samples == cached.norms.num_samples
    assert plain.norms.mean_targets == cached.norms.mean_targets


def test_generator_seed_is_keyed_by_its_state(small_graph, tmp_path):
    def node(gen):  # the node sampler's closed-form norms need no cache: estimate them
        return GraphSAINTNodeSampler(
            small_graph, 10, norms="estimate", sample_coverage=5, seed=gen, cache_dir=tmp_path
        )

    gen = torch.Generator().manual_seed(3)
    a = node(gen)
    gen2 = torch.Generator().manual_seed(3)
    b = node(gen2)
    assert b.preprocess_cached and torch.equal(gen.get_state(), gen2.get_state())
    assert torch.equal(a.norms.node_norm, b.norms.node_norm)
    gen3 = torch.Generator().manual_seed(4)
    c = node(gen3)
    assert not c.preprocess_cached


def test_writes_use_unique_temporary_files(small_graph, tmp_path, monkeypatch):
    """Two writers of the same key never share a temporary file; the cache is replaced
    atomically and no temporary file is left behind."""
    sources = []
    real_replace = os.replace

    def spy(src, dst):
        sources.append(Path(src))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    cluster(small_graph, tmp_path / "a")
    cluster(small_graph, tmp_path / "b")
    (tmp_path / "b" / only_cache_file(tmp_path / "b").name).unlink()
    cluster(small_graph, tmp_path / "b")
    assert len(sources) == 3
    names = [p.name for p in sources]
    assert len(set(names)) == 3, names
    assert all(p.parent in (tmp_path / "a", tmp_path / "b") for p in sources)
    for folder in ("a", "b"):
        assert [p.name for p in (tmp_path / folder).iterdir()] == [
            only_cache_file(tmp_path / folder).name
        ]


def test_concurrent_writers_all_succeed(small_graph, tmp_path):
    results, errors = [], []

    def work():
        try:
            results.append(cluster(small_graph, tmp_path).part)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(torch.equal(r, results[0]) for r in results)
    assert cluster(small_graph, tmp_path).preprocess_cached
    only_cache_file(tmp_path)


def test_unwritable_cache_dir_warns_and_keeps_the_result(small_graph, tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with caplog.at_level("WARNING", logger="spikegraph.samplers.base"):
        s = cluster(small_graph, blocker)
    assert s.part.numel() == 60
    assert "could not write" in caplog.text and str(blocker) in caplog.text
