"""The SQS calls the worker and the coordinator make, batched to SQS's limit of ten.

Every call here is one of: ReceiveMessage, SendMessage, SendMessageBatch, DeleteMessage,
DeleteMessageBatch, ChangeMessageVisibility, ChangeMessageVisibilityBatch (the IAM
policies list exactly these). Endpoints come from boto3's own configuration, so
``AWS_ENDPOINT_URL`` points both at a local emulator without any flag of ours.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import boto3
from botocore.config import Config

log = logging.getLogger(__name__)

BATCH = 10
"""SQS's most messages per receive and per batch call."""


class QueueError(RuntimeError):
    """An SQS batch call kept failing for some of its entries."""


def client(service: str) -> Any:
    """A boto3 client whose read timeout outlasts a 20-second long poll."""
    config = Config(retries={"mode": "standard", "max_attempts": 5}, read_timeout=70)
    # botocore reads AWS_DEFAULT_REGION and the config file, not AWS_REGION, which is what
    # ECS sets and the README exports: fall back to it when nothing else names a region.
    region = boto3.session.Session().region_name or os.environ.get("AWS_REGION") or None
    return boto3.client(service, config=config, region_name=region)


def receive(sqs: Any, queue_url: str, max_messages: int, wait_seconds: int) -> list[dict]:
    """Up to ``max_messages`` (at most 10) messages, long-polling ``wait_seconds``."""
    response = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=max(1, min(BATCH, max_messages)),
        WaitTimeSeconds=max(0, min(20, wait_seconds)),
        MessageSystemAttributeNames=["ApproximateReceiveCount"],
    )
    return response.get("Messages", [])


def send_batch(sqs: Any, queue_url: str, bodies: Sequence[str], attempts: int = 3) -> None:
    """Send every body, ten per SendMessageBatch, retrying entries SQS reports as failed."""
    for start in range(0, len(bodies), BATCH):
        pending = {str(i): body for i, body in enumerate(bodies[start : start + BATCH])}
        for _ in range(attempts):
            entries = [{"Id": i, "MessageBody": body} for i, body in pending.items()]
            response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
            pending = {f["Id"]: pending[f["Id"]] for f in response.get("Failed", [])}
            if not pending:
                break
        if pending:
            raise QueueError(f"SendMessageBatch kept failing for {len(pending)} message(s)")


def delete_batch(sqs: Any, queue_url: str, receipts: Sequence[str]) -> int:
    """Delete by receipt handle, ten per call; returns how many SQS refused (logged)."""
    return _batch(sqs.delete_message_batch, queue_url, receipts, {}, "delete")


def change_visibility_batch(sqs: Any, queue_url: str, receipts: Sequence[str], timeout: int) -> int:
    """Set the visibility timeout of held messages (0 releases them); returns refusals."""
    extra = {"VisibilityTimeout": int(timeout)}
    return _batch(sqs.change_message_visibility_batch, queue_url, receipts, extra, "visibility")


def _batch(call: Any, queue_url: str, receipts: Sequence[str], extra: dict, what: str) -> int:
    failed = 0
    for start in range(0, len(receipts), BATCH):
        chunk = receipts[start : start + BATCH]
        entries = [{"Id": str(i), "ReceiptHandle": r, **extra} for i, r in enumerate(chunk)]
        response = call(QueueUrl=queue_url, Entries=entries)
        for failure in response.get("Failed", []):
            failed += 1
            # A receipt handle goes stale when the message timed out and was received again
            # elsewhere; the other holder now owns it, so this is worth a warning only.
            log.warning(
                f"{what} refused",
                extra={"code": failure.get("Code"), "detail": failure.get("Message")},
            )
    return failed
