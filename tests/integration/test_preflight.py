"""The pre-flight check and the model discovery go through the run's one client (issue 17): the same
connection code, TLS checks and error texts as the load."""

from __future__ import annotations

import shutil

import pytest

from ais_bench.clients.loop import run_worker_loop
from ais_bench.clients.tls import TLSOptions
from ais_bench.engine.preflight import check_reachable, discover_model
from ais_bench.errors import ServerUnreachable
from tests.support.fixed_server import FixedServer
from tests.support.scripted_server import ScriptedConnection, ScriptedRequest, ScriptedServer, http_response


async def _close_at_once(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
    return False


def test_discovery_reads_the_served_model_through_the_client():
    with ScriptedServer(_close_at_once) as server:
        model = run_worker_loop(discover_model(server.base_url, "v1/models", {"X-Team": "a"}))
        request = server.snapshot().requests[0]
    assert model == "scripted-model"
    assert (request.method, request.path, request.headers["x-team"]) == ("GET", "/v1/models", "a")
    assert request.headers["accept-encoding"] == "identity"


def test_a_discovery_answer_cut_short_names_the_request_and_what_happened():
    with ScriptedServer(_close_at_once, answer_models=False) as server:
        url = server.base_url + "v1/models"
        with pytest.raises(ServerUnreachable) as info:
            run_worker_loop(discover_model(server.base_url, "v1/models", {}))
    assert info.value.message == (
        f"model auto-detection failed: GET {url}: server closed the connection before the response"
    )


def test_a_discovery_status_other_than_200_is_named():
    async def not_found(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
        await conn.write(http_response(404, b'{"error": "no"}'))
        return True

    with ScriptedServer(not_found, answer_models=False) as server, pytest.raises(ServerUnreachable) as info:
        run_worker_loop(discover_model(server.base_url, "v1/models", {}))
    assert info.value.message == f"model auto-detection failed: GET {server.base_url}v1/models returned HTTP 404 X: no"


async def _not_found(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
    await conn.write(http_response(404, b'{"error": {"message": "Not Found"}}'))
    return True


def test_a_discovery_404_from_a_url_ending_in_v1_names_the_doubled_prefix():
    with ScriptedServer(_not_found, answer_models=False) as server, pytest.raises(ServerUnreachable) as info:
        run_worker_loop(discover_model(server.base_url + "v1/", "v1/models", {}))
    assert info.value.message.startswith(f"model auto-detection failed: GET {server.base_url}v1/v1/models returned HTTP 404")
    assert info.value.hint is not None
    assert info.value.hint.startswith("the path /v1/v1/models holds v1/ twice: give --url (or url) as the server's root, without /v1")


def test_a_discovery_404_under_a_wrong_prefix_says_the_path_does_not_exist():
    with ScriptedServer(_not_found, answer_models=False) as server, pytest.raises(ServerUnreachable) as info:
        run_worker_loop(discover_model(server.base_url + "llm/", "v1/models", {}))
    assert info.value.hint is not None
    assert info.value.hint.startswith("the server has no /llm/v1/models: --url (or url, host_ip/host_port) must be the root")
    assert "if the server lists no models, set `model`" in info.value.hint  # second: a server without a list


def test_a_discovery_401_asks_for_credentials_not_for_a_model_name():
    async def unauthorized(conn: ScriptedConnection, request: ScriptedRequest) -> bool:
        await conn.write(http_response(401, b'{"error": {"message": "missing API key"}}'))
        return True

    with ScriptedServer(unauthorized, answer_models=False) as server, pytest.raises(ServerUnreachable) as info:
        run_worker_loop(discover_model(server.base_url, "v1/models", {}))
    assert info.value.message.endswith("returned HTTP 401 X: missing API key")
    assert info.value.hint is not None and "refused the request's credentials: set api_key" in info.value.hint
    assert "`model`" not in info.value.hint


def test_a_discovery_over_https_to_a_plain_http_server_names_tls():
    """A plain-HTTP server (aiohttp) answers the TLS hello with an HTTP 400."""
    with FixedServer() as server, pytest.raises(ServerUnreachable) as info:
        run_worker_loop(discover_model(server.base_url.replace("http://", "https://"), "v1/models", {}))
    assert "TLS handshake failed" in info.value.message and "use http://" in info.value.message
    assert info.value.hint is not None and "`model`" not in info.value.hint


def test_a_discovery_whose_connection_is_refused_says_to_start_the_server():
    with ScriptedServer(_close_at_once) as server:
        base_url = server.base_url
    with pytest.raises(ServerUnreachable) as info:
        run_worker_loop(discover_model(base_url, "v1/models", {}))
    assert info.value.message == f"model auto-detection failed: cannot reach {base_url}v1/models: connection refused"
    assert info.value.hint is not None and info.value.hint.startswith("start the inference server")


@pytest.mark.processes
@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_the_pre_flight_check_of_https_runs_the_tls_handshake(tmp_path):
    """A certificate the client does not trust fails the pre-flight check, before any request."""
    from tests.integration.test_tls import _server_context, _two_tokens
    from tests.support.certs import make_self_signed

    cert, key = make_self_signed(tmp_path)
    with ScriptedServer(_two_tokens, ssl_context=_server_context(cert, key)) as server:
        url = server.base_url + "v1/chat/completions"
        with pytest.raises(ServerUnreachable) as info:
            check_reachable(url)
        check_reachable(url, TLSOptions(ca_cert=str(cert)))
        requests = server.snapshot().requests
    assert info.value.message.startswith(f"cannot reach {url}: the server's TLS certificate is not trusted (")
    assert "ca_cert" in info.value.hint
    assert requests == []


def test_the_pre_flight_check_names_a_refused_connection():
    with ScriptedServer(_close_at_once) as server:
        url = server.base_url + "v1/chat/completions"
    with pytest.raises(ServerUnreachable) as info:
        check_reachable(url)
    assert info.value.message == f"cannot reach {url}: connection refused"
