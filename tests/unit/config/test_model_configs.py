from __future__ import annotations

import pytest

from ais_bench.benchmark.models import VLLMCustomAPI, VLLMCustomAPIChat, VLLMCustomAPIChatStream
from ais_bench.config.models import load_models, validate_model
from ais_bench.config.resolve import resolve_config_file
from ais_bench.errors import ConfigError
from ais_bench.load.schedule import TrafficShape
from ais_bench.sim.config import SimConfig

# Verbatim from the original steady-state quick-start document.
QUICK_START = """from ais_bench.benchmark.models import VLLMCustomAPIChatStream
models = [
dict(
attr="service",
type=VLLMCustomAPIChatStream,
abbr='vllm-api-stream-chat',
path="", # Specify the absolute path to the model's serialized vocabulary file (usually the path to the model weight folder)
model="DeepSeek-R1", # Specify the name of the model loaded on the server; configure it according to the actual model name pulled by the VLLM inference service (leave empty to auto-detect)
request_rate = 0, # Invalid in stress testing scenarios
retry = 2,
host_ip = "localhost", # Specify the IP address of the inference service
host_port = 8080, # Specify the port of the inference service
max_out_len = 512, # Maximum number of tokens output by the inference service
batch_size=3, # Maximum concurrency for request sending
generation_kwargs = dict(
temperature = 0.5,
top_k = 10,
top_p = 0.95,
seed = None,
repetition_penalty = 1.03,
ignore_eos = True, # The inference service ignores EOS (end-of-sequence token), so the output length will always reach max_out_len
)
)
]
"""

SRC = "models/x.py"


def base(**extra):
    return {"attr": "service", "type": VLLMCustomAPIChat, "abbr": "m", **extra}


def test_quick_start_config_loads_unchanged(write, tmp_path):
    write("models/vllm_api/vllm_api_stream_chat.py", QUICK_START)
    resolved = resolve_config_file("models", "vllm_api_stream_chat", tmp_path)
    assert resolved.path.is_relative_to(tmp_path.resolve())
    (m,) = load_models(resolved.path)
    assert m.type is VLLMCustomAPIChatStream and m.backend == "openai-chat" and m.stream is True
    assert (m.abbr, m.model, m.batch_size, m.max_out_len, m.retry) == (
        "vllm-api-stream-chat",
        "DeepSeek-R1",
        3,
        512,
        2,
    )
    assert m.generation_kwargs == {
        "temperature": 0.5,
        "top_k": 10,
        "top_p": 0.95,
        "seed": None,
        "repetition_penalty": 1.03,
        "ignore_eos": True,
    }
    assert m.base_url == "http://localhost:8080/"


@pytest.mark.parametrize(
    "name", ["vllm_api_general_chat", "vllm_api_stream_chat", "vllm_api_general", "vllm_api_general_stream"]
)
def test_builtin_vllm_configs(name):
    (m,) = load_models(resolve_config_file("models", name, "/nonexistent").path)
    assert m.type in (VLLMCustomAPIChat, VLLMCustomAPI)
    assert (m.host_port, m.max_out_len, m.retry) == (8080, 512, 2)


def test_builtin_stream_flags():
    def stream_of(name):
        return load_models(resolve_config_file("models", name, "/nonexistent").path)[0].stream

    assert stream_of("vllm_api_stream_chat") and stream_of("vllm_api_general_stream")
    assert not stream_of("vllm_api_general_chat") and not stream_of("vllm_api_general")


@pytest.mark.parametrize("name", ["sim_api_stream_chat", "sim_api_general_chat", "sim_api_stream"])
def test_builtin_sim_configs(name):
    (m,) = load_models(resolve_config_file("models", name, "/nonexistent").path)
    assert m.host_port == 0 and m.batch_size == 16 and m.max_out_len == 64
    assert m.simulator == SimConfig(max_num_seqs=16, seed=0)  # typed at load time: the run uses it as is
    assert m.to_dump_dict()["simulator"] == {"max_num_seqs": 16, "seed": 0}  # the dump shows what the file gave
    assert m.with_port(4321).base_url == "http://127.0.0.1:4321/"


