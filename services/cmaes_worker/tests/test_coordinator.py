"""The coordinator: runs over SQS workers, resumes, fails cleanly, refuses bad arguments."""

from __future__ import annotations

import json

import boto3
import numpy as np
import pytest
from cmaes_support import make_queues, queue_depth, settings_for
from cmaes_training import checkpoints, coordinator, evaluators
from cmaes_training.coordinator import SqsBackend, main
from cmaes_training.protocol import Result, Task, encode_result

SMALL = ["--dimension", "4", "--population-size", "6", "--games-per-eval", "2", "--seed", "5"]


def events(captured: str) -> list[dict]:
    out = []
    for line in captured.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def stored(directory) -> dict:
    """The checkpoint as the coordinator loads it: header plus history."""
    return checkpoints.load(checkpoints.LocalStore(directory))


@pytest.fixture
def sqs(aws):
    return boto3.client("sqs")


@pytest.fixture
def worker_service(aws):
    """A worker service in a moto ECS cluster, scaled to 0 as the stack leaves it."""
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="training")
    ecs.register_task_definition(
        family="worker",
        containerDefinitions=[{"name": "worker", "image": "worker:1", "memory": 512}],
    )
    ecs.create_service(
        cluster="training", serviceName="workers", taskDefinition="worker", desiredCount=0
    )
    return ecs


@pytest.fixture
def scaling(monkeypatch) -> list[int]:
    """Every desired count the coordinator sets, in order."""
    counts: list[int] = []
    original = coordinator.EcsScaler.scale

    def recording(self, count):
        counts.append(count)
        original(self, count)

    monkeypatch.setattr(coordinator.EcsScaler, "scale", recording)
    return counts


def desired_count(ecs) -> int:
    return ecs.describe_services(cluster="training", services=["workers"])["services"][0][
        "desiredCount"
    ]


def test_coordinator_and_two_workers_improve_over_three_generations(
    sqs, worker_service, scaling, worker_threads, tmp_path, capsys
):
    queues = make_queues(sqs, visibility=5)
    for _ in range(2):
        worker_threads.start(settings_for(queues, visibility_timeout=5), evaluators.benchmark)

    code = main(
        [
            *["--generations", "3", "--population-size", "12", "--games-per-eval", "3"],
            *["--board", "square8", "--num-players", "2", "--queue-backend", "sqs"],
            *["--task-queue-url", queues.task, "--result-queue-url", queues.result],
            *["--ecs-cluster", "training", "--ecs-service", "workers", "--workers", "2"],
            *["--output", str(tmp_path), "--generation-timeout", "20"],
        ]
    )

    assert code == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / checkpoints.SUMMARY).read_text())
    generations = stored(tmp_path)["generations"]
    assert summary["generations_completed"] == 3
    assert summary["evaluations"] == 36
    assert summary["best_fitness"] > max(generations[0]["fitness"])
    assert np.mean(generations[-1]["fitness"]) > np.mean(generations[0]["fitness"])
    assert scaling == [2, 0]
    assert desired_count(worker_service) == 0
    assert queue_depth(sqs, queues.task) == (0, 0)


def test_a_resumed_run_continues_from_its_checkpoint_to_the_same_state(tmp_path, capsys):
    whole, split = tmp_path / "whole", tmp_path / "split"
    local = ["--queue-backend", "local", *SMALL]
    assert main([*local, "--generations", "4", "--run-id", "r", "--output", str(whole)]) == 0
    assert main([*local, "--generations", "2", "--run-id", "r", "--output", str(split)]) == 0
    capsys.readouterr()

    assert (
        main(["--queue-backend", "local", "--generations", "4", "--resume", "--output", str(split)])
        == 0
    )

    log = events(capsys.readouterr().out)
    assert [e["from_generation"] for e in log if e["message"] == "resumed"] == [2]
    assert [e["generation"] for e in log if e["message"] == "generation complete"] == [2, 3]
    assert not [e for e in log if e["message"] == "replayed generation differs"]
    for resumed, uninterrupted in zip(
        stored(split)["generations"], stored(whole)["generations"], strict=True
    ):
        assert resumed["solutions"] == uninterrupted["solutions"]
        assert resumed["fitness"] == uninterrupted["fitness"]
    a = json.loads((whole / checkpoints.SUMMARY).read_text())
    b = json.loads((split / checkpoints.SUMMARY).read_text())
    for key in ("sigma", "mean", "best_fitness", "best_params", "evaluations"):
        assert a[key] == b[key], key


