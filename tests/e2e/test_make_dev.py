"""`make dev`'s program (`python -m local`): starts everything, writes local.json, stops everything."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import requests

from local.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_dev_serves_writes_local_json_and_stops_everything_on_ctrl_c(tmp_path):
    port = free_port()
    env = {**os.environ, "GATEHOUSE_PORT": str(port), "GATEHOUSE_STATE_DIR": str(tmp_path)}
    env.pop("REDIS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "local"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        # Given make dev's program, When it is up (local.json is written after the API starts
        # serving, just before the banner, so a person waits for both), Then /health answers
        # health+json on GATEHOUSE_PORT
        local_json = tmp_path / "local.json"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                response = requests.get(f"http://127.0.0.1:{port}/health", timeout=1)
                if local_json.exists():
                    break
            except (requests.ConnectionError, requests.Timeout):
                # Not up yet, or a first (cold) answer slower than the 1 s timeout on a loaded machine.
                pass
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            time.sleep(0.2)
        else:
            raise AssertionError("the local stack did not answer /health and write local.json within 60 s")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/health+json"

        # And local.json has what a person or a script needs to make a first authenticated call
        info = json.loads(local_json.read_text())
        assert info["apiUrl"] == f"http://127.0.0.1:{port}"
        assert info["adminKey"].startswith("gk_test_")
        assert {"issuer", "audience", "algorithm", "secret"} <= info["jwt"].keys()
        me = requests.get(f"{info['apiUrl']}/v1/me", headers={"Authorization": f"Bearer {info['adminKey']}"}, timeout=5)
        assert me.status_code == 200
        assert me.json()["scopes"] == ["admin"]
        service_ports = [urlparse(info[k]).port for k in ("awsEndpointUrl", "dynamodbEndpointUrl", "redisUrl")]
        assert all(_listening(p) for p in service_ports)
    finally:
        # When Ctrl-C arrives, Then it exits cleanly and nothing it started is still listening
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Stopped" in output
    assert not _listening(port)
    assert not any(_listening(p) for p in service_ports)
