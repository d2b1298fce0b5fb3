"""Helpers for the worker tests: queues as the stack makes them, workers as threads or processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3
from cmaes_training.evaluators import Evaluator
from cmaes_training.worker import Worker, WorkerSettings

SERVICE = Path(__file__).resolve().parent.parent
# PYTHONPATH of a worker run as a process: its package and service_common, both of which the
# image copies into /app.
IMPORT_PATH = os.pathsep.join((str(SERVICE), str(SERVICE.parent / "common")))
REGION = "us-east-1"
MAX_RECEIVE_COUNT = 3


@dataclass(frozen=True)
class Queues:
    task: str
    result: str
    dlq: str


def make_queues(sqs: Any, visibility: int = 2, max_receive: int = MAX_RECEIVE_COUNT) -> Queues:
    """Task queue with a redrive policy to its DLQ, and the result queue, as the stack has."""
    name = f"t{uuid.uuid4().hex[:10]}"
    dlq = sqs.create_queue(QueueName=f"{name}-tasks-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive)}
    task = sqs.create_queue(
        QueueName=f"{name}-tasks",
        Attributes={"VisibilityTimeout": str(visibility), "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    result = sqs.create_queue(QueueName=f"{name}-results")["QueueUrl"]
    return Queues(task=task, result=result, dlq=dlq)


def queue_depth(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def settings_for(queues: Queues, **overrides: Any) -> WorkerSettings:
    base = WorkerSettings(
        task_queue_url=queues.task,
        result_queue_url=queues.result,
        visibility_timeout=2,
        wait_time=1,
        stop_grace=5.0,
    )
    return replace(base, **overrides)


class WorkerThreads:
    """Workers running in threads of this process; all stopped at teardown."""

    def __init__(self) -> None:
        self.running: list[tuple[Worker, threading.Thread]] = []

    def start(
        self, settings: WorkerSettings, evaluator: Evaluator, sqs: Any = None, **kwargs: Any
    ) -> Worker:
        worker = Worker(settings, sqs or boto3.client("sqs"), evaluator, **kwargs)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        self.running.append((worker, thread))
        return worker

    def stop_all(self) -> None:
        for worker, _ in self.running:
            worker.request_stop()
        for _, thread in self.running:
            thread.join(timeout=15)
            assert not thread.is_alive(), "a worker thread did not stop"
        self.running.clear()


class WorkerProcess:
    """``python -m cmaes_training.worker`` as a real subprocess, its stdout read line by line."""

    def __init__(self, env: dict[str, str]):
        full_env = {**os.environ, "PYTHONPATH": IMPORT_PATH, "PYTHONUNBUFFERED": "1", **env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cmaes_training.worker"],
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def events(self) -> list[dict]:
        out = []
        for line in list(self.lines):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def wait_for_event(self, message: str, timeout: float) -> dict:
        def found() -> dict | None:
            return next((e for e in self.events() if e.get("message") == message), None)

        try:
            return wait_until(found, timeout, f"worker log {message!r}")
        except AssertionError:
            output = "\n".join(self.lines)
            raise AssertionError(f"no {message!r} in worker output:\n{output}") from None

    def output(self) -> str:
        self._reader.join(timeout=5)
        return "\n".join(self.lines)


def worker_env(queues: Queues, endpoint: str, **extra: str) -> dict[str, str]:
    """The environment the ECS task definition gives a worker, pointed at the moto server."""
    return {
        "SQS_TASK_QUEUE_URL": queues.task,
        "SQS_RESULT_QUEUE_URL": queues.result,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "VISIBILITY_TIMEOUT_SECONDS": "2",
        "WAIT_TIME_SECONDS": "1",
        "LOG_LEVEL": "DEBUG",
        **extra,
    }
