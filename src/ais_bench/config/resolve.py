"""Resolve ``--models/--datasets/--summarizer`` names to config files (AISBench rules).

A name ``X`` matches files ``X.py`` by a case-insensitive ``fnmatch`` on the file name (so shell
wildcards work), found by a recursive walk of, in order:

* models: ``<config-dir>/models``, ``<builtin>/models``
* datasets: ``<config-dir>/datasets``, ``<config-dir>/dataset_collections``, ``<builtin>/datasets``,
  ``<builtin>/dataset_collections``
* summarizers: ``<config-dir>/summarizers``, ``<builtin>/summarizers``

Matches of each root are sorted by stem and the roots concatenated, so a file in ``--config-dir``
comes before a built-in one of the same name. No match is an error listing close names; several
matches are a warning (``Ambiguous patterns | Matched files``) and the first one is used. A name that
is itself the path of an existing ``.py`` file is used as is.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

from ais_bench.config.loader import BUILTIN_CONFIG_DIR
from ais_bench.errors import ConfigError

KINDS = ("models", "datasets", "summarizers")
DEFAULT_CONFIG_DIR = "configs"
DEFAULT_DATASET_SUFFIX = "_datasets"
DEFAULT_SUMMARIZER_KEY = "summarizer"

_SUBDIRS = {
    "models": ("models",),
    "datasets": ("datasets", "dataset_collections"),
    "summarizers": ("summarizers",),
}
_FLAGS = {"models": "--models", "datasets": "--datasets", "summarizers": "--summarizer"}


@dataclass(frozen=True)
class ResolvedName:
    """One name given on the command line and the file it resolved to.

    ``name`` is the pattern without its ``/part``; ``part`` is the dataset variable suffix
    (default ``_datasets``) or the summarizer variable (default ``summarizer``), None for models;
    ``candidates`` holds every matching file when there was more than one (``path`` is the first).
    """

    kind: str
    name: str
    path: Path
    part: str | None = None
    candidates: tuple[Path, ...] = ()

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1


@dataclass
class ResolvedConfigs:
    """All names of one command line; ``warnings`` are ready-to-print text (ambiguity table)."""

    models: list[ResolvedName] = field(default_factory=list)
    datasets: list[ResolvedName] = field(default_factory=list)
    summarizer: ResolvedName | None = None
    warnings: list[str] = field(default_factory=list)

    def all(self) -> list[ResolvedName]:
        return [*self.models, *self.datasets, *([self.summarizer] if self.summarizer else [])]


def search_roots(kind: str, config_dir: str | Path | None = None) -> list[Path]:
    """The folders searched for ``kind``, in order (user config dir first, then built-in)."""
    if kind not in _SUBDIRS:
        raise ValueError(f"unknown config kind {kind!r}; expected one of {KINDS}")
    user_dir = Path(config_dir if config_dir is not None else DEFAULT_CONFIG_DIR)
    roots = [user_dir / sub for sub in _SUBDIRS[kind]]
    roots += [BUILTIN_CONFIG_DIR / sub for sub in _SUBDIRS[kind]]
    return roots


def _walk_py(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    found = []
    for folder, _dirs, files in os.walk(root):
        found += [Path(folder) / f for f in files if f.endswith(".py") and f != "__init__.py"]
    return found


def find_config_files(kind: str, pattern: str, config_dir: str | Path | None = None) -> list[Path]:
    """Every file matching ``pattern`` (case-insensitive fnmatch on ``<pattern>.py``), in order."""
    file_pattern = pattern.lower() if pattern.lower().endswith(".py") else pattern.lower() + ".py"
    matches: list[Path] = []
    for root in search_roots(kind, config_dir):
        hits = [p for p in _walk_py(root) if fnmatch.fnmatchcase(p.name.lower(), file_pattern)]
        matches += sorted(hits, key=lambda p: p.stem)
    return [p.resolve() for p in matches]


def available_names(kind: str, config_dir: str | Path | None = None) -> list[str]:
    """Every config name (file stem) of ``kind``, sorted and unique."""
    return sorted({p.stem for root in search_roots(kind, config_dir) for p in _walk_py(root)})


def split_name(kind: str, text: str) -> tuple[str, str | None]:
    """``demo_gsm8k/suffix`` -> (``demo_gsm8k``, ``suffix``); defaults per kind when no ``/``."""
    default = {"datasets": DEFAULT_DATASET_SUFFIX, "summarizers": DEFAULT_SUMMARIZER_KEY}.get(kind)
    if kind == "models" or "/" not in text or Path(text).is_file():
        return text, default
    name, _, part = text.rpartition("/")
    return name, part or default


def resolve_config_file(kind: str, text: str, config_dir: str | Path | None = None) -> ResolvedName:
    """Resolve one command-line name of ``kind``; raises ``ConfigError`` when nothing matches."""
    name, part = split_name(kind, text)
    if name.endswith(".py") and Path(name).is_file():
        return ResolvedName(kind, Path(name).stem, Path(name).resolve(), part)
    matches = find_config_files(kind, name, config_dir)
    if not matches:
        raise ConfigError(
            _no_match_message(kind, name, config_dir),
            hint=f"list matching configs with `ais_bench {_FLAGS[kind]} '*{name}*' --search`",
        )
    return ResolvedName(kind, name, matches[0], part, tuple(matches) if len(matches) > 1 else ())


def _no_match_message(kind: str, name: str, config_dir: str | Path | None) -> str:
    names = available_names(kind, config_dir)
    close = difflib.get_close_matches(name.lower(), [n.lower() for n in names], n=5, cutoff=0.5)
    close_names = [n for n in names if n.lower() in close]
    roots = ", ".join(str(r) for r in search_roots(kind, config_dir))
    text = f"no {kind} config named '{name}' (searched {roots})"
    if close_names:
        text += "; close names: " + ", ".join(close_names)
    elif names:
        shown = names[:12]
        more = f" and {len(names) - len(shown)} more" if len(names) > len(shown) else ""
        text += "; available: " + ", ".join(shown) + more
    return text


def resolve_config_files(
    models: list[str] | None,
    datasets: list[str] | None,
    summarizer: str | None,
    config_dir: str | Path | None = None,
) -> ResolvedConfigs:
    """Resolve every name of a command line; ambiguity becomes one warning table in ``warnings``."""
    out = ResolvedConfigs()
    out.models = [resolve_config_file("models", n, config_dir) for n in models or []]
    out.datasets = [resolve_config_file("datasets", n, config_dir) for n in datasets or []]
    if summarizer:
        out.summarizer = resolve_config_file("summarizers", summarizer, config_dir)
    rows = [(r.name, [str(p) for p in r.candidates]) for r in out.all() if r.ambiguous]
    if rows:
        out.warnings.append(ambiguity_table(rows))
    return out


def ambiguity_table(rows: list[tuple[str, list[str]]]) -> str:
    """``Ambiguous patterns | Matched files`` table; the first file of each row is the one used."""
    from tabulate import tabulate

    body = [[name, "\n".join(files)] for name, files in rows]
    table = tabulate(body, headers=["Ambiguous patterns", "Matched files"], tablefmt="fancy_grid")
    return "Several config files match; using the first of each:\n" + table


def search_rows(resolved: ResolvedConfigs) -> list[tuple[str, str, str]]:
    """Rows ``(Task Type, Task Name, Config File Path)`` for ``--search`` (header: ``SEARCH_HEADER``)."""
    return [(_FLAGS[r.kind], r.name, str(r.path)) for r in resolved.all()]


SEARCH_HEADER = ("Task Type", "Task Name", "Config File Path")