def test_traffic_cfg_is_the_shape_the_schedule_uses():
    m = validate_model(base(traffic_cfg=dict(burstiness=0, ramp_up_strategy="linear", ramp_up_end_rps=4)), SRC)
    assert m.traffic_cfg == TrafficShape(burstiness=0.0, ramp_up_strategy="linear", ramp_up_end_rps=4.0)
    assert m.to_dump_dict()["traffic_cfg"] == {
        "burstiness": 0, "ramp_up_strategy": "linear", "ramp_up_start_rps": None, "ramp_up_end_rps": 4,
    }


def test_defaults_and_stream_default_from_backend():
    m = validate_model(base(), SRC)
    assert m.stream is False and m.retry == 2 and m.batch_size == 1 and m.max_out_len == 4096
    assert m.traffic_cfg.burstiness == 1.0 and m.seed is None and m.simulator is None
    assert validate_model(base(type=VLLMCustomAPIChatStream), SRC).stream is True


def test_ignored_fields_accepted():
    d = base(
        meta_template=None,
        pred_postprocessor=dict(type=str),
        returns_tool_calls=False,
        min_out_len=1,
        summarizer_abbr="x",
        run_cfg=dict(num_gpus=0),
        verbose=True,
        response_anomaly=dict(model_name=""),
        model_name="",
    )
    assert validate_model(d, SRC).abbr == "m"


BAD = [
    ("attr", "local", "models[0].attr = 'local' is not allowed: expected one of 'service'"),
    ("abbr", "", "models[0].abbr = '' is not allowed: expected a non-empty string"),
    ("request_rate", -1, "models[0].request_rate = -1 is not allowed: expected a number in [0, 64000]"),
    ("request_rate", 64001, "models[0].request_rate = 64001 is not allowed: expected a number in [0, 64000]"),
    ("request_rate", "5", "models[0].request_rate = '5' is not allowed: expected a number in [0, 64000]"),
    ("retry", 1001, "models[0].retry = 1001 is not allowed: expected an integer in [0, 1000]"),
    ("retry", 1.5, "models[0].retry = 1.5 is not allowed: expected an integer in [0, 1000]"),
    ("host_port", 0, "models[0].host_port = 0 is not allowed: expected an integer in (0, 65536)"),
    ("host_port", 65536, "models[0].host_port = 65536 is not allowed: expected an integer in (0, 65536)"),
    (
        "host_ip",
        "my-host",
        "models[0].host_ip = 'my-host' is not allowed: expected 'localhost' or an IPv4/IPv6 address",
    ),
    ("host_ip", "300.1.1.1", "models[0].host_ip = '300.1.1.1' is not allowed"),
    ("batch_size", -1, "models[0].batch_size = -1 is not allowed: expected an integer in (0, 100000]"),
    ("batch_size", 0, "models[0].batch_size = 0 is not allowed: expected an integer in (0, 100000]"),
    (
        "batch_size",
        100001,
        "models[0].batch_size = 100001 is not allowed: expected an integer in (0, 100000]",
    ),
    ("batch_size", True, "models[0].batch_size = True is not allowed: expected an integer in (0, 100000]"),
    ("max_out_len", 0, "models[0].max_out_len = 0 is not allowed: expected an integer in [1, 2147483647]"),
    (
        "generation_kwargs",
        [1],
        "models[0].generation_kwargs = [1] is not allowed: expected a dict with string keys",
    ),
    ("stream", "yes", "models[0].stream = 'yes' is not allowed: expected True or False"),
    ("use_timestamp", 1, "models[0].use_timestamp = 1 is not allowed: expected True or False"),
    ("enable_ssl", None, "models[0].enable_ssl = None is not allowed: expected True or False"),
    ("trust_remote_code", "no", "models[0].trust_remote_code = 'no' is not allowed: expected True or False"),
    ("url", 5, "models[0].url = 5 is not allowed: expected a string"),
    ("api_key", None, "models[0].api_key = None is not allowed: expected a string"),
    ("model", 1, "models[0].model = 1 is not allowed: expected a string"),
    (
        "path",
        "/no/such/tokenizer",
        "models[0].path = '/no/such/tokenizer' is not allowed: expected an existing tokenizer folder",
    ),
    ("seed", -1, "models[0].seed = -1 is not allowed: expected an integer in [0, 4294967295]"),
    ("simulator", [1], "models[0].simulator = [1] is not allowed: expected a dict with string keys"),
    ("traffic_cfg", 3, "models[0].traffic_cfg = 3 is not allowed: expected a dict with string keys"),
    (
        "traffic_cfg",
        {"burstiness": -0.5},
        "models[0].traffic_cfg.burstiness = -0.5 is not allowed: expected a number >= 0",
    ),
    (
        "traffic_cfg",
        {"ramp_up_strategy": "sine"},
        "models[0].traffic_cfg.ramp_up_strategy = 'sine' is not allowed: expected one of 'linear', 'exponential', None, ''",
    ),
    (
        "traffic_cfg",
        {"ramp_up_start_rps": -1},
        "models[0].traffic_cfg.ramp_up_start_rps = -1 is not allowed: expected a number >= 0",
    ),
    (
        "traffic_cfg",
        {"ramp_up_end_rps": "x"},
        "models[0].traffic_cfg.ramp_up_end_rps = 'x' is not allowed: expected a number >= 0",
    ),
    ("type", dict, "models[0].type = builtins.dict is not allowed: expected one of "),
    ("ca_cert", "/no/such/ca.pem", "models[0].ca_cert = '/no/such/ca.pem' is not allowed: expected an existing PEM file"),
    ("client_cert", 3, "models[0].client_cert = 3 is not allowed: expected a string"),
    ("client_key", "/no/such/key.pem", "models[0].client_key = '/no/such/key.pem' is not allowed: expected an existing"),
    ("insecure", "yes", "models[0].insecure = 'yes' is not allowed: expected True or False"),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD, ids=[f"{b[0]}={b[1]!r}" for b in BAD])
