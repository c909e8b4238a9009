"""Text from outside made safe: printable, bounded, secrets redacted."""

from __future__ import annotations

import base64

import orjson

from ais_bench.safe_text import Redactor, mask_url_password, printable_text, secrets_of, utf8_text


def test_printable_text_escapes_what_cannot_be_shown_or_stored() -> None:
    assert printable_text("ok é 中") == "ok é 中"
    assert printable_text("a\x00b\x07c\x7f") == "a\\x00b\\x07c\\x7f"
    assert printable_text("lone \ud800 surrogate") == "lone \\ud800 surrogate"
    assert printable_text("two\nlines\tand\rtab") == "two lines and tab"
    assert printable_text("two\nlines", keep_newlines=True) == "two\nlines"


def test_printable_text_is_bounded_after_escaping() -> None:
    assert printable_text("x" * 50, 10) == "x" * 10 + "..."
    assert printable_text("\x00" * 50, 10) == "\\x00\\x00\\x" + "..."
    assert printable_text("short", 10) == "short"


def test_utf8_text_makes_any_string_json_encodable() -> None:
    assert utf8_text("fine") == "fine"
    assert orjson.loads(orjson.dumps(utf8_text("a\ud800b"))) == "a\\ud800b"


def test_url_passwords_are_masked_in_any_text() -> None:
    assert mask_url_password("to http://u:pw@h:1/v1 and https://x:y%40z@[::1]:2/") == (
        "to http://u:***@h:1/v1 and https://x:***@[::1]:2/"
    )
    assert mask_url_password("http://user@host/ and a@b") == "http://user@host/ and a@b"


def test_secrets_of_auth_headers_and_url() -> None:
    found = secrets_of("http://me:p%40ss@host/", {"Authorization": "Bearer sk-1234", "Content-Type": "x"})
    basic = base64.b64encode(b"me:p@ss").decode()
    assert set(found) == {"Bearer sk-1234", "sk-1234", "p%40ss", "p@ss", basic}


def test_redactor_replaces_long_secrets_everywhere_and_short_ones_only_in_urls() -> None:
    redactor = Redactor(["Bearer sk-1234", "sk-1234", "pw"])
    assert redactor.redact("got Bearer sk-1234 and sk-1234") == "got *** and ***"
    assert redactor.redact("http://u:pw@h/ pw 12") == "http://u:***@h/ pw 12"
    assert not Redactor() and Redactor(["long-secret"])
