"""The floor: import pulumi and pulumi_aws and register one resource under the same mocks."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi_aws as aws

from offline.runner import run_function


def program() -> None:
    aws.s3.Bucket("floor")


if __name__ == "__main__":
    run = run_function(program, config={"aws:region": "us-east-1"})
    assert len(run.resources) == 1
