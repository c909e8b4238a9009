"""The user documents stay in step with the code.

``docs/config.md`` must mention (as `` `name` ``) every name the validators accept: the model,
traffic, dataset, reader and summarizer fields, every key a validator reads from a config dict
(``d.get("X")``, ``d["X"]``, ``"X" in d``), the global constants, the simulator fields and every
command-line option. The names are taken from the code, so a field added to a validator without a
line in the document fails here.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
from pathlib import Path

import pytest

import ais_bench.config.datasets as datasets_cfg
import ais_bench.config.generation_kwargs as generation_cfg
import ais_bench.config.global_consts as global_consts_cfg
import ais_bench.config.model_fields as model_fields_cfg
import ais_bench.config.models as models_cfg
import ais_bench.config.summarizers as summarizers_cfg
from ais_bench.cli.args import build_parser
from ais_bench.config.resolve import resolve_config_file
from ais_bench.sim.config import SimConfig

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CONFIG_DOC = DOCS / "config.md"

#: ModelConfig fields that are internal (filled by the loader, never written in a config file).
_INTERNAL_MODEL_FIELDS = {"backend", "simulator_keys", "source"}
_RESULT_DICTS = {"values", "out", "extra"}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _documented_names() -> set[str]:
    """Every `` `name` `` of docs/config.md, plus each dotted part (`a.b` documents a and b)."""
    text = CONFIG_DOC.read_text(encoding="utf-8")
    names: set[str] = set()
    for code in re.findall(r"`([^`\n]+)`", text):
        code = code.strip()
        names.add(code)
        names.update(re.split(r"[.\s=(),\[\]]+", code))
    return names


def _is_result_dict(node: ast.AST) -> bool:
    """``values`` / ``out`` / ``extra``: the dicts a validator builds (typed-object fields), not the
    config dict it reads."""
    return isinstance(node, ast.Name) and node.id in _RESULT_DICTS


def _dict_keys_read(module: object) -> set[str]:
    """String keys a validator module reads from config dicts: ``x.get("K")``, ``x["K"]``, ``"K" in x``."""
    tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
    keys: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and not _is_result_dict(node.func.value)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            keys.add(node.args[0].value)
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and not _is_result_dict(node.value)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            keys.add(node.slice.value)
        elif (
            isinstance(node, ast.Compare)
            and isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str)
            and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops)
        ):
            keys.add(node.left.value)
    return {key for key in keys if _IDENTIFIER.match(key)}  # not ``":" in host`` and the like


#: Calls whose argument lists the allowed names: ``check_known_keys(source, where, d, KNOWN)``,
#: ``unknown_field(source, where, key, KNOWN)``, ``difflib.get_close_matches(name, KNOWN)``.
_KNOWN_ARG = {"check_known_keys": 3, "unknown_field": 3, "get_close_matches": 1}


def _allowed_name_lists(module: object) -> dict[str, set[str]]:
    """Every module-level collection a validator passes to its "unknown field / did you mean" check,
    by variable name (e.g. ``_SYNTHETIC_FIELDS``), read from the module itself."""
    tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
    found: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        index = _KNOWN_ARG.get(name or "")
        if index is None or len(node.args) <= index or not isinstance(node.args[index], ast.Name):
            continue
        value = getattr(module, node.args[index].id, None)
        if isinstance(value, (tuple, list, set, frozenset, dict)):
            found[node.args[index].id] = {v for v in value if isinstance(v, str)}
    return found


def _known_names() -> dict[str, set[str]]:
    """Names the code accepts, grouped by where they come from (for readable failures)."""
    model_fields = {f.name for f in dataclasses.fields(models_cfg.ModelConfig)} - _INTERNAL_MODEL_FIELDS
    groups = {
        "model fields (ModelConfig)": model_fields,
        "model fields accepted and ignored (IGNORED_FIELDS)": set(models_cfg.IGNORED_FIELDS),
        "dataset fields accepted and ignored (_IGNORED)": set(datasets_cfg._IGNORED),
        "simulator fields (SimConfig)": {f.name for f in dataclasses.fields(SimConfig)},
        "summarizer calculator types": set(summarizers_cfg._STAGES),
        "keys read by config/models.py": _dict_keys_read(models_cfg),
        "keys read by config/model_fields.py": _dict_keys_read(model_fields_cfg),
        "keys read by config/datasets.py": _dict_keys_read(datasets_cfg),
        "keys read by config/summarizers.py": _dict_keys_read(summarizers_cfg),
        "keys read by config/global_consts.py": _dict_keys_read(global_consts_cfg),
    }
    for module in (models_cfg, model_fields_cfg, datasets_cfg, summarizers_cfg, global_consts_cfg):
        short = module.__name__.rsplit(".", 1)[-1]
        for variable, names in _allowed_name_lists(module).items():
            groups[f"allowed names {short}.{variable}"] = names
    reserved = getattr(generation_cfg, "RESERVED_GENERATION_KEYS", None)
    if reserved:
        groups["generation_kwargs keys the tool writes itself"] = set(reserved)
    options: set[str] = set()
    for action in build_parser()._actions:
        if action.option_strings:
            options.update(action.option_strings)
        else:
            options.add(action.dest)  # positional
    groups["command-line options"] = options
    return groups


def test_known_names_are_found() -> None:
    """Guard against the derivation silently finding nothing (e.g. a renamed private set)."""
    groups = _known_names()
    for group, names in groups.items():
        assert names, f"no names found for {group}: update tests/unit/test_docs.py"
    assert {"batch_size", "request_rate", "simulator"} <= groups["model fields (ModelConfig)"]
    assert {"Type", "RequestCount", "MinValue", "stats_list"} <= (
        groups["keys read by config/datasets.py"] | groups["keys read by config/summarizers.py"]
    )
    assert {"--models", "--pressure-time", "-w"} <= groups["command-line options"]
    assert "WORKERS_NUM" in groups["allowed names global_consts._KNOWN"]
    assert "burstiness" in set().union(*(v for k, v in groups.items() if k.startswith("allowed names model_fields.")))
    assert any(group.startswith("allowed names datasets.") for group in groups)


@pytest.mark.parametrize("group", sorted(_known_names()))
def test_config_doc_mentions_every_accepted_name(group: str) -> None:
    documented = _documented_names()
    missing = sorted(name for name in _known_names()[group] if name not in documented)
    assert not missing, (
        f"docs/config.md does not mention these {group} (write each as `name`): {', '.join(missing)}"
    )


def _command_line_rows() -> set[str]:
    """The names in the first column of the tables of docs/config.md's "Command line" section."""
    text = CONFIG_DOC.read_text(encoding="utf-8")
    section = text[text.index("\n## Command line\n"):]
    section = section[: section.index("\n## ", 1)]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            for code in re.findall(r"`([^`\n]+)`", line.split("|")[1]):
                names.update(part for part in re.split(r"[\s,]+", code) if part)
    return names


