"""The coordinator: runs CMA-ES, one generation at a time, over the workers.

``python -m cmaes_training.coordinator --generations 50 --population-size 20 --games-per-eval
30 --board square8 --num-players 2 --queue-backend sqs --output s3://bucket/checkpoints/run1``

Each generation: ``ask()`` the strategy for candidates, send them to the task queue (ten per
SendMessageBatch), collect one result per candidate from the result queue before
``--generation-timeout``, re-send the missing ones up to ``--max-redispatch`` times, ``tell()``
the strategy the fitnesses (negated: CMA-ES minimises, fitness is maximised) and checkpoint.
Results of other runs or generations and duplicates are deleted and ignored. With
``--queue-backend local`` the candidates are evaluated in-process and no AWS call is made.

The run ends after ``--generations`` or, earlier, when pycma's termination criteria
(``es.stop()``: tolfun, tolx, maxiter, tolstagnation...) are met, as pycma's own
``while not es.stop()`` loop would; the ``stopped early`` log line and ``stopped_by`` in
``summary.json`` name the criteria. ``--no-early-stop`` runs every generation.

Exit status: 0 when the run ended (every generation ran or a stop criterion was met), 2 for
bad arguments, 1 for a failure (the last completed generation's checkpoint stays, and
``--resume`` continues from it).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import secrets
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
from botocore.exceptions import BotoCoreError, ClientError, NoRegionError
from service_common import logs

from cmaes_training import checkpoints, evaluators, queues
from cmaes_training.checkpoints import CheckpointError
from cmaes_training.evaluators import Evaluator
from cmaes_training.protocol import (
    BOARD_PATTERN,
    MAX_DIMENSION,
    MAX_PLAYERS,
    RUN_ID_PATTERN,
    ProtocolError,
    Task,
    encode_task,
    parse_result,
    pool_name,
)

with warnings.catch_warnings():
    # cma warns at import that matplotlib (for its plots, unused here) is missing.
    warnings.simplefilter("ignore")
    import cma

log = logging.getLogger("cmaes_training.coordinator")


class GenerationIncompleteError(RuntimeError):
    """Some candidates had no result after every allowed re-dispatch."""


@dataclass(frozen=True)
class RunConfig:
    """What defines a run; stored in the checkpoint and fixed for the run's lifetime."""

    run_id: str
    dimension: int
    population_size: int
    sigma0: float
    seed: int
    games_per_eval: int
    board: str
    num_players: int
    x0: tuple[float, ...]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        try:
            return cls(**{**data, "x0": tuple(data["x0"])})
        except (TypeError, KeyError) as error:
            raise CheckpointError(f"checkpoint run config: {error}") from None

    def tasks(self, generation: int, solutions: Sequence[np.ndarray]) -> list[Task]:
        return [
            Task(
                run_id=self.run_id,
                generation=generation,
                candidate=i,
                params=tuple(float(v) for v in x),
                games=self.games_per_eval,
                board=self.board,
                num_players=self.num_players,
                seed=self.seed,
                pool=pool_name(self.board, self.num_players),
            )
            for i, x in enumerate(solutions)
        ]


@dataclass
class Evaluation:
    """A generation's fitness per candidate and how collecting it went."""

    fitness: dict[int, float]
    dispatches: int = 1
    duplicates: int = 0
    stale: int = 0
    malformed: int = 0
    workers: set[str] = field(default_factory=set)


class Backend(Protocol):
    def evaluate(self, tasks: list[Task]) -> Evaluation: ...


class LocalBackend:
    """Evaluates in this process, one candidate after another, with no state pool."""

    def __init__(self, evaluator: Evaluator):
        self.evaluator = evaluator

    def evaluate(self, tasks: list[Task]) -> Evaluation:
        fitness = {t.candidate: float(self.evaluator(list(t.params), t, None)) for t in tasks}
        for candidate, value in fitness.items():
            if not math.isfinite(value):
                raise GenerationIncompleteError(
                    f"candidate {candidate}: evaluator returned {value}"
                )
        return Evaluation(fitness=fitness, workers={"local"})


