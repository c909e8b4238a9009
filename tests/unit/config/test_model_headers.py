"""``headers=dict(...)`` of a model config and the ``--header`` flag: checked into a plain dict, one clear
line per mistake, secret-looking values never shown, merged with ``api_key`` and the flags by name."""

from __future__ import annotations

import pytest

from ais_bench.benchmark.models import VLLMCustomAPIChat
from ais_bench.cli.args import parse_args
from ais_bench.clients.headers import build_headers
from ais_bench.config import dump_config, flag_headers, validate_model
from ais_bench.errors import ConfigError
from ais_bench.safe_text import is_secret_header, secrets_of

SECRET = "tok-HIDDEN-value-123"


def model(**extra):
    return validate_model({"attr": "service", "type": VLLMCustomAPIChat, "abbr": "m", **extra}, "models/x.py")


def test_headers_are_kept_and_sent_after_the_defaults():
    m = model(headers={"X-Tenant": "blue", "Accept": "text/event-stream"})
    assert m.headers == {"X-Tenant": "blue", "Accept": "text/event-stream"}
    assert build_headers(m.api_key, m.headers) == {
        "Content-Type": "application/json", "X-Tenant": "blue", "Accept": "text/event-stream"
    }


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X Tenant": "a"}, "has the header name 'X Tenant': a header name is letters, digits"),
        ({"": "a"}, "has the header name '': a header name is letters"),
        ({"X-Ü": "a"}, "a header name is letters"),
        ({"Host": "other"}, "Host is written by ais_bench itself: it is taken from the URL"),
        ({"content-length": "3"}, "content-length is written by ais_bench itself"),
        ({"Transfer-Encoding": "chunked"}, "Transfer-Encoding is written by ais_bench itself"),
        ({"Connection": "close"}, "Connection is written by ais_bench itself"),
        ({"X-A": "one\r\nX-Injected: 1"}, "models[0].headers['X-A'] = 'one\\r\\nX-Injected: 1' is not allowed: expected a "
         "header value (a header value cannot hold a line break (CR or LF))"),
        ({"X-A": "a\x00b"}, "cannot hold control characters"),
        ({"X-A": 3}, "models[0].headers['X-A'] = 3 is not allowed: expected a string"),
        ({"X-A": "1", "x-a": "2"}, "sets the header 'X-A' twice (as 'x-a' too; names ignore case)"),
        ("X-A: 1", "models[0].headers = 'X-A: 1' is not allowed: expected a dict"),
    ],
)
def test_each_bad_header_is_one_clear_line(headers, expected):
    with pytest.raises(ConfigError) as err:
        model(headers=headers)
    assert expected in err.value.one_line() and "\n" not in err.value.one_line()


def test_a_secret_header_value_is_never_shown_in_an_error():
    for name in ("Authorization", "X-API-Key", "X-Auth-Token"):
        with pytest.raises(ConfigError) as err:
            model(headers={name: SECRET + "\n"})
        assert SECRET not in err.value.one_line() and "<hidden str>" in err.value.one_line()


def test_api_key_and_an_authorization_header_in_one_config_are_refused():
    with pytest.raises(ConfigError) as err:
        model(api_key="sk-1", headers={"authorization": "Basic abc"})
    assert "sets Authorization and api_key is set too" in err.value.one_line()
    assert "keep one" in err.value.one_line()


def test_secret_looking_names():
    secret = ["Authorization", "proxy-authorization", "Cookie", "X-API-Key", "api-key", "OpenAI_Key",
              "X-Auth-Token", "x-client-secret", "X-Password"]
    plain = ["X-Tenant", "Accept", "User-Agent", "X-Request-Id", "Keyboard"]
    assert all(is_secret_header(name) for name in secret)
    assert not any(is_secret_header(name) for name in plain)
    assert SECRET in secrets_of("http://h/", {"X-Auth-Token": SECRET, "X-Tenant": "blue"})
    assert "blue" not in secrets_of("http://h/", {"X-Auth-Token": SECRET, "X-Tenant": "blue"})


def test_the_dump_masks_secret_header_values_and_flag_secrets(tmp_path):
    m = model(headers={"X-Auth-Token": SECRET, "X-Tenant": "blue"})
    path = dump_config(tmp_path, [m], [], None, {"header": ["X-Tenant: blue"]})
    text = path.read_text()
    assert SECRET not in text
    assert "'headers': {'X-Auth-Token': '***', 'X-Tenant': 'blue'}" in text


def test_the_flag_parses_and_its_mistakes_are_one_line():
    args = parse_args(["--models", "m", "--datasets", "d", "--header", "X-A: 1", "--header", "x-a:2 ",
                       "--header", f"Authorization: Bearer {SECRET}"])
    assert flag_headers(args.header) == {"x-a": "2", "Authorization": f"Bearer {SECRET}"}
    for flag, expected in (
        (f"Authorization Bearer {SECRET}", "expected 'Name: value', a header name, ':' and its value; "
         "this one (starting 'Authorization') has no ':'"),
        (SECRET, "this one has no ':'"),
        (f"X Auth: {SECRET}", "'X Auth': a header name is letters"),
        ("Host: other", "'Host': Host is written by ais_bench itself"),
        (f"X-Token: {SECRET}\r\nX-B: 1", "'X-Token': a header value cannot hold a line break"),
    ):
        with pytest.raises(ConfigError) as err:
            parse_args(["--models", "m", "--datasets", "d", "--header", flag])
        line = err.value.one_line()
        assert "argument --header: " in line and expected in line and SECRET not in line, line


def test_flags_replace_config_headers_and_api_key_authorization_by_name():
    m = model(api_key="sk-key1", headers={"X-Tenant": "blue", "X-Keep": "1"})
    merged = m.with_headers({"x-tenant": "red", "Authorization": "Basic abc"})
    assert merged.headers == {"X-Keep": "1", "x-tenant": "red", "Authorization": "Basic abc"}
    assert build_headers(merged.api_key, merged.headers) == {
        "Content-Type": "application/json", "X-Keep": "1", "x-tenant": "red", "Authorization": "Basic abc"
    }


def test_an_authorization_flag_replacing_an_api_key_is_said(write, tmp_path, monkeypatch):
    from ais_bench.cli.configs import load_run_configs

    write("configs/models/keyed.py", (
        "from ais_bench.benchmark.models import VLLMCustomAPIChat\n"
        "models = [dict(type=VLLMCustomAPIChat, abbr='keyed', api_key='sk-key1', headers={'X-Tenant': 'blue'})]\n"
    ))
    monkeypatch.chdir(tmp_path)
    args = parse_args(["--models", "keyed", "--datasets", "synthetic_demo", "--header", "authorization: Basic abc"])
    configs = load_run_configs(args)
    (m,) = configs.models
    assert build_headers(m.api_key, m.headers)["authorization"] == "Basic abc"
    assert "--header Authorization replaces the api_key of model 'keyed' (both set the Authorization header)" in configs.warnings