def test_wrong_values_one_line(field, value, message):
    with pytest.raises(ConfigError) as info:
        validate_model(base(**{field: value}), SRC)
    text = info.value.message
    assert "\n" not in text
    assert text.startswith(f"{SRC}: ")
    assert message in text


def test_missing_type_and_abbr():
    with pytest.raises(ConfigError, match=r"models\[0\].type is missing"):
        validate_model({"abbr": "m"}, SRC)
    with pytest.raises(ConfigError, match=r"models\[0\].abbr is missing"):
        validate_model({"type": VLLMCustomAPIChat}, SRC)


def test_unknown_field_did_you_mean():
    with pytest.raises(ConfigError) as info:
        validate_model(base(bach_size=4), SRC)
    assert (
        info.value.message == f"{SRC}: models[0].bach_size is not a known field (did you mean 'batch_size'?)"
    )
    with pytest.raises(
        ConfigError, match=r"traffic_cfg.burstyness is not a known field \(did you mean 'burstiness'\?\)"
    ):
        validate_model(base(traffic_cfg={"burstyness": 1}), SRC)


def test_valid_ranges_and_traffic():
    m = validate_model(
        base(
            request_rate=64000,
            retry=0,
            host_port=65535,
            batch_size=100000,
            traffic_cfg=dict(
                burstiness=0, ramp_up_strategy="linear", ramp_up_start_rps=1, ramp_up_end_rps=10
            ),
            seed=7,
        ),
        SRC,
    )
    assert m.traffic_cfg.ramp_up_strategy == "linear" and m.traffic_cfg.ramp_up_end_rps == 10.0
    assert (
        validate_model(base(traffic_cfg=dict(ramp_up_strategy="")), SRC).traffic_cfg.ramp_up_strategy is None
    )
    assert validate_model(base(host_port=0, simulator={}), SRC).host_port == 0


