"""The worker loop in this process against moto: results, failures, heartbeat, stopping."""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import boto3
import pytest
from cmaes_support import Queues, make_queues, queue_depth, settings_for, wait_until
from cmaes_training import evaluators
from cmaes_training.protocol import Task, encode_task, parse_result
from cmaes_training.state_pools import StatePools
from cmaes_training.worker import ConfigError, Worker, WorkerSettings, main

TASK = Task(
    run_id="run-1",
    generation=0,
    candidate=0,
    params=(0.1, 0.2, 0.3),
    games=5,
    board="square8",
    num_players=2,
    seed=7,
    pool=None,
)


@pytest.fixture
def sqs(aws):
    return boto3.client("sqs")


@pytest.fixture
def queues(sqs) -> Queues:
    return make_queues(sqs)


def send(sqs, queues: Queues, *tasks: Task) -> None:
    for task in tasks:
        sqs.send_message(QueueUrl=queues.task, MessageBody=encode_task(task))


def collect(sqs, url: str, count: int, timeout: float = 10) -> list[dict]:
    """``count`` messages from a queue (deleted as read)."""
    got: list[dict] = []

    def enough() -> bool:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        for message in messages.get("Messages", []):
            got.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(got) >= count

    wait_until(enough, timeout, f"{count} message(s)")
    return got


def results(sqs, queues: Queues, count: int) -> list:
    return [parse_result(m["Body"]) for m in collect(sqs, queues.result, count)]


def test_a_task_is_answered_with_its_key_and_then_deleted(sqs, queues, worker_threads):
    worker_threads.start(settings_for(queues), evaluators.benchmark)
    send(sqs, queues, TASK)

    (result,) = results(sqs, queues, 1)

    assert result.key == TASK.key
    assert result.fitness == evaluators.benchmark(list(TASK.params), TASK, None)
    wait_until(lambda: queue_depth(sqs, queues.task) == (0, 0), 5, "the task to be deleted")


def test_a_task_delivered_twice_gives_identical_results(sqs, queues, worker_threads):
    worker_threads.start(settings_for(queues, concurrency=2), evaluators.benchmark)
    send(sqs, queues, TASK, TASK)

    first, second = results(sqs, queues, 2)

    assert first.key == second.key
    assert first.fitness == second.fitness


def test_a_malformed_message_ends_in_the_dlq_and_the_worker_goes_on(sqs, queues, worker_threads):
    worker = worker_threads.start(settings_for(queues), evaluators.benchmark)
    sqs.send_message(QueueUrl=queues.task, MessageBody="not json")
    wrong_dimension = json.loads(encode_task(TASK)) | {"dimension": 4}
    sqs.send_message(QueueUrl=queues.task, MessageBody=json.dumps(wrong_dimension))

    # moto implements the redrive policy: after maxReceiveCount (3) receives, the next
    # receive moves the message to the dead-letter queue.
    dead = collect(sqs, queues.dlq, 2)
    send(sqs, queues, replace(TASK, candidate=1))

    assert sorted(m["Body"] for m in dead) == sorted(["not json", json.dumps(wrong_dimension)])
    assert [r.candidate for r in results(sqs, queues, 1)] == [1]
    assert worker.counters.malformed == 6  # each of the two, received three times
    assert queue_depth(sqs, queues.task) == (0, 0)


def test_a_failed_evaluation_is_released_and_retried(sqs, queues, worker_threads):
    calls = []

    def flaky(params, task, pool):
        calls.append(task.key)
        if len(calls) == 1:
            raise RuntimeError("game engine crashed")
        return 1.0

    worker = worker_threads.start(settings_for(queues), flaky)
    send(sqs, queues, TASK)

    (result,) = results(sqs, queues, 1)

    assert result.fitness == 1.0
    assert calls == [TASK.key, TASK.key]
    assert (worker.counters.failed, worker.counters.completed) == (1, 1)


def test_an_evaluation_that_always_fails_ends_in_the_dlq(sqs, queues, worker_threads):
    def broken(params, task, pool):
        raise ValueError("no")

    worker_threads.start(settings_for(queues), broken)
    send(sqs, queues, TASK)

    (dead,) = collect(sqs, queues.dlq, 1)

    assert dead["Body"] == encode_task(TASK)
    assert queue_depth(sqs, queues.result) == (0, 0)


def test_the_heartbeat_keeps_a_long_evaluation_from_being_redelivered(sqs, queues, worker_threads):
    calls = []
    release = threading.Event()

    def slow(params, task, pool):
        calls.append(task.key)
        release.wait(3.5)  # longer than the 2 s visibility timeout
        return 2.0

    settings = settings_for(queues, visibility_timeout=2)
    worker_threads.start(settings, slow)
    worker_threads.start(settings, slow)
    send(sqs, queues, TASK)

    (result,) = results(sqs, queues, 1)

    assert result.fitness == 2.0
    assert calls == [TASK.key]


def test_the_evaluator_gets_the_tasks_state_pool(sqs, queues, worker_threads, tmp_path):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="pools")
    s3.put_object(Bucket="pools", Key="state-pools/square8_2p.json", Body=b"positions")
    seen = []

    def recording(params, task, pool):
        seen.append(pool)
        return 0.0

    pools = StatePools(s3, "pools", "state-pools/", tmp_path)
    worker_threads.start(settings_for(queues), recording, pools=pools)
    send(sqs, queues, replace(TASK, pool="square8_2p.json"), replace(TASK, pool="missing.json"))

    results(sqs, queues, 2)

    assert sorted(seen, key=str) == [None, b"positions"]