class SqsBackend:
    """Sends tasks to the task queue and collects their results from the result queue.

    One coordinator per queue pair: results of any other run are deleted as stale.
    """

    def __init__(
        self,
        sqs: Any,
        task_queue_url: str,
        result_queue_url: str,
        generation_timeout: float,
        max_redispatch: int,
        poll_seconds: int = 20,
    ):
        self.sqs = sqs
        self.task_queue_url = task_queue_url
        self.result_queue_url = result_queue_url
        self.generation_timeout = generation_timeout
        self.max_redispatch = max_redispatch
        self.poll_seconds = poll_seconds

    def evaluate(self, tasks: list[Task]) -> Evaluation:
        run_id, generation = tasks[0].run_id, tasks[0].generation
        expected = {t.candidate: t for t in tasks}
        outcome = Evaluation(fitness={})
        queues.send_batch(self.sqs, self.task_queue_url, [encode_task(t) for t in tasks])
        deadline = time.monotonic() + self.generation_timeout
        while len(outcome.fitness) < len(expected):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                missing = sorted(set(expected) - set(outcome.fitness))
                if outcome.dispatches > self.max_redispatch:
                    raise GenerationIncompleteError(
                        f"generation {generation}: no result for candidate(s) {missing} after "
                        f"{outcome.dispatches} dispatch(es) of {self.generation_timeout:g} s each"
                    )
                log.warning(
                    "re-dispatching missing candidates",
                    extra={"generation": generation, "missing": missing},
                )
                bodies = [encode_task(expected[c]) for c in missing]
                queues.send_batch(self.sqs, self.task_queue_url, bodies)
                outcome.dispatches += 1
                deadline = time.monotonic() + self.generation_timeout
                continue
            wait = min(self.poll_seconds, math.ceil(remaining))
            messages = queues.receive(self.sqs, self.result_queue_url, queues.BATCH, wait)
            for message in messages:
                self._accept(message.get("Body", ""), run_id, generation, expected, outcome)
            receipts = [m["ReceiptHandle"] for m in messages]
            queues.delete_batch(self.sqs, self.result_queue_url, receipts)
        return outcome

    @staticmethod
    def _accept(
        body: str, run_id: str, generation: int, expected: dict[int, Task], outcome: Evaluation
    ) -> None:
        try:
            result = parse_result(body)
        except ProtocolError as error:
            log.warning("malformed result ignored", extra={"error": str(error)})
            outcome.malformed += 1
            return
        if (
            result.run_id != run_id
            or result.generation != generation
            or result.candidate not in expected
        ):
            log.info("stale result ignored", extra={"result": list(result.key)})
            outcome.stale += 1
            return
        if result.candidate in outcome.fitness:
            if result.fitness != outcome.fitness[result.candidate]:
                log.warning(
                    "duplicate result differs: is the evaluator deterministic?",
                    extra={"candidate": result.candidate},
                )
            outcome.duplicates += 1
            return
        outcome.fitness[result.candidate] = result.fitness
        outcome.workers.add(result.worker)


class EcsScaler:
    """Sets the worker service's desired count at the start of a run and back to 0 at its end."""

    def __init__(self, ecs: Any, cluster: str, service: str, workers: int):
        self.ecs, self.cluster, self.service, self.workers = ecs, cluster, service, workers

    def scale(self, count: int) -> None:
        self.ecs.update_service(cluster=self.cluster, service=self.service, desiredCount=count)
        log.info("worker service scaled", extra={"service": self.service, "desired": count})


@dataclass
class Progress:
    """Best so far and timings, rebuilt from the checkpoint on resume."""

    best_fitness: float = -math.inf
    best_params: list[float] = field(default_factory=list)
    best_generation: int = -1
    evaluations: int = 0
    seconds: list[float] = field(default_factory=list)

    def add(self, generation: int, solutions: list[list[float]], fitness: list[float]) -> None:
        self.evaluations += len(fitness)
        i = int(np.argmax(fitness))
        if fitness[i] > self.best_fitness:
            self.best_fitness, self.best_params = fitness[i], solutions[i]
            self.best_generation = generation


def new_strategy(config: RunConfig) -> cma.CMAEvolutionStrategy:
    options = {
        "seed": config.seed,
        "popsize": config.population_size,
        # No output files (the worker image's root is read-only) and no console chatter.
        "verbose": -9,
        "verb_log": 0,
        "verb_disp": 0,
    }
    return cma.CMAEvolutionStrategy(list(config.x0), config.sigma0, options)


