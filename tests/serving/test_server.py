"""`seqcls serve` as a client sees it: a real uvicorn process on 127.0.0.1, a real HTTP
client, every endpoint, every bad input, concurrency, and stopping with SIGTERM."""

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

import seqcls

START_SECONDS = 90


class Server:
    def __init__(self, run_dir, *options):
        command = [sys.executable, "-m", "seqcls", "serve", str(run_dir), "--port", "0"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [*command, *map(str, options)],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self.url = None
        deadline = time.monotonic() + START_SECONDS
        while self.url is None and time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                break
            self.lines.append(line)
            found = re.search(r"on (http://127\.0\.0\.1:\d+)", line)
            if found:
                self.url = found.group(1)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.client = httpx.Client(base_url=self.url or "http://127.0.0.1:1", timeout=30)

    def _read(self):
        for line in self.process.stderr:
            self.lines.append(line)

    def wait_ready(self):
        assert self.url, "".join(self.lines)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline and self.process.poll() is None:
            if self.client.get("/readyz").status_code == 200:
                return self
            time.sleep(0.2)
        raise AssertionError("not ready in time:\n" + "".join(self.lines))

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self._reader.join(5)
        self.client.close()
        return code


@pytest.fixture(scope="module")
def server(trained_run):
    running = Server(
        trained_run[1], "--max-texts", "20", "--max-body", "4096", "--max-text-chars", "300"
    ).wait_ready()
    yield running
    assert running.stop() == 0, "".join(running.lines)


@pytest.fixture(scope="module")
def classifier(trained_run):
    return seqcls.load(trained_run[1])


def test_serve_endpoints(server, trained_run):
    assert server.client.get("/healthz").json() == {"status": "alive"}
    assert server.client.get("/readyz").json() == {"status": "ready"}
    metadata = server.client.get("/metadata").json()
    labels = json.loads((trained_run[1] / "labels.json").read_text())
    assert metadata["labels"] == labels["labels"]
    assert metadata["task"] == labels["task"]
    assert metadata["config"]["name"] == "tiny-test"
    assert metadata["versions"]["seqcls"] == seqcls.__version__
    model = (trained_run[1] / "model.keras").read_bytes()
    assert metadata["run_id"] == hashlib.sha256(model).hexdigest()
    assert metadata["limits"]["max_texts"] == 20
    docs = server.client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    schema = server.client.get("/openapi.json").json()
    assert "/predict" in schema["paths"]
    metrics = server.client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'seqcls_requests_total{endpoint="/healthz",status="200"}' in metrics.text


def test_serve_predictions_are_the_apis(server, classifier):
    texts = ["my card was lost", "exchange rate for euros", "", "café 東京 🙂"]
    response = server.client.post("/predict", json={"texts": texts, "top_k": 2, "attention": True})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == classifier.predict(texts, top_k=2, attention=True)
    # curl -d sends a form content type; the JSON body is read all the same.
    plain = server.client.post(
        "/predict",
        content=json.dumps({"texts": texts[:1]}),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert plain.json()["predictions"] == classifier.predict(texts[:1])
    typed = server.client.post(
        "/predict", content=json.dumps({"texts": texts[:1]}), headers={"content-type": "text/plain"}
    )
    assert typed.json()["predictions"] == classifier.predict(texts[:1])
    for abstain in ("auto", 0.9, 0.0):
        answer = server.client.post("/predict", json={"texts": texts, "abstain": abstain})
        assert answer.json()["predictions"] == classifier.predict(texts, abstain=abstain)
    metadata = server.client.get("/metadata").json()
    assert metadata["abstention"] == classifier.run.abstention
    assert metadata["calibration"] == classifier.run.calibration


BAD_REQUESTS = [
    # (what is sent, status, error type)
    (b'{"texts": ["a"', 422, "invalid_json"),
    (b'{"texts": "one text"}', 422, "invalid_request"),
    (b'{"texts": [1, 2]}', 422, "invalid_request"),
    (b'{"texts": ["a"], "top_k": "2"}', 422, "invalid_request"),
    (b'{"texts": ["a"], "topk": 2}', 422, "invalid_request"),
    (b'{"texts": []}', 422, "invalid_request"),
    (b"[]", 422, "invalid_request"),
    (b"", 422, "invalid_request"),
    (b'{"texts": ["a"], "top_k": 99}', 422, "invalid_option"),
    (b'{"texts": ["a"], "abstain": "sometimes"}', 422, "invalid_request"),
    (b'{"texts": ["a"], "abstain": 1.5}', 422, "invalid_request"),
    (b'{"texts": ["a"], "abstain": "0.5"}', 422, "invalid_request"),
    (b'{"texts": ["\xff\xfe"]}', 400, "not_utf8"),
    (json.dumps({"texts": ["a"] * 21}).encode(), 413, "too_many_texts"),
    (json.dumps({"texts": ["a" * 301]}).encode(), 413, "text_too_long"),
    (json.dumps({"texts": ["a" * 250] * 17}).encode(), 413, "body_too_large"),
]


@pytest.mark.parametrize("body, status, kind", BAD_REQUESTS)
def test_serve_bad_requests_get_json_errors_and_the_server_stays_up(server, body, status, kind):
    response = server.client.post(
        "/predict", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == kind and error["message"]
    assert "Traceback" not in response.text
    assert server.client.get("/healthz").status_code == 200


def test_serve_body_over_the_limit_while_streaming_is_413(server):
    def chunks():
        for _ in range(10):
            yield b" " * 1000  # no Content-Length: sent chunked

    response = server.client.post(
        "/predict", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "body_too_large"


def test_serve_unknown_paths_and_methods_are_json(server):
    assert server.client.get("/nope").json()["error"]["type"] == "not_found"
    response = server.client.get("/predict")
    assert response.status_code == 405
    assert response.json()["error"]["type"] == "method_not_allowed"


def test_serve_errors_are_counted_by_kind(server):
    server.client.post("/predict", json={"texts": []})
    text = server.client.get("/metrics").text
    assert re.search(r'seqcls_errors_total\{kind="invalid_request"\} [1-9]', text)


def test_serve_concurrent_clients_get_their_own_answers_in_order(server, classifier):
    clients = 32
    requests = [[f"card {i} lost", f"rate {i} for euros", f"top up {i}"] for i in range(clients)]
    expected = [classifier.predict(texts) for texts in requests]
    before = batches(server)

    def ask(texts):
        with httpx.Client(base_url=server.url, timeout=60) as client:
            return client.post("/predict", json={"texts": texts}).json()["predictions"]

    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(ask, requests))
    assert answers == expected
    calls, texts = (now - then for now, then in zip(batches(server), before))
    assert texts == 3 * clients
    assert calls < clients  # requests were merged into shared model calls


def batches(server):
    text = server.client.get("/metrics").text
    count = float(re.search(r"^seqcls_batch_texts_count (\S+)$", text, re.M).group(1))
    total = float(re.search(r"^seqcls_batch_texts_sum (\S+)$", text, re.M).group(1))
    return count, total


@pytest.mark.slow  # moved out of the default suite (over 5 s): .ci/run runs it
def test_serve_sigterm_answers_every_accepted_request_then_exits_0(trained_run):
    # A long batching wait keeps the requests in flight when SIGTERM arrives.
    server = Server(trained_run[1], "--max-wait-ms", "1500", "--max-batch", "1000").wait_ready()
    results = []

    def ask(index):
        with httpx.Client(base_url=server.url, timeout=60) as client:
            try:
                response = client.post("/predict", json={"texts": [f"text {index}"]})
                results.append(response.status_code)
            except httpx.TransportError:
                results.append("refused")  # not accepted: the server had stopped listening

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    code = server.stop(signal.SIGTERM)
    for thread in threads:
        thread.join(30)
    assert code == 0, "".join(server.lines)
    assert results.count(200) == 16, results
    assert "stopped" in "".join(server.lines)


@pytest.mark.slow  # a server of its own: 10 s
def test_serve_sigint_exits_0(trained_run):
    server = Server(trained_run[1]).wait_ready()
    assert server.stop(signal.SIGINT) == 0, "".join(server.lines)


def test_serve_unknown_run_and_port_in_use_are_clear_errors(trained_run, tmp_path):
    command = [sys.executable, "-m", "seqcls", "serve"]
    missing = subprocess.run([*command, str(tmp_path / "nope")], capture_output=True, text=True)
    assert missing.returncode == 2 and "nope" in missing.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = subprocess.run(
            [*command, str(trained_run[1]), "--port", str(port)], capture_output=True, text=True
        )
    assert busy.returncode == 2 and f"port {port} is in use" in busy.stderr


@pytest.mark.slow  # a server of its own: 10 s
def test_serve_a_model_that_cannot_load_stops_with_the_clis_error(trained_run, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(trained_run[1], damaged)
    model = damaged / "model.keras"
    model.write_bytes(model.read_bytes()[:500])
    server = Server(damaged)
    code = server.process.wait(START_SECONDS)
    server.stop()
    assert code == 3, "".join(server.lines)
    assert "not a readable Keras model" in "".join(server.lines)


@pytest.mark.slow  # two worker processes, each loading TensorFlow and the model
def test_serve_workers_share_the_port_and_stop_on_sigterm(trained_run, classifier):
    server = Server(trained_run[1], "--workers", "2").wait_ready()
    texts = ["my card was lost"]
    answered, deadline = 0, time.monotonic() + START_SECONDS
    while answered < 6 and time.monotonic() < deadline:
        # New connections: the workers take turns accepting; one may still be loading (503).
        with httpx.Client(base_url=server.url, timeout=30) as client:
            response = client.post("/predict", json={"texts": texts})
        if response.status_code == 503:
            time.sleep(0.2)
            continue
        assert response.json()["predictions"] == classifier.predict(texts)
        answered += 1
    assert answered == 6
    assert server.stop(signal.SIGTERM) == 0, "".join(server.lines)


def test_serve_without_its_extra_says_how_to_install_it(trained_run):
    # fastapi made unimportable the way Python itself marks a failed import.
    code = (
        "import sys; sys.modules['fastapi'] = None; sys.argv = ['seqcls', 'serve', sys.argv[1]]; "
        "from seqcls.cli import main; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(trained_run[1])], capture_output=True, text=True
    )
    assert done.returncode == 2, done.stderr
    assert "pip install 'seqcls[serve]'" in done.stderr and "FastAPI" in done.stderr


@pytest.mark.slow  # a server of its own, stopped while TensorFlow loads
def test_serve_stopped_while_loading_starts_nothing_and_exits_0(trained_run):
    server = Server(trained_run[1])
    assert server.url, "".join(server.lines)
    time.sleep(1)  # listening; the model is still loading
    assert server.stop(signal.SIGINT) == 0
    said = "".join(server.lines)
    assert "ready" not in said.replace("/readyz", "") and "Traceback" not in said
    assert "Task was destroyed" not in said and "stopped" in said
