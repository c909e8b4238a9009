"""The pre-flight check and the model discovery go through the run's one client (issue 17): the same
connection code, TLS checks and error texts as the load."""

from __future__ import annotations

import shutil

import pytest

from ais_bench.clients.loop import run_worker_loop
from ais_bench.clients.tls import TLSOptions
from ais_bench.engine.preflight import check_reachable, discover_model
from ais_bench.errors import ServerUnreachable
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
    assert info.value.message == f"model auto-detection failed: GET {server.base_url}v1/models returned HTTP 404"


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