def replay(es: cma.CMAEvolutionStrategy, generations: list[dict[str, Any]]) -> None:
    """Bring a fresh strategy to the state after ``generations``: ask, then tell the stored.

    ``ask()`` draws from the seeded generator, so it must run once per generation for the
    next ``ask()`` to match an uninterrupted run; it returns the stored solutions unless
    cma or numpy changed in between, which is logged.
    """
    for stored in generations:
        asked = es.ask()
        solutions = [np.asarray(x, dtype=float) for x in stored["solutions"]]
        if not all(np.array_equal(a, s) for a, s in zip(asked, solutions, strict=True)):
            log.warning("replayed generation differs", extra={"generation": stored["generation"]})
        es.tell(solutions, [-f for f in stored["fitness"]])


def run(
    config: RunConfig,
    generations: int,
    backend: Backend,
    store: checkpoints.Store,
    checkpoint: dict[str, Any] | None = None,
    early_stop: bool = True,
) -> dict[str, Any]:
    """Run until ``generations`` are complete or, with ``early_stop``, until pycma's
    termination criteria (``es.stop()``: tolfun, tolx, maxiter, stagnation...) are met;
    returns the last summary, whose ``stopped_by`` names the criteria (or is None)."""
    es = new_strategy(config)
    checkpoint = checkpoint or {
        "format": checkpoints.FORMAT,
        "cma_version": cma.__version__,
        "run": asdict(config) | {"x0": list(config.x0)},
        "generations": [],
    }
    progress = Progress()
    for stored in checkpoint["generations"]:
        progress.add(stored["generation"], stored["solutions"], stored["fitness"])
        progress.seconds.append(stored.get("seconds", 0.0))
    replay(es, checkpoint["generations"])
    start = len(checkpoint["generations"])
    summary = _summary(config, es, progress, checkpoint, early_stop)
    if start:
        log.info("resumed", extra={"run_id": config.run_id, "from_generation": start})
    for generation in range(start, generations):
        if early_stop and es.stop():
            break
        started = time.monotonic()
        solutions = es.ask()
        evaluation = backend.evaluate(config.tasks(generation, solutions))
        fitness = [evaluation.fitness[i] for i in range(len(solutions))]
        es.tell(solutions, [-f for f in fitness])
        seconds = time.monotonic() - started
        plain = [[float(v) for v in x] for x in solutions]
        checkpoint["generations"].append(
            {
                "generation": generation,
                "solutions": plain,
                "fitness": fitness,
                "seconds": round(seconds, 3),
                "dispatches": evaluation.dispatches,
            }
        )
        progress.add(generation, plain, fitness)
        progress.seconds.append(round(seconds, 3))
        summary = _summary(config, es, progress, checkpoint, early_stop)
        checkpoints.save(store, checkpoint, summary)
        log.info(
            "generation complete",
            extra={
                "run_id": config.run_id,
                "generation": generation,
                "best_fitness": max(fitness),
                "best_so_far": progress.best_fitness,
                "sigma": float(es.sigma),
                "seconds": round(seconds, 3),
                "dispatches": evaluation.dispatches,
                "duplicates": evaluation.duplicates,
                "stale": evaluation.stale,
                "workers": len(evaluation.workers),
            },
        )
    if summary["stopped_by"]:
        log.info(
            "stopped early",
            extra={
                "run_id": config.run_id,
                "generation": summary["generation"],
                "criteria": summary["stopped_by"],
                "values": {k: _plain(v) for k, v in es.stop().items()},
            },
        )
    return summary