def test_checkpoints_go_to_s3_and_a_run_resumes_from_there(aws, capsys):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="training")
    output = ["--output", "s3://training/checkpoints/run-7"]
    local = ["--queue-backend", "local", *SMALL]

    assert main([*local, "--generations", "1", *output]) == 0
    assert main([*local, "--generations", "2", "--resume", *output]) == 0

    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="training")["Contents"]}
    assert keys == {
        "checkpoints/run-7/checkpoint.json",
        "checkpoints/run-7/summary.json",
        "checkpoints/run-7/history/00000000.json",
        "checkpoints/run-7/history/00000001.json",
    }
    body = s3.get_object(Bucket="training", Key="checkpoints/run-7/summary.json")["Body"]
    assert json.loads(body.read())["generations_completed"] == 2


def test_a_generation_without_results_fails_leaving_the_last_checkpoint(
    sqs, worker_service, scaling, tmp_path, capsys
):
    queues = make_queues(sqs)
    assert (
        main(["--queue-backend", "local", *SMALL, "--generations", "2", "--output", str(tmp_path)])
        == 0
    )

    code = main(
        [
            *[
                "--queue-backend",
                "sqs",
                "--generations",
                "3",
                "--resume",
                "--output",
                str(tmp_path),
            ],
            *["--task-queue-url", queues.task, "--result-queue-url", queues.result],
            *["--generation-timeout", "1", "--max-redispatch", "1"],
            *["--ecs-cluster", "training", "--ecs-service", "workers", "--workers", "3"],
        ]
    )

    assert code == 1
    assert "generation 2: no result for candidate(s) [0, 1, 2, 3, 4, 5]" in capsys.readouterr().err
    assert len(stored(tmp_path)["generations"]) == 2
    assert queue_depth(sqs, queues.task) == (12, 0)  # dispatched, then re-dispatched once
    assert scaling == [3, 0]
    assert desired_count(worker_service) == 0


def result_body(run_id="r", generation=0, candidate=0, fitness=1.0) -> str:
    return encode_result(
        Result(
            run_id=run_id,
            generation=generation,
            candidate=candidate,
            fitness=fitness,
            worker="w",
            eval_seconds=0.1,
        )
    )


def test_duplicate_stale_and_malformed_results_are_ignored_and_deleted(sqs):
    queues = make_queues(sqs)
    tasks = [Task("r", 0, c, (0.0, 0.0), 1, "square8", 2, 1, "square8_2p.json") for c in range(3)]
    bodies = [
        result_body(candidate=0, fitness=0.5),
        result_body(candidate=1, fitness=1.5),
        result_body(candidate=1, fitness=1.5),  # duplicate
        result_body(run_id="other-run", candidate=2, fitness=9.0),  # another run
        result_body(generation=5, candidate=2, fitness=9.0),  # another generation
        result_body(candidate=99, fitness=9.0),  # no such candidate
        "garbage",
        result_body(candidate=2, fitness=2.5),
    ]
    for body in bodies:
        sqs.send_message(QueueUrl=queues.result, MessageBody=body)
    backend = SqsBackend(sqs, queues.task, queues.result, generation_timeout=5, max_redispatch=0)

    evaluation = backend.evaluate(tasks)

    assert evaluation.fitness == {0: 0.5, 1: 1.5, 2: 2.5}
    assert (evaluation.duplicates, evaluation.stale, evaluation.malformed) == (1, 3, 1)
    assert queue_depth(sqs, queues.result) == (0, 0)


def test_tasks_are_dispatched_in_batches_of_ten(sqs):
    queues = make_queues(sqs)
    calls = []
    sqs.meta.events.register(
        "before-parameter-build.sqs.SendMessageBatch",
        lambda params, **_: calls.append(len(params["Entries"])),
    )
    backend = SqsBackend(sqs, queues.task, queues.result, generation_timeout=1, max_redispatch=0)
    tasks = [Task("r", 0, c, (0.0, 0.0), 1, "square8", 2, 1, None) for c in range(23)]

    with pytest.raises(coordinator.GenerationIncompleteError):
        backend.evaluate(tasks)

    assert calls == [10, 10, 3]