def test_messages_received_after_a_stop_request_are_released_unstarted(sqs, queues, worker_threads):
    calls = []
    worker_sqs = boto3.client("sqs")
    polling = threading.Event()
    worker_sqs.meta.events.register("before-call.sqs.ReceiveMessage", lambda **_: polling.set())
    worker = worker_threads.start(
        settings_for(queues, wait_time=5), lambda p, t, s: calls.append(t) or 0.0, sqs=worker_sqs
    )
    wait_until(polling.is_set, 10, "a long poll to start")

    worker.request_stop()
    send(sqs, queues, TASK)  # arrives during the long poll, after the stop request

    worker_threads.stop_all()
    message = sqs.receive_message(
        QueueUrl=queues.task, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]
    )["Messages"][0]
    assert message["Attributes"]["ApproximateReceiveCount"] == "2"  # released, not held
    assert calls == []
    assert worker.counters.released == 1


def test_settings_default_as_documented():
    settings = WorkerSettings.from_env(
        {"SQS_TASK_QUEUE_URL": "https://q/tasks", "SQS_RESULT_QUEUE_URL": "https://q/results"}
    )
    assert settings.bucket is None
    assert settings.state_pool_prefix == "state-pools/"
    assert settings.visibility_timeout == 300
    assert settings.concurrency == 1
    assert settings.wait_time == 20
    assert settings.evaluator == "cmaes_training.evaluators:benchmark"
    assert settings.stop_grace == 25.0
    assert settings.log_level == "INFO"


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"SQS_TASK_QUEUE_URL": ""}, "SQS_TASK_QUEUE_URL: required"),
        ({"SQS_RESULT_QUEUE_URL": " "}, "SQS_RESULT_QUEUE_URL: required"),
        ({"WORKER_CONCURRENCY": "0"}, "WORKER_CONCURRENCY: expected an integer from 1 to 64"),
        ({"WORKER_CONCURRENCY": "two"}, "WORKER_CONCURRENCY"),
        ({"WAIT_TIME_SECONDS": "21"}, "WAIT_TIME_SECONDS: expected an integer from 0 to 20"),
        ({"VISIBILITY_TIMEOUT_SECONDS": "0"}, "VISIBILITY_TIMEOUT_SECONDS"),
        ({"STOP_GRACE_SECONDS": "-1"}, "STOP_GRACE_SECONDS"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ],
)
def test_a_bad_environment_is_refused_naming_the_variable(env, problem):
    valid = {"SQS_TASK_QUEUE_URL": "https://q/tasks", "SQS_RESULT_QUEUE_URL": "https://q/results"}
    with pytest.raises(ConfigError, match=problem):
        WorkerSettings.from_env({**valid, **env})


def test_main_exits_2_with_a_message_for_a_bad_environment(capsys):
    assert main({"SQS_TASK_QUEUE_URL": "t", "SQS_RESULT_QUEUE_URL": "r", "EVALUATOR": "x"}) == 2
    assert "EVALUATOR: expected module:attr" in capsys.readouterr().err


def test_a_receive_loop_that_fails_unexpectedly_stops_the_worker():
    class BrokenSqs:
        def receive_message(self, **kwargs):
            raise RuntimeError("bug")

    settings = WorkerSettings(task_queue_url="t", result_queue_url="r", stop_grace=1.0)
    worker = Worker(settings, BrokenSqs(), evaluators.benchmark)

    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    thread.join(timeout=10)

    assert not thread.is_alive()
    assert worker.crashed


VALID = {"SQS_TASK_QUEUE_URL": "https://q/tasks", "SQS_RESULT_QUEUE_URL": "https://q/results"}


def test_scratch_dir_set_means_the_temp_dir_is_never_looked_up(monkeypatch, tmp_path):
    def no_temp_dir():
        raise FileNotFoundError("No usable temporary directory found")

    monkeypatch.setattr("tempfile.gettempdir", no_temp_dir)
    settings = WorkerSettings.from_env({**VALID, "SCRATCH_DIR": str(tmp_path)})
    assert settings.scratch_dir == str(tmp_path)


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_a_scratch_dir_that_cannot_be_made_exits_2_with_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    env = {**VALID, "SCRATCH_DIR": str(tmp_path / "file" / "scratch")}
    assert main(env) == 2
    assert _one_line(capsys.readouterr().err).startswith(
        "cmaes worker: bad environment: SCRATCH_DIR"
    )


def test_a_state_pool_cache_that_cannot_be_made_exits_2_with_one_line(aws, tmp_path, capsys):
    (tmp_path / "state-pools").write_text("")  # where the cache directory would go
    env = {**VALID, "SCRATCH_DIR": str(tmp_path), "S3_BUCKET": "pools"}
    assert main(env) == 2
    assert _one_line(capsys.readouterr().err).startswith(
        "cmaes worker: bad environment: SCRATCH_DIR"
    )


def test_a_permission_error_from_the_state_pools_exits_2_with_one_line(
    aws, monkeypatch, tmp_path, capsys
):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "state-pools"))

    monkeypatch.setattr("cmaes_training.worker.StatePools", refuse)
    env = {**VALID, "SCRATCH_DIR": str(tmp_path), "S3_BUCKET": "pools"}
    assert main(env) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("cmaes worker: bad environment: SCRATCH_DIR")
    assert "Permission denied" in line