def _plain(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _summary(
    config: RunConfig,
    es: cma.CMAEvolutionStrategy,
    progress: Progress,
    checkpoint: dict,
    early_stop: bool = True,
) -> dict[str, Any]:
    done = len(checkpoint["generations"])
    stop = dict(es.stop()) if early_stop and done else {}
    seconds = progress.seconds
    return {
        "run_id": config.run_id,
        "generation": done - 1,
        "generations_completed": done,
        "best_fitness": progress.best_fitness if done else None,
        "best_params": progress.best_params,
        "best_generation": progress.best_generation,
        "sigma": float(es.sigma),
        "mean": [float(v) for v in es.mean],
        "evaluations": progress.evaluations,
        "stopped_by": sorted(stop) or None,
        "timings": {
            "total_seconds": round(sum(seconds), 3),
            "last_generation_seconds": seconds[-1] if seconds else None,
            "mean_generation_seconds": round(sum(seconds) / len(seconds), 3) if seconds else None,
        },
        "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


class UsageError(ValueError):
    """Bad arguments; the text names the flag."""


def build_parser() -> argparse.ArgumentParser:
    env = os.environ
    p = argparse.ArgumentParser(
        prog="python -m cmaes_training.coordinator",
        description="Distributed CMA-ES over SQS workers, or in-process (--queue-backend local).",
    )
    # Run-defining flags default to None so that --resume can tell what was given.
    p.add_argument("--generations", type=int, default=50, help="total generations (default 50)")
    p.add_argument("--population-size", type=int, help="candidates per generation (default 20)")
    p.add_argument("--games-per-eval", type=int, help="games per evaluation (default 30)")
    p.add_argument("--board", help="board type, e.g. square8 (default square8)")
    p.add_argument("--num-players", type=int, help="players per game, 2-4 (default 2)")
    p.add_argument("--dimension", type=int, help="parameters per candidate (default 8)")
    p.add_argument("--sigma0", type=float, help="initial step size (default 0.5)")
    p.add_argument("--seed", type=int, help="random seed, >= 1 (default 1)")
    p.add_argument("--run-id", help="run identifier (default <board>-<n>p-<UTC time>-<random>)")
    p.add_argument(
        "--queue-backend",
        choices=["sqs", "local"],
        default="sqs",
        help="sqs: the workers (default); local: evaluate in this process, no AWS",
    )
    p.add_argument("--output", required=True, help="checkpoint directory or s3://bucket/prefix")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --output")
    p.add_argument(
        "--no-early-stop",
        dest="early_stop",
        action="store_false",
        help="run every --generations even when pycma's stop criteria (tolfun...) are met",
    )
    p.add_argument(
        "--generation-timeout",
        type=float,
        default=1800.0,
        help="seconds to collect a generation's results before re-dispatching (default 1800)",
    )
    p.add_argument(
        "--max-redispatch",
        type=int,
        default=2,
        help="re-dispatches of missing candidates before failing (default 2)",
    )
    p.add_argument(
        "--task-queue-url",
        default=env.get("SQS_TASK_QUEUE_URL"),
        help="default $SQS_TASK_QUEUE_URL",
    )
    p.add_argument(
        "--result-queue-url",
        default=env.get("SQS_RESULT_QUEUE_URL"),
        help="default $SQS_RESULT_QUEUE_URL",
    )
    p.add_argument("--ecs-cluster", help="cluster of the worker service (with --workers)")
    p.add_argument("--ecs-service", help="worker service to scale to --workers, then to 0")
    p.add_argument("--workers", type=int, help="desired worker count during the run")
    p.add_argument(
        "--evaluator",
        default=env.get("EVALUATOR") or evaluators.DEFAULT,
        help="module:attr for --queue-backend local (default $EVALUATOR or the benchmark)",
    )
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


DEFAULTS = {
    "population_size": 20,
    "games_per_eval": 30,
    "board": "square8",
    "num_players": 2,
    "dimension": 8,
    "sigma0": 0.5,
    "seed": 1,
}


def validate(args: argparse.Namespace) -> list[str]:
    """Problems with the flags that need no I/O to find, each naming its flag."""
    problems = []

    def check(ok: bool, message: str) -> None:
        if not ok:
            problems.append(message)

    given = {k: getattr(args, k) for k in DEFAULTS}
    v = {k: (DEFAULTS[k] if value is None else value) for k, value in given.items()}
    check(args.generations >= 1, "--generations: expected an integer >= 1")
    check(v["population_size"] >= 2, "--population-size: expected an integer >= 2")
    check(v["games_per_eval"] >= 1, "--games-per-eval: expected an integer >= 1")
    check(
        bool(BOARD_PATTERN.fullmatch(v["board"])), "--board: expected lower-case letters, digits, _"
    )
    check(2 <= v["num_players"] <= MAX_PLAYERS, f"--num-players: expected 2 to {MAX_PLAYERS}")
    check(
        2 <= v["dimension"] <= MAX_DIMENSION,
        f"--dimension: expected an integer from 2 to {MAX_DIMENSION}",
    )
    check(math.isfinite(v["sigma0"]) and v["sigma0"] > 0, "--sigma0: expected a number > 0")
    # cma reads a seed of 0 as "seed from the clock", which would make a resume diverge.
    check(0 < v["seed"] < 2**32, "--seed: expected an integer from 1 to 2**32-1")
    if args.run_id is not None:
        check(
            bool(RUN_ID_PATTERN.fullmatch(args.run_id)),
            "--run-id: expected 1-80 letters, digits or _.:- starting with a letter or digit",
        )
    check(args.generation_timeout > 0, "--generation-timeout: expected seconds > 0")
    check(args.max_redispatch >= 0, "--max-redispatch: expected an integer >= 0")
    if args.queue_backend == "sqs":
        check(bool(args.task_queue_url), "--task-queue-url: required (or SQS_TASK_QUEUE_URL)")
        check(bool(args.result_queue_url), "--result-queue-url: required (or SQS_RESULT_QUEUE_URL)")
    scaling = [args.ecs_cluster, args.ecs_service, args.workers]
    if any(x is not None for x in scaling):
        check(
            all(x is not None for x in scaling),
            "--workers: --ecs-cluster, --ecs-service and --workers go together",
        )
        check(args.queue_backend == "sqs", "--workers: only with --queue-backend sqs")
        check(args.workers is None or args.workers >= 1, "--workers: expected an integer >= 1")
    try:
        checkpoints.parse_output(args.output)
    except CheckpointError as error:
        problems.append(str(error))
    return problems


def resolve_config(args: argparse.Namespace, stored: dict[str, Any] | None) -> RunConfig:
    """The run's config: from the checkpoint on --resume (flags given must agree), else flags."""
    if stored is None:
        values = {
            k: (DEFAULTS[k] if getattr(args, k) is None else getattr(args, k)) for k in DEFAULTS
        }
        run_id = args.run_id or "{}-{}p-{}-{}".format(
            values["board"],
            values["num_players"],
            time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
            secrets.token_hex(3),
        )
        return RunConfig(run_id=run_id, x0=(0.0,) * values["dimension"], **values)
    config = RunConfig.from_dict(stored["run"])
    for key in [*DEFAULTS, "run_id"]:
        given = getattr(args, key)
        if given is not None and given != getattr(config, key):
            flag = "--" + key.replace("_", "-")
            raise UsageError(
                f"{flag}: the checkpoint's run has {getattr(config, key)!r}, not {given!r}"
            )
    return config


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse printed the problem
        return int(exit_.code or 0)
    problems = validate(args)
    if problems:
        return _usage(parser, problems)
    logs.configure(args.log_level)
    try:
        store = checkpoints.open_store(args.output, lambda: queues.client("s3"))
        stored = checkpoints.load(store)
        if args.resume and stored is None:
            raise UsageError(f"--resume: no checkpoint at {store.describe(checkpoints.CHECKPOINT)}")
        if not args.resume and stored is not None:
            raise UsageError(
                f"--output: {store.describe(checkpoints.CHECKPOINT)} holds a run; "
                "pass --resume to continue it or choose another --output"
            )
        config = resolve_config(args, stored)
        backend = _backend(args)
        scaler = None
        if args.workers is not None:
            scaler = EcsScaler(
                queues.client("ecs"), args.ecs_cluster, args.ecs_service, args.workers
            )
    except UsageError as error:
        return _usage(parser, [str(error)])
    except NoRegionError:
        return _usage(parser, ["AWS_REGION: required for SQS, S3 and ECS"])
    except (CheckpointError, BotoCoreError, ClientError) as error:
        log.error("cannot start", extra={"error": str(error)})
        return 1

    log.info("run starting", extra={"config": asdict(config), "generations": args.generations})
    try:
        if scaler:
            scaler.scale(scaler.workers)
        summary = run(config, args.generations, backend, store, stored, args.early_stop)
    except (GenerationIncompleteError, queues.QueueError, BotoCoreError, ClientError) as error:
        log.error(
            "run failed; the last completed generation is checkpointed",
            extra={"error": str(error), "output": args.output},
        )
        print(f"coordinator: run failed: {error}", file=sys.stderr)
        return 1
    finally:
        if scaler:
            try:
                scaler.scale(0)
            except (BotoCoreError, ClientError) as error:
                log.error("worker service not scaled to 0", extra={"error": str(error)})
    log.info("run complete", extra={"summary": summary})
    return 0


def _backend(args: argparse.Namespace) -> Backend:
    if args.queue_backend == "local":
        try:
            return LocalBackend(evaluators.load(args.evaluator))
        except ValueError as error:
            raise UsageError(f"--evaluator: {error}") from None
    return SqsBackend(
        queues.client("sqs"),
        args.task_queue_url,
        args.result_queue_url,
        args.generation_timeout,
        args.max_redispatch,
    )


def _usage(parser: argparse.ArgumentParser, problems: list[str]) -> int:
    parser.print_usage(sys.stderr)
    for problem in problems:
        print(f"{parser.prog}: error: {problem}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