def test_the_local_backend_makes_no_aws_call(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise AssertionError("an AWS client was created")

    monkeypatch.setattr(boto3, "client", refuse)
    monkeypatch.setattr(boto3.session.Session, "client", refuse)
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")

    code = main(
        ["--queue-backend", "local", *SMALL, "--generations", "2", "--output", str(tmp_path)]
    )

    assert code == 0
    assert len(stored(tmp_path)["generations"]) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--generations", "0"], "--generations: expected an integer >= 1"),
        (["--population-size", "1"], "--population-size: expected an integer >= 2"),
        (["--games-per-eval", "0"], "--games-per-eval"),
        (["--num-players", "5"], "--num-players: expected 2 to 4"),
        (["--board", "Square 8"], "--board"),
        (["--dimension", "1"], "--dimension"),
        (["--sigma0", "0"], "--sigma0: expected a number > 0"),
        (["--seed", "0"], "--seed"),
        (["--run-id", "a/b"], "--run-id"),
        (["--generation-timeout", "0"], "--generation-timeout"),
        (["--max-redispatch", "-1"], "--max-redispatch"),
        (["--queue-backend", "redis"], "invalid choice: 'redis'"),
        (["--population-size", "many"], "invalid int value"),
        (["--queue-backend", "sqs"], "--task-queue-url: required"),
        (["--workers", "3"], "--ecs-cluster, --ecs-service and --workers go together"),
        (
            ["--ecs-cluster", "c", "--ecs-service", "s", "--workers", "2"],
            "--workers: only with --queue-backend sqs",
        ),
        (["--output", "s3:///prefix"], "--output: expected s3://bucket/prefix"),
        (["--evaluator", "nope"], "--evaluator"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(args, message, tmp_path, capsys):
    argv = ["--queue-backend", "local", "--output", str(tmp_path / "out"), *args]

    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_an_output_holding_a_run_is_not_overwritten_without_resume(tmp_path, capsys):
    argv = ["--queue-backend", "local", *SMALL, "--generations", "1", "--output", str(tmp_path)]
    assert main(argv) == 0

    assert main(argv) == 2
    assert "pass --resume" in capsys.readouterr().err


def test_resume_without_a_checkpoint_exits_2(tmp_path, capsys):
    assert main(["--queue-backend", "local", "--resume", "--output", str(tmp_path)]) == 2
    assert "--resume: no checkpoint" in capsys.readouterr().err


def test_resume_refuses_a_flag_that_contradicts_the_checkpoint(tmp_path, capsys):
    argv = ["--queue-backend", "local", *SMALL, "--generations", "1", "--output", str(tmp_path)]
    assert main(argv) == 0

    assert main([*argv, "--resume", "--population-size", "8"]) == 2
    assert "--population-size: the checkpoint's run has 6, not 8" in capsys.readouterr().err


def test_queue_urls_default_to_the_worker_variables(monkeypatch):
    monkeypatch.setenv("SQS_TASK_QUEUE_URL", "https://sqs/tasks")
    monkeypatch.setenv("SQS_RESULT_QUEUE_URL", "https://sqs/results")

    args = coordinator.build_parser().parse_args(["--output", "x"])

    assert (args.task_queue_url, args.result_queue_url) == (
        "https://sqs/tasks",
        "https://sqs/results",
    )


def test_the_coordinator_starts_with_aws_region_alone(sqs, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    regional = boto3.client("sqs", region_name="eu-west-1")
    queues = make_queues(regional)
    code = main(
        [
            *["--generations", "1", *SMALL, "--queue-backend", "sqs"],
            *["--task-queue-url", queues.task, "--result-queue-url", queues.result],
            *["--output", str(tmp_path), "--generation-timeout", "1", "--max-redispatch", "0"],
        ]
    )
    err = capsys.readouterr().err
    assert "AWS_REGION" not in err
    # No worker answers: the run starts, dispatches to eu-west-1's queue and fails with 1.
    assert code == 1, err
    assert "no result for candidate" in err


def pycma_loop(config: coordinator.RunConfig, evaluate) -> tuple[int, dict, list[float]]:
    """pycma's own loop on the same strategy: generations run, stop criteria, final mean."""
    es = coordinator.new_strategy(config)
    while not es.stop():
        solutions = es.ask()
        tasks = config.tasks(es.countiter, solutions)
        es.tell(solutions, [-evaluate(list(t.params), t, None) for t in tasks])
    return es.countiter, dict(es.stop()), [float(v) for v in es.mean]


def test_the_run_stops_where_pycmas_own_loop_stops_and_says_why(tmp_path, capsys):
    args = ["--dimension", "4", "--population-size", "8", "--seed", "3", "--run-id", "r"]
    code = main(
        [
            *["--queue-backend", "local", "--evaluator", "cmaes_training.evaluators:rastrigin"],
            *args,
            *["--generations", "1000", "--output", str(tmp_path)],
        ]
    )
    assert code == 0, capsys.readouterr().err
    config = coordinator.RunConfig.from_dict(stored(tmp_path)["run"])
    generations, criteria, mean = pycma_loop(config, evaluators.rastrigin)

    summary = json.loads((tmp_path / checkpoints.SUMMARY).read_text())
    assert 10 < generations < 1000
    assert summary["generations_completed"] == generations
    assert summary["stopped_by"] == sorted(criteria)
    assert summary["mean"] == mean
    log = events(capsys.readouterr().out)
    [stop] = [e for e in log if e["message"] == "stopped early"]
    assert stop["criteria"] == sorted(criteria)
    assert stop["generation"] == generations - 1


def test_no_early_stop_runs_every_generation(tmp_path, capsys):
    args = ["--dimension", "2", "--population-size", "6", "--seed", "3"]
    code = main(
        [
            *["--queue-backend", "local", "--evaluator", "cmaes_training.evaluators:sphere"],
            *args,
            *["--generations", "150", "--no-early-stop", "--output", str(tmp_path)],
        ]
    )
    assert code == 0, capsys.readouterr().err
    config = coordinator.RunConfig.from_dict(stored(tmp_path)["run"])
    generations, _, _ = pycma_loop(config, evaluators.sphere)
    summary = json.loads((tmp_path / checkpoints.SUMMARY).read_text())
    assert generations < 150  # pycma would have stopped
    assert summary["generations_completed"] == 150
    assert summary["stopped_by"] is None


def test_a_checkpoint_holds_the_latest_state_and_an_append_only_history(tmp_path, capsys):
    args = ["--queue-backend", "local", *SMALL, "--run-id", "r", "--output", str(tmp_path)]
    assert main([*args, "--generations", "3"]) == 0
    first = (tmp_path / "history" / "00000000.json").stat().st_mtime_ns
    assert (
        main(
            [
                "--queue-backend",
                "local",
                "--generations",
                "5",
                "--resume",
                "--output",
                str(tmp_path),
            ]
        )
        == 0
    )

    header = json.loads((tmp_path / checkpoints.CHECKPOINT).read_text())
    assert header["format"] == "cmaes-checkpoint/2"
    assert header["generations_completed"] == 5
    assert "generations" not in header  # the header does not grow with the run
    assert sorted(p.name for p in (tmp_path / "history").iterdir()) == [
        f"{g:08d}.json" for g in range(5)
    ]
    assert (tmp_path / "history" / "00000000.json").stat().st_mtime_ns == first


def test_a_first_format_checkpoint_still_resumes_to_the_same_state(tmp_path, capsys):
    whole, old = tmp_path / "whole", tmp_path / "old"
    local = ["--queue-backend", "local", *SMALL, "--run-id", "r"]
    assert main([*local, "--generations", "4", "--output", str(whole)]) == 0
    assert main([*local, "--generations", "2", "--output", str(old)]) == 0
    # Rewrite it as the first format wrote it: every generation inside checkpoint.json.
    loaded = stored(old)
    v1 = {"format": "cmaes-checkpoint/1", "cma_version": loaded["cma_version"]}
    v1 |= {"run": loaded["run"], "generations": loaded["generations"]}
    for path in (old / "history").iterdir():
        path.unlink()
    (old / checkpoints.CHECKPOINT).write_text(json.dumps(v1))

    assert (
        main(["--queue-backend", "local", "--generations", "4", "--resume", "--output", str(old)])
        == 0
    )

    for resumed, uninterrupted in zip(
        stored(old)["generations"], stored(whole)["generations"], strict=True
    ):
        assert resumed["solutions"] == uninterrupted["solutions"]
        assert resumed["fitness"] == uninterrupted["fitness"]
    assert json.loads((old / checkpoints.CHECKPOINT).read_text())["format"] == "cmaes-checkpoint/2"
