from __future__ import annotations

import pytest

from ais_bench.config.loader import load_config_file
from ais_bench.errors import ConfigError


def test_plain_file_variables(write):
    path = write("a.py", "import os\nx = 1\n_y = [2]\n__z = 3\ndef f():\n    return 4\n")
    ns = load_config_file(path)
    assert ns["x"] == 1 and ns["_y"] == [2] and ns["f"]() == 4
    assert "os" not in ns and "__z" not in ns and "__file__" not in ns


def test_file_is_set(write):
    path = write("a.py", "here = __file__\n")
    assert load_config_file(path)["here"] == str(path.resolve())


def test_read_base_relative_import_and_isolation(write):
    write("datasets/base/base_ds.py", "base_datasets = [dict(abbr='base', reader_cfg=dict())]\n")
    child = write(
        "datasets/demo/child.py",
        "from mmengine.config import read_base\n"
        "with read_base():\n"
        "    from ..base.base_ds import base_datasets\n"
        "base_datasets[0]['abbr'] = 'child'\n",
    )
    sibling = write(
        "datasets/base/sibling.py",
        "from ais_bench.config import read_base\nwith read_base():\n    from .base_ds import base_datasets\n",
    )
    assert load_config_file(child)["base_datasets"][0]["abbr"] == "child"
    # each import runs the base file afresh: the child's edit does not leak
    assert load_config_file(sibling)["base_datasets"][0]["abbr"] == "base"


def test_from_dot_import_module(write):
    write("m/other.py", "value = 7\n")
    path = write("m/main.py", "from . import other\nv = other.value\n")
    assert load_config_file(path)["v"] == 7


def test_builtin_config_absolute_import(write):
    path = write(
        "mine.py",
        "from mmengine.config import read_base\n"
        "with read_base():\n"
        "    from ais_bench.benchmark.configs.datasets.gsm8k.gsm8k_gen_4_shot_cot_chat_prompt import gsm8k_datasets\n"
        "gsm8k_datasets[0]['reader_cfg']['test_range'] = '[0:2]'\n",
    )
    ns = load_config_file(path)
    assert ns["gsm8k_datasets"][0]["abbr"] == "gsm8k"
    assert ns["gsm8k_datasets"][0]["reader_cfg"]["test_range"] == "[0:2]"


def test_missing_file():
    with pytest.raises(ConfigError, match=r"config file not found: .*nope\.py"):
        load_config_file("/no/such/dir/nope.py")


def test_syntax_error_names_file_and_line(write):
    path = write("bad.py", "x = 1\ny = (\n")
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    assert f"{path.resolve()}:2: syntax error" in info.value.message


def test_exception_names_file_and_line(write):
    path = write("boom.py", "x = 1\n\ny = 1 / 0\n")
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    assert info.value.message == f"{path.resolve()}:3: ZeroDivisionError: division by zero"


def test_error_in_imported_file_names_that_file(write):
    base = write("d/base.py", "ok = 1\nraise ValueError('bad base')\n")
    path = write("d/top.py", "from .base import ok\n")
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    assert info.value.message.startswith(f"{base.resolve()}:2: ValueError: bad base")


def test_missing_relative_import(write):
    path = write("d/top.py", "x = 1\nfrom .absent import y\n")
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    assert f"{path.resolve()}:2: ModuleNotFoundError" in info.value.message
    assert "absent.py" in info.value.message


def test_import_cycle(write):
    write("c/a.py", "from .b import y\nx = 1\n")
    write("c/b.py", "from .a import x\ny = 1\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config_file(write("c/start.py", "from .a import x\n"))


def test_mmengine_shim_not_left_in_sys_modules(write):
    import sys

    load_config_file(write("a.py", "from mmengine.config import read_base\nwith read_base():\n    pass\n"))
    assert "mmengine" not in sys.modules or sys.modules["mmengine"].__spec__ is not None
