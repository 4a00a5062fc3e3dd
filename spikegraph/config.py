"""The one reader of TOML configuration files: tuned settings of models, benchmark configs.

A configuration holds one table per registered model (:data:`spikegraph.models.MODELS`) with
the sub-tables ``model`` (constructor options, see :func:`spikegraph.models.build_model`) and
``train`` (:class:`spikegraph.train.TrainConfig` fields but the run settings ``seed``,
``device`` and ``progress``, which are the command's: ``spikegraph cost --seed``,
``--device``, ``--no-progress``), and per dataset a table
``[model.Dataset]`` with the same sub-tables that overrides them on that dataset::

    [sgcn.model]
    hidden_channels = 64
    T = 8

    [sgcn.train]
    lr = 0.01

    [sgcn.PubMed.train]
    weight_decay = 1e-3

Everything is checked when the file is read: an unknown table, model, dataset, sub-table,
training field or model option is an error naming the file, the key and what was expected,
so a misspelt setting never silently falls back to a default. A dataset's name may be
written in any case, but only once per model: ``[sgcn.Cora]`` beside ``[sgcn.cora]`` is an
error naming both, not one of them silently used.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SECTIONS = ("model", "train")
#: :class:`~spikegraph.train.TrainConfig` fields a ``train`` table may not set, with the
#: command-line options that set them: the command that reads the file sets them per run,
#: and the file's value would silently lose to the command's default (or win over what the
#: command line said).
RUN_FIELDS = {
    "seed": "spikegraph cost --seed N, spikegraph train --seeds N ...",
    "device": "spikegraph cost --device DEVICE, spikegraph train --device DEVICE",
    "progress": "spikegraph cost --no-progress, spikegraph train --no-progress",
}
#: Top-level tables that are not a model's but are read by the benchmark scripts from the
#: same file (``benchmarks/configs/node_classification.toml``); readers of model settings
#: skip them.
OTHER_TABLES = ("ablation",)


class ConfigError(ValueError):
    """A configuration file is not valid TOML or holds a key that means nothing."""


def read_toml(path: str | os.PathLike) -> dict[str, Any]:
    """The parsed TOML file ``path``.

    Raises:
        FileNotFoundError: ``path`` does not exist or is a folder.
        ConfigError: the file is not valid UTF-8 TOML (naming the file and the parser's
            message).
    """
    p = Path(path)
    if not p.is_file():
        what = "is a folder" if p.is_dir() else "does not exist"
        raise FileNotFoundError(f"Config file {path} {what}; give a TOML file of options")
    try:
        with open(p, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"Config file {path} is not valid TOML: {err}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"Config file {path} is not valid TOML (not UTF-8 text)") from err


def _unknown(source: str, where: str, key: str, valid: Iterable[str]) -> ConfigError:
    valid = sorted(valid, key=str.lower)
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(
        f"{source}: unknown {where} {key!r}{hint}; expected one of {', '.join(valid)}"
    )


def _table(value: Any, source: str, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: [{name}] must be a table, got {value!r}")
    return value


def _toml_value(value: Any) -> str:
    """``value`` as TOML writes it (``false``, ``"cpu"``, ``3``), for errors quoting a line."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def _check_sections(model: str, table: dict[str, Any], source: str, name: str) -> None:
    from spikegraph.models.options import check_model_option_names
    from spikegraph.train.trainer import TrainConfig

    train_fields = {f.name for f in fields(TrainConfig)}
    if "model" in table:
        options = _table(table["model"], source, f"{name}.model")
        try:
            check_model_option_names(model, options)
        except ValueError as err:
            raise ConfigError(f"{source}: [{name}.model]: {err}") from err
    if "train" in table:
        for key, value in _table(table["train"], source, f"{name}.train").items():
            if key in RUN_FIELDS:
                raise ConfigError(
                    f"{source}: [{name}.train] {key} = {_toml_value(value)}: a run's {key} is "
                    "not a file setting (the command's would silently replace it); give it on "
                    f"the command line: {RUN_FIELDS[key]}"
                )
            if key not in train_fields:
                raise _unknown(
                    source, f"training field in [{name}.train]", key, train_fields - {*RUN_FIELDS}
                )