def test_type_by_dotted_name():
    assert validate_model(base(type="ais_bench.benchmark.models.VLLMCustomAPI"), SRC).type is VLLMCustomAPI
    # dumps written before the classes moved to ais_bench.benchmark load too
    old_dump = validate_model(base(type="ais_bench.clients.backends.VLLMCustomAPI"), SRC)
    assert old_dump.type is VLLMCustomAPI and old_dump.backend == "openai-completions"


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        ({}, "http://localhost:8080/"),
        ({"host_ip": "10.0.0.2", "host_port": 9000, "enable_ssl": True}, "https://10.0.0.2:9000/"),
        ({"host_ip": "::1"}, "http://[::1]:8080/"),
        ({"url": "my-host:8000/base"}, "http://my-host:8000/base/"),
        ({"url": "my-host:8000", "enable_ssl": True}, "https://my-host:8000/"),
        ({"url": "http://x/"}, "http://x/"),
    ],
)
def test_base_url(fields, url):
    assert validate_model(base(**fields), SRC).base_url == url


def test_dump_dict_masks_api_key():
    d = validate_model(base(api_key="secret"), SRC).to_dump_dict()
    assert d["api_key"] == "***" and d["type"] == "ais_bench.benchmark.models.VLLMCustomAPIChat" and "backend" not in d
    assert "secret" not in repr(d)
    assert validate_model(base(), SRC).to_dump_dict()["api_key"] == ""


def test_models_variable_required(write):
    with pytest.raises(ConfigError, match="no variable 'models'"):
        load_models(write("models/empty.py", "x = 1\n"))
    with pytest.raises(ConfigError, match="models = \\[\\] is not allowed"):
        load_models(write("models/none.py", "models = []\n"))


def test_error_names_display_path(write, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(
        "models/x.py",
        "from ais_bench.benchmark.models import VLLMCustomAPIChat\nmodels = [dict(type=VLLMCustomAPIChat, abbr='a', batch_size=-1)]\n",
    )
    with pytest.raises(ConfigError) as info:
        load_models("models/x.py")
    assert info.value.message == (
        "models/x.py: models[0].batch_size = -1 is not allowed: expected an integer in (0, 100000]"
    )


@pytest.mark.parametrize("key", ["n", "best_of"])
def test_several_sequences_per_request_are_refused_in_one_line(key):
    """n > 1 interleaves several sequences in one stream (TPOT halved, ITL 0): refused, not mixed."""
    with pytest.raises(ConfigError) as info:
        validate_model(base(generation_kwargs={key: 2}), SRC)
    assert "\n" not in info.value.message and f"generation_kwargs.{key}=2" in info.value.message
    assert "several sequences per request" in info.value.message
    assert validate_model(base(generation_kwargs={key: 1}), SRC).generation_kwargs == {key: 1}


def test_tls_fields_default_to_the_standard_library_checks_and_take_existing_files(tmp_path):
    defaults = validate_model(base(), SRC)
    assert (defaults.ca_cert, defaults.insecure, defaults.client_cert, defaults.client_key) == ("", False, "", "")
    pem = tmp_path / "x.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\n")
    model = validate_model(base(ca_cert=str(pem), insecure=True, client_cert=str(pem), client_key=str(pem)), SRC)
    assert (model.ca_cert, model.insecure, model.client_cert, model.client_key) == (str(pem), True, str(pem), str(pem))


def test_a_client_key_without_its_certificate_is_refused_in_one_line(tmp_path):
    key = tmp_path / "key.pem"
    key.write_text("x")
    with pytest.raises(ConfigError) as info:
        validate_model(base(client_key=str(key)), SRC)
    assert info.value.message == f"{SRC}: models[0].client_key is set without client_cert"