def test_every_flag_has_its_row_in_the_command_line_tables() -> None:
    """Each option of ``ais_bench --help`` (and the positional ``config``) is the first cell of a
    row of docs/config.md's command-line tables, not merely a word somewhere in the document."""
    rows = _command_line_rows()
    options = {s for a in build_parser()._actions for s in (a.option_strings or [a.dest])}
    assert {"--url", "--isl", "--concurrency"} <= options
    missing = sorted(options - rows)
    assert not missing, f"docs/config.md has no command-line row for: {', '.join(missing)}"


def test_the_help_groups_are_the_documented_groups() -> None:
    """``--help`` and docs/config.md group the flags alike: each help group is a heading there."""
    text = CONFIG_DOC.read_text(encoding="utf-8").lower()
    titles = [g.title for g in build_parser()._action_groups if g.title not in ("positional arguments", "options")]
    assert len(titles) >= 4
    for title in titles:
        assert f"\n### {title.lower()}\n" in text, f"docs/config.md has no heading '### {title}'"


def test_sim_cli_flags_are_the_documented_fields() -> None:
    """``ais_bench_sim`` has one flag per SimConfig field, so documenting the fields documents it."""
    from ais_bench.sim.cli import build_parser as sim_parser

    flags = {s for a in sim_parser()._actions for s in a.option_strings}
    for f in dataclasses.fields(SimConfig):
        assert "--" + f.name.replace("_", "-") in flags