def check_config(
    config: dict[str, Any], source: str = "config", extra_tables: Iterable[str] = ()
) -> dict[str, Any]:
    """Check a parsed configuration (see the module docstring); returns it.

    Args:
        config: The parsed TOML.
        source: What to call it in errors (the file name).
        extra_tables: Top-level tables the caller reads itself (e.g. a benchmark's
            ``ablation``); they are not checked here.

    Raises:
        ConfigError: naming the first key that means nothing.
    """
    from spikegraph.datasets.registry import DATASETS
    from spikegraph.models.registry import MODELS

    extra = set(extra_tables)
    datasets = {d.lower(): d for d in DATASETS}
    for model, table in config.items():
        if model in extra:
            continue
        if model not in MODELS:
            raise _unknown(source, "table (model name)", model, [*MODELS, *extra])
        table = _table(table, source, model)
        _check_sections(model, table, source, model)
        for key, sub in table.items():
            if key in SECTIONS:
                continue
            if key.lower() not in datasets:
                raise _unknown(
                    source,
                    f"key in [{model}] (a section or a dataset)",
                    key,
                    [*SECTIONS, *DATASETS],
                )
            _check_one_spelling(table, model, key, source)
            sub = _table(sub, source, f"{model}.{key}")
            for section in sub:
                if section not in SECTIONS:
                    raise _unknown(source, f"section in [{model}.{key}]", section, SECTIONS)
            _check_sections(model, sub, source, f"{model}.{key}")
    return config


def _dataset_tables(table: dict[str, Any], dataset: str) -> list[str]:
    """The keys of a model's ``table`` that are ``dataset``'s table, whatever their case
    (sorted; more than one is an error, :func:`check_config`)."""
    return sorted(k for k in table if k not in SECTIONS and k.lower() == dataset.lower())


def _check_one_spelling(table: dict[str, Any], model: str, dataset: str, source: str) -> None:
    """Refuse two tables of ``dataset`` in ``table`` (model ``model``'s) spelt in different
    case: which one wins would be an accident of the file's order.

    Raises:
        ConfigError: naming both tables.
    """
    keys = _dataset_tables(table, dataset)
    if len(keys) > 1:
        both = " and ".join(f"[{model}.{k}]" for k in keys)
        raise ConfigError(
            f"{source}: {both} are tables of one dataset ({dataset!r} in any case): give its "
            "settings in one of them"
        )


def model_config(
    config: dict[str, Any], model: str, dataset: str, source: str = "config"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(model_options, train_options)`` of ``model`` on ``dataset`` (any case): the
    ``[model]`` sub-tables updated by the ``[model.Dataset]`` ones; empty when absent.

    Raises:
        ConfigError: when the model's table holds two tables of ``dataset`` spelt in
            different case (naming both; ``source``: what to call the file).
    """
    base = config.get(model, {})
    _check_one_spelling(base, model, dataset, source)
    keys = _dataset_tables(base, dataset)
    specific = base[keys[0]] if keys else {}
    model_options = {**base.get("model", {}), **specific.get("model", {})}
    train_options = {**base.get("train", {}), **specific.get("train", {})}
    return model_options, train_options


def load_config(path: str | os.PathLike, extra_tables: Iterable[str] = ()) -> dict[str, Any]:
    """Read and check the configuration file ``path`` (:func:`read_toml`,
    :func:`check_config`)."""
    return check_config(read_toml(path), str(path), extra_tables)


def load_model_config(
    path: str | os.PathLike | None, model: str, dataset: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(model_options, train_options)`` of ``model`` on ``dataset`` from the configuration
    file ``path``, checked whole; ``path=None`` gives empty options (the defaults apply).
    The :data:`OTHER_TABLES` are skipped."""
    if path is None:
        return {}, {}
    config = load_config(path, OTHER_TABLES)
    return model_config(config, model, dataset, str(path))


__all__ = [
    "OTHER_TABLES",
    "RUN_FIELDS",
    "SECTIONS",
    "ConfigError",
    "check_config",
    "load_config",
    "load_model_config",
    "model_config",
    "read_toml",
]
