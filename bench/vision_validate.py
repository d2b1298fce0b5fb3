"""Requests per second of the vision validator's ``POST /validate``, end to end on 127.0.0.1.

The real service (``create_app``, served by uvicorn in this process) with the OpenAI
analyzer (the real ``openai`` SDK) pointed at the tests' local server that speaks OpenAI's
Chat Completions API, the artefact fetched from the tests' HTTPS artefact server on
127.0.0.1 (a certificate made for the run; the fetcher is given the test-only allowance for
127.0.0.1 and that CA, which the service's settings never set). Two paths:

- ``verdict``: fetch a 640x480 PNG over HTTPS, decode and scale it with Pillow, send it to
  the provider, parse the verdict (200);
- ``refused``: ``artifactsUrl`` is ``https://169.254.169.254/latest`` (422, nothing fetched,
  the provider not asked).

Each runs ``--seconds`` with ``--clients`` concurrent keep-alive clients. Measured on
whatever this machine has (its CPUs are shared), so read the figures as an order of size.

Usage: venv/bin/python bench/vision_validate.py [--seconds 5] [--clients 4]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICE = ROOT / "services" / "vision_validator"
sys.path[:0] = [str(SERVICE), str(ROOT / "services" / "common"), str(SERVICE / "tests")]

import httpx2  # noqa: E402
import uvicorn  # noqa: E402
from service_testing.ports import free_port  # noqa: E402
from vision_validator.app import create_app  # noqa: E402
from vision_validator.artifacts import ArtifactLoader  # noqa: E402
from vision_validator.fetch import ArtifactFetcher  # noqa: E402
from vision_validator.gpu import GpuStatus  # noqa: E402
from vision_validator.providers import OpenAIAnalyzer  # noqa: E402
from vision_validator.settings import Settings  # noqa: E402
from vv_support import (  # noqa: E402
    ArtifactServer,
    ProviderServer,
    Reply,
    make_certificate,
    openai_completion,
    png,
)

API_KEY = "bench-api-key-0123456789abcdef"
VERDICT = {"valid": True, "score": 0.9, "reasons": ["a cylindrical base"]}


def run(url: str, artifacts_url: str, seconds: float, clients: int, expect: int) -> float:
    body = {
        "context": {"sessionId": "bench-1", "artifactsUrl": artifacts_url, "step": 1},
        "args": {"part": "base", "partDescription": "A cylindrical base, 40 mm across"},
    }
    counts = [0] * clients
    wrong: list[int] = []
    deadline = time.monotonic() + seconds

    def client(index: int) -> None:
        with httpx2.Client(headers={"X-API-Key": API_KEY}, timeout=30) as http:
            while time.monotonic() < deadline:
                response = http.post(f"{url}/validate", json=body)
                if response.status_code != expect:
                    wrong.append(response.status_code)
                counts[index] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    if wrong:
        raise SystemExit(f"unexpected statuses {sorted(set(wrong))} (expected {expect})")
    return sum(counts) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    with tempfile.TemporaryDirectory() as tmp:
        cert, key = make_certificate(Path(tmp))
        artifacts = ArtifactServer(cert, key)
        provider = ProviderServer(lambda path: Reply(body=openai_completion(json.dumps(VERDICT))))
        image_url = artifacts.image("/step-1.png", png(640, 480))
        fetcher = ArtifactFetcher(allow_addresses=["127.0.0.1"], ca_file=str(cert))
        analyzer = OpenAIAnalyzer(
            ArtifactLoader(fetcher), api_key="sk-bench-0123456789", base_url=provider.base_url
        )
        app = create_app(
            Settings(api_key=API_KEY),
            gpu_probe=lambda: GpuStatus(available=False),
            analyzer=analyzer,
        )
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        try:
            ok = run(url, image_url, args.seconds, args.clients, 200)
            asked = len(provider.requests)
            refused = run(url, "https://169.254.169.254/latest", args.seconds, args.clients, 422)
            assert len(provider.requests) == asked, "a refused request reached the provider"
        finally:
            server.should_exit = True
            thread.join(10)
            artifacts.close()
            provider.close()
    print(f"POST /validate, {args.clients} clients, {args.seconds:g} s each, 127.0.0.1:")
    print(f"  verdict (HTTPS fetch of a 640x480 PNG, Pillow, openai SDK): {ok:7.1f} req/s")
    print(f"  refused (artifactsUrl https://169.254.169.254/latest, 422): {refused:7.1f} req/s")
    print(f"  provider calls during the refused run: 0 (of {asked} in all)")


if __name__ == "__main__":
    main()