@pytest.mark.parametrize(
    "name", ["metrics.md", "config.md", "outputs.md", "troubleshooting.md", "aisbench-differences.md"]
)
def test_linked_documents_exist(name: str) -> None:
    assert (DOCS / name).is_file()


def test_relative_links_resolve() -> None:
    """Every relative markdown link in README.md and docs/ points at an existing file."""
    broken = []
    for doc in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            if not (doc.parent / target).exists():
                broken.append(f"{doc.relative_to(ROOT)} -> {target}")
    assert not broken, "broken links: " + ", ".join(broken)


def test_help_points_at_the_documents() -> None:
    text = build_parser().format_help()
    for name in ("docs/config.md", "docs/metrics.md", "docs/outputs.md", "docs/troubleshooting.md"):
        assert name in text


def test_readme_says_an_all_failed_run_writes_its_plot() -> None:
    """``api/results.py`` draws the failures of an all-failed run (tests/e2e/test_faults.py checks the
    file exists); the README says so."""
    text = " ".join((ROOT / "README.md").read_text().split())
    assert "every request failed: the plot is still written" in text
    assert "failed writes none" not in text


def test_metrics_doc_times_each_request_to_its_end_as_the_code_does() -> None:
    """A request lasts from ``tp[0]`` to ``end`` (the read that completed it: a finish-only or
    usage-only chunk and ``[DONE]`` come after the last token event ``tp[-1]``). The stage duration,
    the in-flight count and the steady shares use ``end`` (``metrics/per_request.py`` sets
    ``end_s``, the stages use it); the documents say so, and ``start_s`` is the first attempt's send
    (``engine/request.py``)."""
    metrics = " ".join((DOCS / "metrics.md").read_text().split())
    assert "total stage, `max(end) − min(tp[0])`" in metrics
    assert "and its end `end` (−1" in metrics
    assert "*i*'s time `[tp[0], end]`" in metrics
    assert "tp[-1]) −" not in metrics and "last event `tp[-1]` (−1)" not in metrics
    assert "`[tp[0], tp[−1]]`" not in metrics
    outputs = " ".join((DOCS / "outputs.md").read_text().split())
    assert "send of the last attempt" not in outputs
    assert "send of the **first** attempt" in outputs


#: Model configs the README has its reader write (copies of a built-in config in configs/models/).
_README_OWN_MODELS = {"my_server", "my_llama"}
_CONFIG_FLAGS = {"--models": "models", "--datasets": "datasets", "--summarizer": "summarizers"}


def test_readme_commands_name_configs_that_exist() -> None:
    """Every ``ais_bench`` command of the README names built-in configs (or the model config the
    README has the reader write), so each runs as shown."""
    text = (ROOT / "README.md").read_text(encoding="utf-8").replace("\\\n", " ")
    commands = [line for line in text.splitlines() if re.search(r"\bais_bench (--|-m )", line)]
    assert len(commands) >= 8
    named = 0
    for command in commands:
        for flag, kind in _CONFIG_FLAGS.items():
            for name in re.findall(rf"{flag} ([A-Za-z0-9_./-]+)", command):
                named += 1
                if kind == "models" and name in _README_OWN_MODELS:
                    continue
                resolve_config_file(kind, name, "/nonexistent")  # ConfigError when there is none
    assert named >= 10


def test_every_compare_flag_has_its_row() -> None:
    """Each option of ``ais_bench compare --help`` (and its positional RUN) is the first cell of a row
    of docs/config.md's ``ais_bench compare`` table."""
    from ais_bench.cli.compare import build_compare_parser

    text = CONFIG_DOC.read_text(encoding="utf-8")
    section = text[text.index("\n### `ais_bench compare`\n"):]
    section = section[: section.index("\n## ", 1)]
    rows = {
        part
        for line in section.splitlines() if line.startswith("| `")
        for code in re.findall(r"`([^`\n]+)`", line.split("|")[1])
        for part in re.split(r"[\s,]+", code) if part
    }
    actions = build_compare_parser()._actions
    options = {s for a in actions for s in (a.option_strings or [str(a.metavar)])} - {"-h", "--help"}
    assert {"--fail-if", "--output", "RUN"} <= options
    missing = sorted(options - rows)
    assert not missing, f"docs/config.md's ais_bench compare table has no row for: {', '.join(missing)}"
