"""The worker: evaluates CMA-ES candidates from the task queue until it is told to stop.

Run as ``python -m cmaes_training.worker`` (the container's entry point); configured only by
the environment (see ``WorkerSettings.from_env`` and the README). One poller thread
long-polls the task queue for as many messages as there are free evaluation slots; each
valid task is evaluated in a slot while a heartbeat thread keeps every held message
invisible; the result is sent to the result queue and only then is the task deleted, so a
worker that dies at any point loses nothing: its message reappears after the visibility
timeout and another worker evaluates it again, to the same result.

Malformed messages and failed evaluations are released at once (visibility 0) without
being deleted: the queue's redrive policy moves a message that keeps failing to the
dead-letter queue after ``maxReceiveCount`` receives.

On SIGTERM (a Fargate Spot interruption, a scale-in) the worker stops receiving, releases
what it has not started, lets running evaluations finish for up to ``STOP_GRACE_SECONDS``,
releases whatever is still unfinished at that deadline and exits with status 0.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoRegionError
from service_common import logs
from service_common.env import ConfigError, EnvReader

from cmaes_training import evaluators, queues
from cmaes_training.evaluators import Evaluator
from cmaes_training.protocol import ProtocolError, Result, Task, encode_result, parse_task
from cmaes_training.state_pools import StatePools

log = logging.getLogger("cmaes_training.worker")


@dataclass(frozen=True)
class WorkerSettings:
    """The worker's configuration; each field is read from the variable in its comment."""

    task_queue_url: str
    """SQS_TASK_QUEUE_URL: the queue tasks are received from. Required."""
    result_queue_url: str
    """SQS_RESULT_QUEUE_URL: the queue results are sent to. Required."""
    bucket: str | None = None
    """S3_BUCKET: the bucket holding state pools. Default none: tasks get no state pool."""
    state_pool_prefix: str = "state-pools/"
    """STATE_POOL_PREFIX: key prefix of the pools in the bucket. Default ``state-pools/``."""
    visibility_timeout: int = 300
    """VISIBILITY_TIMEOUT_SECONDS: the task queue's visibility timeout; held messages are
    extended by this much every third of it. Default 300."""
    concurrency: int = 1
    """WORKER_CONCURRENCY: evaluations run in parallel. Default 1."""
    wait_time: int = 20
    """WAIT_TIME_SECONDS: long-poll wait of each receive, 0-20. Default 20."""
    evaluator: str = evaluators.DEFAULT
    """EVALUATOR: ``module:attr`` of the evaluator. Default the benchmark."""
    scratch_dir: str = field(default_factory=tempfile.gettempdir)
    """SCRATCH_DIR: writable directory for the state-pool cache. Default the temp dir."""
    stop_grace: float = 25.0
    """STOP_GRACE_SECONDS: how long running evaluations may finish after SIGTERM. Default 25."""
    log_level: str = "INFO"
    """LOG_LEVEL: DEBUG, INFO, WARNING or ERROR. Default INFO."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WorkerSettings:
        read = EnvReader(env)

        def required(name: str) -> str:
            value = read.text(name)
            if not value:
                read.problem(f"{name}: required (the queue URL)")
            return value

        def number(name: str, default: float, low: float, high: float, kind: type) -> Any:
            raw = read.text(name)
            if not raw:
                return default
            try:
                value = kind(raw)
            except ValueError:
                value = None
            if value is None or not low <= value <= high:
                form = "an integer" if kind is int else "a number"
                read.problem(f"{name}: expected {form} from {low:g} to {high:g}, got {raw!r}")
                return default
            return value

        log_level = read.log_level()
        settings = cls(
            task_queue_url=required("SQS_TASK_QUEUE_URL"),
            result_queue_url=required("SQS_RESULT_QUEUE_URL"),
            bucket=read.text("S3_BUCKET") or None,
            state_pool_prefix=env.get("STATE_POOL_PREFIX", "state-pools/"),
            # SQS accepts visibility timeouts up to 12 hours.
            visibility_timeout=number("VISIBILITY_TIMEOUT_SECONDS", 300, 1, 43_200, int),
            concurrency=number("WORKER_CONCURRENCY", 1, 1, 64, int),
            wait_time=number("WAIT_TIME_SECONDS", 20, 0, 20, int),
            evaluator=read.text("EVALUATOR", evaluators.DEFAULT),
            # Only looked up when unset: gettempdir() raises where no temp dir is writable.
            scratch_dir=read.text("SCRATCH_DIR") or tempfile.gettempdir(),
            stop_grace=number("STOP_GRACE_SECONDS", 25.0, 0, 3600, float),
            log_level=log_level,
        )
        read.check()
        return settings


@dataclass(eq=False)
class _Held:
    """A task message this worker has received and neither deleted nor released."""

    receipt: str
    message_id: str
    task: Task
    future: Future | None = None
    started: bool = False
    released: bool = False


@dataclass
class Counters:
    completed: int = 0
    failed: int = 0
    malformed: int = 0
    released: int = 0


class Worker:
    """Receives, evaluates and answers tasks until ``request_stop`` (or SIGTERM in ``main``).

    ``sqs`` is a boto3 SQS client; ``pools`` reads state pools (``None``: no bucket).
    """

    def __init__(
        self,
        settings: WorkerSettings,
        sqs: Any,
        evaluator: Evaluator,
        pools: StatePools | None = None,
        worker_id: str | None = None,
    ):
        self.settings = settings
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.counters = Counters()
        # Set when the receive loop failed unexpectedly; ``main`` then exits with status 1.
        self.crashed = False
        self._sqs = sqs
        self._evaluator = evaluator
        self._pools = pools
        self._held: dict[str, _Held] = {}
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._executor = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="evaluate")

    def request_stop(self) -> None:
        """Stop receiving and begin the graceful shutdown that ``run`` carries out."""
        self._stop.set()
        with self._changed:
            self._changed.notify_all()

    def run(self) -> bool:
        """Work until stopped; True if nothing was still running at the stop deadline."""
        s = self.settings
        log.info(
            "worker started",
            extra={
                "worker": self.worker_id,
                "concurrency": s.concurrency,
                "evaluator": s.evaluator,
            },
        )
        heartbeat_stop = threading.Event()
        heartbeat = threading.Thread(
            target=self._heartbeat, args=(heartbeat_stop,), name="heartbeat", daemon=True
        )
        poller = threading.Thread(target=self._poll, name="poller", daemon=True)
        heartbeat.start()
        poller.start()
        self._stop.wait()

        deadline = time.monotonic() + s.stop_grace
        with self._changed:
            held = list(self._held.values())
        unstarted = [h for h in held if h.future is not None and h.future.cancel()]
        self._release(unstarted, "stopping: not started")
        log.info(
            "stopping",
            extra={"released": len(unstarted), "running": len(held) - len(unstarted)},
        )
        with self._changed:
            while (self._held or poller.is_alive()) and time.monotonic() < deadline:
                self._changed.wait(min(0.1, max(0.0, deadline - time.monotonic())))
            unfinished = list(self._held.values())
        self._release(unfinished, "stopping: grace period over")
        heartbeat_stop.set()
        self._executor.shutdown(wait=False, cancel_futures=True)
        clean = not unfinished and not poller.is_alive()
        log.info("worker stopped", extra={"clean": clean, **vars(self.counters)})
        return clean

    def _poll(self) -> None:
        try:
            self._poll_until_stopped()
        except Exception:
            # A worker that no longer receives must not linger: stop, and exit non-zero so
            # that ECS replaces the task.
            log.exception("poller failed; stopping")
            self.crashed = True
            self.request_stop()

    def _poll_until_stopped(self) -> None:
        s = self.settings
        while not self._stop.is_set():
            with self._changed:
                while len(self._held) >= s.concurrency and not self._stop.is_set():
                    self._changed.wait()
                free = s.concurrency - len(self._held)
            if self._stop.is_set():
                break
            try:
                messages = queues.receive(self._sqs, s.task_queue_url, free, s.wait_time)
            except (BotoCoreError, ClientError):
                log.exception("receive failed; retrying in 1 s")
                self._stop.wait(1.0)
                continue
            if self._stop.is_set():
                # Received during the last long poll after SIGTERM: give them straight back.
                receipts = [m["ReceiptHandle"] for m in messages]
                self._change_visibility(receipts, 0)
                self._count("released", len(receipts))
                break
            for message in messages:
                self._accept(message)

    def _accept(self, message: dict) -> None:
        receipt = message["ReceiptHandle"]
        receives = message.get("Attributes", {}).get("ApproximateReceiveCount")
        try:
            task = parse_task(message.get("Body", ""))
        except ProtocolError as error:
            # Released, not deleted: after maxReceiveCount receives the redrive policy moves
            # it to the dead-letter queue, where someone can look at it.
            log.error(
                "malformed task",
                extra={
                    "message_id": message["MessageId"],
                    "error": str(error),
                    "receives": receives,
                },
            )
            self._count("malformed")
            self._change_visibility([receipt], 0)
            return
        held = _Held(receipt=receipt, message_id=message["MessageId"], task=task)
        with self._changed:
            self._held[receipt] = held
        held.future = self._executor.submit(self._evaluate, held)

    def _evaluate(self, held: _Held) -> None:
        with self._changed:
            if held.released:
                return
            held.started = True
        task = held.task
        context = {
            "run_id": task.run_id,
            "generation": task.generation,
            "candidate": task.candidate,
            "message_id": held.message_id,
        }
        log.debug("evaluation started", extra=context)
        started = time.monotonic()
        try:
            pool = self._pools.get(task.pool) if self._pools and task.pool else None
            fitness = float(self._evaluator(list(task.params), task, pool))
            if not math.isfinite(fitness):
                raise ValueError(f"evaluator returned {fitness}")
        except Exception:
            log.exception("evaluation failed; task released", extra=context)
            self._count("failed")
            self._release([held], "evaluation failed")
            return
        seconds = time.monotonic() - started
        result = Result(
            run_id=task.run_id,
            generation=task.generation,
            candidate=task.candidate,
            fitness=fitness,
            worker=self.worker_id,
            eval_seconds=round(seconds, 6),
        )
        with self._changed:
            if held.released:  # the stop deadline passed: another worker has it now
                return
        try:
            self._sqs.send_message(
                QueueUrl=self.settings.result_queue_url, MessageBody=encode_result(result)
            )
        except (BotoCoreError, ClientError):
            log.exception("result not sent; task released", extra=context)
            self._release([held], "result not sent")
            return
        try:
            self._sqs.delete_message(
                QueueUrl=self.settings.task_queue_url, ReceiptHandle=held.receipt
            )
        except (BotoCoreError, ClientError) as error:
            # The result is out; the task will be evaluated again and the coordinator will
            # drop the duplicate result.
            log.warning("task not deleted", extra={**context, "error": str(error)})
        self._count("completed")
        log.info("evaluated", extra={**context, "fitness": fitness, "seconds": round(seconds, 3)})
        self._forget([held])

    def _heartbeat(self, stop: threading.Event) -> None:
        timeout = self.settings.visibility_timeout
        # Extending every third of the timeout leaves two thirds of slack for a slow call.
        while not stop.wait(timeout / 3):
            with self._changed:
                receipts = [h.receipt for h in self._held.values() if not h.released]
            if receipts:
                log.debug("heartbeat", extra={"messages": len(receipts)})
                self._change_visibility(receipts, timeout)

    def _release(self, held: list[_Held], reason: str) -> None:
        with self._changed:
            fresh = [h for h in held if not h.released]
            for h in fresh:
                h.released = True
        if not fresh:
            return
        self._change_visibility([h.receipt for h in fresh], 0)
        self._count("released", len(fresh))
        log.info("released", extra={"messages": len(fresh), "reason": reason})
        self._forget(fresh)

    def _count(self, counter: str, n: int = 1) -> None:
        with self._changed:
            setattr(self.counters, counter, getattr(self.counters, counter) + n)

    def _forget(self, held: list[_Held]) -> None:
        with self._changed:
            for h in held:
                self._held.pop(h.receipt, None)
            self._changed.notify_all()

    def _change_visibility(self, receipts: list[str], timeout: int) -> None:
        if not receipts:
            return
        try:
            queues.change_visibility_batch(
                self._sqs, self.settings.task_queue_url, receipts, timeout
            )
        except (BotoCoreError, ClientError):
            log.exception("ChangeMessageVisibilityBatch failed", extra={"timeout": timeout})


def main(environ: Mapping[str, str] | None = None) -> int:
    """The container's entry point: 0 after a stop, 2 for a bad environment, 1 if the
    receive loop failed unexpectedly."""
    env = os.environ if environ is None else environ
    try:
        settings = WorkerSettings.from_env(env)
    except ConfigError as error:
        print(f"cmaes worker: bad environment: {error}", file=sys.stderr)
        return 2
    try:
        evaluator = evaluators.load(settings.evaluator)
    except ValueError as error:
        print(f"cmaes worker: bad environment: EVALUATOR: {error}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level)
    scratch = Path(settings.scratch_dir)
    try:
        scratch.mkdir(parents=True, exist_ok=True)
        # Proves the directory writable now rather than at the first task's state pool.
        fd, probe = tempfile.mkstemp(dir=scratch, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
        # The root file system is read-only on ECS; anything temporary goes to scratch.
        tempfile.tempdir = str(scratch)
        sqs = queues.client("sqs")
        s3 = queues.client("s3") if settings.bucket else None
        pools = None
        if settings.bucket:
            pools = StatePools(s3, settings.bucket, settings.state_pool_prefix, scratch)
    except OSError as error:
        print(f"cmaes worker: bad environment: SCRATCH_DIR: {error}", file=sys.stderr)
        return 2
    except NoRegionError:
        print("cmaes worker: bad environment: AWS_REGION: required", file=sys.stderr)
        return 2
    worker = Worker(settings, sqs, evaluator, pools)

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal received", extra={"signal": signal.Signals(signum).name})
        worker.request_stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    clean = worker.run()
    status = 1 if worker.crashed else 0
    if clean:
        return status
    # An evaluation still runs in a non-daemon pool thread that interpreter exit would wait
    # for; its message is already released, so leave without it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    sys.exit(main())
