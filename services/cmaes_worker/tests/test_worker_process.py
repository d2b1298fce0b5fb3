"""The worker as the container runs it: a subprocess, signals, a kill, the moto server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from cmaes_support import (
    IMPORT_PATH,
    make_queues,
    queue_depth,
    settings_for,
    wait_until,
    worker_env,
)
from cmaes_training import evaluators
from cmaes_training.coordinator import SqsBackend
from cmaes_training.protocol import Task, encode_task, parse_result


def task(candidate: int = 0) -> Task:
    return Task(
        run_id="run-p",
        generation=0,
        candidate=candidate,
        params=(0.1, 0.2),
        games=2,
        board="square8",
        num_players=2,
        seed=3,
        pool=None,
    )


@pytest.fixture
def sqs(moto_endpoint):
    return boto3.client("sqs")


def test_without_queue_urls_the_worker_exits_2_naming_them():
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQS_")}
    done = subprocess.run(
        [sys.executable, "-m", "cmaes_training.worker"],
        env={**env, "PYTHONPATH": IMPORT_PATH},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "SQS_TASK_QUEUE_URL: required" in done.stderr
    assert "SQS_RESULT_QUEUE_URL: required" in done.stderr


def test_on_sigterm_a_running_evaluation_finishes_and_the_worker_exits_0(
    sqs, moto_endpoint, worker_processes
):
    queues = make_queues(sqs)
    env = worker_env(
        queues,
        moto_endpoint,
        EVALUATOR="cmaes_training.evaluators:sleep",
        EVAL_SLEEP_SECONDS="1.5",
        STOP_GRACE_SECONDS="10",
    )
    worker = worker_processes(env)
    sqs.send_message(QueueUrl=queues.task, MessageBody=encode_task(task()))
    worker.wait_for_event("evaluation started", 20)

    worker.process.send_signal(signal.SIGTERM)
    started = time.monotonic()

    assert worker.process.wait(timeout=10) == 0
    assert time.monotonic() - started < 5
    messages = sqs.receive_message(QueueUrl=queues.result, WaitTimeSeconds=1)["Messages"]
    assert parse_result(messages[0]["Body"]).key == task().key
    assert queue_depth(sqs, queues.task) == (0, 0)


def test_on_sigterm_an_evaluation_past_the_grace_period_is_released(
    sqs, moto_endpoint, worker_processes
):
    queues = make_queues(sqs, visibility=30)
    env = worker_env(
        queues,
        moto_endpoint,
        EVALUATOR="cmaes_training.evaluators:sleep",
        EVAL_SLEEP_SECONDS="60",
        STOP_GRACE_SECONDS="0.5",
        VISIBILITY_TIMEOUT_SECONDS="30",
    )
    worker = worker_processes(env)
    sqs.send_message(QueueUrl=queues.task, MessageBody=encode_task(task()))
    worker.wait_for_event("evaluation started", 20)

    worker.process.send_signal(signal.SIGTERM)
    started = time.monotonic()

    assert worker.process.wait(timeout=10) == 0
    assert time.monotonic() - started < 3
    # Visible again at once, not after the 30 s visibility timeout.
    message = sqs.receive_message(
        QueueUrl=queues.task, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]
    )["Messages"][0]
    assert message["Attributes"]["ApproximateReceiveCount"] == "2"
    assert "grace period over" in worker.output()


def test_a_worker_killed_mid_task_loses_nothing(
    sqs, moto_endpoint, worker_processes, worker_threads
):
    queues = make_queues(sqs, visibility=2)
    doomed = worker_processes(
        worker_env(
            queues,
            moto_endpoint,
            EVALUATOR="cmaes_training.evaluators:sleep",
            EVAL_SLEEP_SECONDS="60",
        )
    )
    backend = SqsBackend(
        boto3.client("sqs"), queues.task, queues.result, generation_timeout=30, max_redispatch=0
    )
    tasks = [task(i) for i in range(4)]
    with ThreadPoolExecutor(1) as pool:
        generation = pool.submit(backend.evaluate, tasks)
        held = doomed.wait_for_event("evaluation started", 20)
        doomed.process.kill()
        doomed.process.wait(timeout=10)
        worker_threads.start(settings_for(queues), evaluators.benchmark)
        evaluation = generation.result(timeout=30)

    assert sorted(evaluation.fitness) == [0, 1, 2, 3]
    for t in tasks:
        assert evaluation.fitness[t.candidate] == evaluators.benchmark(list(t.params), t, None)
    assert evaluation.dispatches == 1  # recovered by the visibility timeout, not re-dispatch
    assert held["candidate"] in evaluation.fitness
    wait_until(lambda: queue_depth(sqs, queues.task) == (0, 0), 5, "an empty task queue")
    assert queue_depth(sqs, queues.dlq) == (0, 0)


def test_the_worker_starts_with_aws_region_alone(sqs, moto_endpoint, tmp_path):
    queues = make_queues(sqs)
    env = {k: v for k, v in os.environ.items() if k != "AWS_DEFAULT_REGION"}
    env = {**env, **worker_env(queues, moto_endpoint), "PYTHONPATH": IMPORT_PATH}
    env |= {"S3_BUCKET": "pools", "SCRATCH_DIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "cmaes_training.worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3)
        assert process.poll() is None, process.communicate()[1]
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert '"worker started"' in out
