"""Load a plain Python config file by executing it; return its top-level variables.

Supports the mmengine idiom used by AISBench config files::

    from mmengine.config import read_base
    with read_base():
        from .gsm8k_gen_4_shot_cot_chat_prompt import gsm8k_datasets
        from ais_bench.benchmark.configs.models.vllm_api.vllm_api_general import models

Each config file runs with its own globals and a private ``__import__`` that

* loads relative imports (``from .x import y``, ``from ..models.m import models``) as sibling config
  files, with this same loader, relative to the importing file's folder;
* loads ``ais_bench.benchmark.configs.<kind>...`` / ``ais_bench.configs.<kind>...`` as the built-in
  config files under ``src/ais_bench/configs``;
* serves ``mmengine.config`` from a tiny shim (only ``read_base``) when mmengine is not installed.

Every imported config file is executed afresh, so a file that edits what it imported (the demo
dataset renames ``abbr``) never changes another file's view of it. Nothing is written to
``sys.modules``.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib.util
import traceback
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ais_bench.errors import ConfigError

#: Folder of the built-in config files (``configs/models``, ``configs/datasets``, ...).
BUILTIN_CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"

_CONFIG_PACKAGES = ("ais_bench.benchmark.configs", "ais_bench.configs")


@contextlib.contextmanager
def read_base() -> Iterator[None]:
    """No-op context manager marking imports of base config files (mmengine compatible)."""
    yield


def _mmengine_shim() -> types.ModuleType:
    module = types.ModuleType("mmengine.config")
    module.read_base = read_base  # type: ignore[attr-defined]
    return module


def _has_real_mmengine() -> bool:
    try:
        return importlib.util.find_spec("mmengine") is not None
    except (ImportError, ValueError):
        return False


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Execute the config file at ``path`` and return its public top-level variables.

    Dunder names and imported modules are dropped; classes and functions (``type=`` values) stay.
    Raises ``ConfigError`` naming the file and line for a missing file, a syntax error, an
    exception raised while the file runs, or an import cycle between config files.
    """
    return _Loader().load(Path(path))


def _one_line(text: str) -> str:
    """``text`` on one line (line breaks shown as ``\\n``), at most 300 characters."""
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= 300 else text[:297] + "..."


def _exception_text(exc: BaseException) -> str:
    try:
        return _one_line(str(exc))
    except Exception:  # an exception class whose __str__ fails
        return "<exception text unavailable>"


class _Loader:
    """One top-level load: tracks the chain of files being executed (cycle detection)."""

    def __init__(self) -> None:
        self._stack: list[Path] = []
        self._shim = None if _has_real_mmengine() else _mmengine_shim()

    def load(self, path: Path) -> dict[str, Any]:
        try:
            path = path.expanduser().resolve()
            found = path.is_file()
        except (OSError, RuntimeError, ValueError):  # NUL in the name, unknown ~user, name too long
            found = False
        if not found:
            raise ConfigError(f"config file not found: {_one_line(str(path))}")
        if path in self._stack:
            chain = " -> ".join(str(p) for p in [*self._stack, path])
            raise ConfigError(f"config files import each other in a cycle: {chain}")
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config file: {exc}") from exc
        try:
            code = compile(source, str(path), "exec")
        except SyntaxError as exc:
            raise ConfigError(f"{path}:{exc.lineno}: syntax error: {_one_line(exc.msg)}") from exc
        except ValueError as exc:  # NUL bytes in the source (Python < 3.12)
            raise ConfigError(f"{path}: syntax error: {_one_line(str(exc))}") from exc
        except (RecursionError, MemoryError) as exc:
            raise ConfigError(f"{path}: cannot compile config file: expressions nested too deeply") from exc
        namespace = self._namespace(path)
        self._stack.append(path)
        try:
            exec(code, namespace)
        except ConfigError:
            raise
        except (Exception, SystemExit) as exc:  # sys.exit() in a config file must not end the tool
            raise ConfigError(f"{self._where(exc, path)}: {type(exc).__name__}: {_exception_text(exc)}") from exc
        finally:
            self._stack.pop()
        return {
            name: value
            for name, value in namespace.items()
            if not name.startswith("__") and not isinstance(value, types.ModuleType)
        }

    def _namespace(self, path: Path) -> dict[str, Any]:
        custom_builtins = dict(vars(builtins))
        real_import = builtins.__import__

        def config_import(
            name: str,
            globals: dict[str, Any] | None = None,
            locals: dict[str, Any] | None = None,
            fromlist: tuple[str, ...] = (),
            level: int = 0,
        ) -> Any:
            if level > 0:
                return self._import_relative(path, name, fromlist or (), level)
            for package in _CONFIG_PACKAGES:
                if name == package or name.startswith(package + "."):
                    rest = name[len(package) :].lstrip(".")
                    return self._import_from_dir(BUILTIN_CONFIG_DIR, rest, fromlist or (), name)
            if self._shim is not None and name in ("mmengine", "mmengine.config"):
                if name == "mmengine.config" and fromlist:
                    return self._shim
                pkg = types.ModuleType("mmengine")
                pkg.config = self._shim  # type: ignore[attr-defined]
                return pkg
            return real_import(name, globals, locals, fromlist, level)

        custom_builtins["__import__"] = config_import
        return {
            "__file__": str(path),
            "__name__": f"ais_bench_config.{path.stem}",
            "__builtins__": custom_builtins,
        }

    def _import_relative(self, path: Path, name: str, fromlist: tuple[str, ...], level: int) -> Any:
        base = path.parent
        for _ in range(level - 1):
            base = base.parent
        return self._import_from_dir(base, name, fromlist, "." * level + name)

    def _import_from_dir(self, base: Path, dotted: str, fromlist: tuple[str, ...], shown: str) -> Any:
        """``from <base>/<dotted as path> import <fromlist>``: a config file, or a folder of them."""
        target = base.joinpath(*dotted.split(".")) if dotted else base
        if target.with_suffix(".py").is_file() and dotted:
            return self._as_module(target.with_suffix(".py"))
        if target.is_dir():
            # ``from . import sibling`` / ``from ..datasets import gsm8k``: each name is a config file.
            module = types.ModuleType(shown)
            for item in fromlist:
                file = target / f"{item}.py"
                if not file.is_file():
                    raise ModuleNotFoundError(f"no config file {file} (imported as {shown}.{item})")
                setattr(module, item, self._as_module(file))
            return module
        raise ModuleNotFoundError(f"no config file {target}.py (imported as '{shown}')")

    def _as_module(self, file: Path) -> types.ModuleType:
        module = types.ModuleType(f"ais_bench_config.{file.stem}")
        module.__file__ = str(file)
        for key, value in self.load(file).items():
            setattr(module, key, value)
        return module

    def _where(self, exc: BaseException, path: Path) -> str:
        """``file:line`` of the innermost frame of ``exc`` that ran in a config file being loaded."""
        files = {str(p) for p in self._stack} | {str(path)}
        line = None
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename in files:
                path, line = Path(frame.filename), frame.lineno
        return f"{path}:{line}" if line is not None else str(path)
