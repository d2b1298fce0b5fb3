"""Training throughput: evaluations per second with 1 worker, then with 4, over SQS.

Everything runs on this machine: a moto server on a free local port stands in for SQS,
the coordinator runs in this process, and the workers are real subprocesses
(``python -m cmaes_training.worker``, as the container runs them) that reach the server
through ``AWS_ENDPOINT_URL``. The ``sleep`` evaluator makes each evaluation take
``--sleep`` seconds, so the ideal rate is workers / sleep and the ratio between the two
runs shows how much the queue round trips cost. Workers are started and polling before the
clock starts; the clock covers the coordinator's whole run (dispatch, evaluation,
collection, checkpoints).

Usage: venv/bin/python bench/training_throughput.py [--sleep 0.5] [--population 16]
       [--generations 3] [--workers 1 4]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parent.parent
SERVICE = ROOT / "services" / "cmaes_worker"
COMMON = ROOT / "services" / "common"
"""The package every image installs beside its own (service_common)."""
sys.path[:0] = [str(SERVICE), str(COMMON)]

from cmaes_training import coordinator  # noqa: E402

REGION = "us-east-1"


def make_queues(sqs) -> tuple[str, str]:
    name = f"bench{uuid.uuid4().hex[:8]}"
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]
    redrive = {"deadLetterTargetArn": arn["QueueArn"], "maxReceiveCount": "3"}
    tasks = sqs.create_queue(
        QueueName=f"{name}-tasks",
        Attributes={"VisibilityTimeout": "30", "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    results = sqs.create_queue(QueueName=f"{name}-results")["QueueUrl"]
    return tasks, results


def start_workers(count: int, tasks: str, results: str, sleep: float, logs: Path) -> list:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join((str(SERVICE), str(COMMON))),
        "SQS_TASK_QUEUE_URL": tasks,
        "SQS_RESULT_QUEUE_URL": results,
        "EVALUATOR": "cmaes_training.evaluators:sleep",
        "EVAL_SLEEP_SECONDS": str(sleep),
        "VISIBILITY_TIMEOUT_SECONDS": "30",
        "WAIT_TIME_SECONDS": "1",
        "WORKER_CONCURRENCY": "1",
        "STOP_GRACE_SECONDS": "5",
        "LOG_LEVEL": "INFO",
    }
    workers = []
    for i in range(count):
        log = logs / f"worker-{count}-{i}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "cmaes_training.worker"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        workers.append((process, log))
    deadline = time.monotonic() + 60
    for process, log in workers:
        while "worker started" not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"a worker did not start:\n{log.read_text()}")
            time.sleep(0.05)
    return workers


def stop_workers(workers: list) -> None:
    for process, _ in workers:
        process.send_signal(signal.SIGTERM)
    for process, _ in workers:
        process.wait(timeout=30)


def measure(workers: int, args: argparse.Namespace, sqs, scratch: Path) -> float:
    tasks, results = make_queues(sqs)
    running = start_workers(workers, tasks, results, args.sleep, scratch)
    try:
        started = time.perf_counter()
        code = coordinator.main(
            [
                *[
                    "--queue-backend",
                    "sqs",
                    "--task-queue-url",
                    tasks,
                    "--result-queue-url",
                    results,
                ],
                *[
                    "--generations",
                    str(args.generations),
                    "--population-size",
                    str(args.population),
                ],
                *["--games-per-eval", "1", "--generation-timeout", "120", "--log-level", "WARNING"],
                *["--output", str(scratch / f"run-{workers}")],
            ]
        )
        elapsed = time.perf_counter() - started
    finally:
        stop_workers(running)
    if code != 0:
        raise SystemExit(f"the coordinator failed with {workers} worker(s): exit {code}")
    return args.population * args.generations / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sleep", type=float, default=0.5, help="seconds per evaluation")
    parser.add_argument("--population", type=int, default=16)
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs=2, default=[1, 4], metavar=("FEW", "MANY"))
    args = parser.parse_args()

    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
        }
    )
    # The server's per-request access log would bury the result.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ["AWS_ENDPOINT_URL"] = f"http://{host}:{port}"
    sqs = boto3.client("sqs")
    try:
        with tempfile.TemporaryDirectory() as scratch:
            rates = {n: measure(n, args, sqs, Path(scratch)) for n in args.workers}
    finally:
        server.stop()

    few, many = args.workers
    evaluations = args.population * args.generations
    print(
        f"{evaluations} evaluations ({args.generations} generations x {args.population}), "
        f"{args.sleep:g} s each, moto SQS on {host}:{port}"
    )
    print(f"{'workers':>8}{'evals/s':>10}{'ideal':>8}{'efficiency':>12}")
    for n, rate in rates.items():
        ideal = n / args.sleep
        print(f"{n:8d}{rate:10.2f}{ideal:8.2f}{rate / ideal:11.0%}")
    print(f"speed-up {many} vs {few} worker(s): {rates[many] / rates[few]:.2f}x (goal >= 3.5x)")


if __name__ == "__main__":
    main()
