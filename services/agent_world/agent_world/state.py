"""Worlds and agents: every read a cache could serve and every write of either, one function
each, and the world's status machine.

Each write returns the item as stored (``ReturnValues="ALL_NEW"`` or the item put), so a
cache or an event publisher can hook these functions, and nothing else in the service writes
a world or an agent item. Writes that depend on state are DynamoDB conditional writes: the
condition is checked by DynamoDB atomically with the write, so of two callers racing the
same transition (or the same agent version) exactly one wins and the other gets a
``ConflictError`` (409) carrying the current status or version, read after the failure.

The status machine (``TRANSITIONS``)::

    active ──pause──▶ paused ──resume──▶ active
    paused | restoring ──restore──▶ restoring ──(agents and objects written)──▶ paused
    active | paused ──archive──▶ archived ──delete──▶ deleting ──(cascade done)──▶ gone

``archived`` is final except for deletion (no un-archive: an archived world is read-only).
``deleting`` is the mark a delete sets before its cascade; a delete that stopped part way
(a crash, a throttled batch) is finished by calling delete again. Objects and agents can be
written only in an ``active`` world; restoring a snapshot needs a ``paused`` one, which it
marks ``restoring`` (refusing every transition and write) until its writes are done; a
restore that stopped part way leaves ``restoring``, and is finished by restoring again.

Every world and agent carries ``version`` (1 when created, +1 on each write). Items written
before versions existed have none and read as version 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from agent_world.cache import cancellation_codes
from agent_world.store import ConflictError, NotFoundError, get_or_404, put_new

STATUSES = ("active", "paused", "archived", "deleting", "restoring")


@dataclass(frozen=True)
class Transition:
    allowed_from: tuple[str, ...]
    to: str


TRANSITIONS: dict[str, Transition] = {
    "pause": Transition(("active",), "paused"),
    "resume": Transition(("paused",), "active"),
    "archive": Transition(("active", "paused"), "archived"),
    # "deleting" again: a retried delete finishes the cascade of one that stopped.
    "delete": Transition(("archived", "deleting"), "deleting"),
}
WRITABLE = ("active",)
"""The statuses in which a world's objects and agents may be written."""
RESTORABLE = ("paused", "restoring")
"""The statuses a world may be restored from a snapshot in (paused: no agent is acting;
restoring: a restore that stopped part way, finished by another)."""


def version_of(item: Mapping[str, Any]) -> int:
    return int(item.get("version", 0))


def _failed_condition(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


def _version_condition(expected: int | None) -> tuple[str, dict[str, Any]]:
    """The condition part on ``version`` (none when ``expected`` is None); items without
    a version are version 0."""
    if expected is None:
        return "", {}
    if expected == 0:
        return " AND attribute_not_exists(#v)", {}
    return " AND #v = :expected", {":expected": expected}


# --- worlds ---------------------------------------------------------------------------------


def get_world(table: Any, world_id: str) -> dict[str, Any]:
    return get_or_404(table, {"world_id": world_id}, "world")


def create_world(table: Any, item: Mapping[str, Any]) -> dict[str, Any]:
    return dict(put_new(table, {**item, "version": 1}, "world_id", "world"))


def require_status(world: Mapping[str, Any], allowed: tuple[str, ...], doing: str) -> None:
    """``ConflictError`` unless the world is in one of ``allowed``."""
    if world.get("status") not in allowed:
        raise ConflictError(
            f"world {world['world_id']!r} is {world.get('status')}: cannot {doing} "
            f"(needs {' or '.join(allowed)})",
            current_status=world.get("status"),
            current_version=version_of(world),
        )


def _world_conflict(table: Any, world_id: str, doing: str, expected: int | None) -> Exception:
    """The error for a failed conditional world write, from the world as it is now."""
    current = table.get_item(Key={"world_id": world_id}, ConsistentRead=True).get("Item")
    if current is None:
        return NotFoundError(f"world {world_id!r} not found")
    if expected is not None and version_of(current) != expected:
        return ConflictError(
            f"world {world_id!r} is at version {version_of(current)}, not {expected}",
            current_status=current.get("status"),
            current_version=version_of(current),
        )
    return ConflictError(
        f"world {world_id!r} is {current.get('status')}: cannot {doing}",
        current_status=current.get("status"),
        current_version=version_of(current),
    )


def transition_world(
    table: Any, world_id: str, action: str, now: str, expected_version: int | None = None
) -> dict[str, Any]:
    """Apply ``TRANSITIONS[action]`` if the world's status (and ``expected_version``, when
    given) is what it was expected to be, as one conditional ``UpdateItem``."""
    move = TRANSITIONS[action]
    froms = {f":from{i}": status for i, status in enumerate(move.allowed_from)}
    extra, extra_values = _version_condition(expected_version)
    try:
        answer = table.update_item(
            Key={"world_id": world_id},
            UpdateExpression="SET #s = :to, #u = :now, #v = if_not_exists(#v, :zero) + :one",
            ConditionExpression=f"attribute_exists(#id) AND #s IN ({', '.join(froms)}){extra}",
            ExpressionAttributeNames={
                "#id": "world_id",
                "#s": "status",
                "#u": "updated_at",
                "#v": "version",
            },
            ExpressionAttributeValues={
                ":to": move.to, ":now": now, ":zero": 0, ":one": 1, **froms, **extra_values
            },
            ReturnValues="ALL_NEW",
        )  # fmt: skip
    except ClientError as error:
        if _failed_condition(error):
            raise _world_conflict(table, world_id, action, expected_version) from None
        raise
    return answer["Attributes"]


def restore_world(
    table: Any, world_id: str, restored: Mapping[str, Any], snapshot_id: str, now: str,
    expected_version: int,
) -> dict[str, Any]:  # fmt: skip
    """Put the snapshot's name, description and settings back, record where they came from,
    mark the world ``restoring`` and bump the version, if the world is still restorable at
    ``expected_version``; ``finish_restore`` marks it ``paused`` again."""
    froms = {f":from{i}": status for i, status in enumerate(RESTORABLE)}
    try:
        answer = table.update_item(
            Key={"world_id": world_id},
            UpdateExpression=(
                "SET #n = :name, #d = :description, #st = :settings, #r = :snapshot, "
                "#ra = :now, #u = :now, #v = :next, #s = :restoring"
            ),
            ConditionExpression=f"#s IN ({', '.join(froms)}) AND "
            + ("attribute_not_exists(#v)" if expected_version == 0 else "#v = :expected"),
            ExpressionAttributeNames={
                "#n": "name", "#d": "description", "#st": "settings", "#s": "status",
                "#r": "restored_from", "#ra": "restored_at", "#u": "updated_at", "#v": "version",
            },
            ExpressionAttributeValues={
                ":name": restored.get("name", ""),
                ":description": restored.get("description", ""),
                ":settings": restored.get("settings", {}),
                ":snapshot": snapshot_id,
                ":now": now,
                ":next": expected_version + 1,
                ":restoring": "restoring",
                **froms,
                **({":expected": expected_version} if expected_version else {}),
            },
            ReturnValues="ALL_NEW",
        )  # fmt: skip
    except ClientError as error:
        if _failed_condition(error):
            raise _world_conflict(table, world_id, "restore", expected_version) from None
        raise
    return answer["Attributes"]


def finish_restore(table: Any, world_id: str, now: str, expected_version: int) -> dict:
    """``restoring`` → ``paused``, if no other restore took over since (the version
    ``restore_world`` set)."""
    try:
        answer = table.update_item(
            Key={"world_id": world_id},
            UpdateExpression="SET #s = :paused, #u = :now, #v = :next",
            ConditionExpression="#s = :restoring AND #v = :expected",
            ExpressionAttributeNames={"#s": "status", "#u": "updated_at", "#v": "version"},
            ExpressionAttributeValues={":paused": "paused", ":restoring": "restoring",
                                       ":now": now, ":expected": expected_version,
                                       ":next": expected_version + 1},
            ReturnValues="ALL_NEW",
        )  # fmt: skip
    except ClientError as error:
        if _failed_condition(error):
            raise _world_conflict(table, world_id, "finish restoring", expected_version) from None
        raise
    return answer["Attributes"]


def delete_world(table: Any, world_id: str) -> None:
    """Remove the world's item, only once it is marked ``deleting`` (its cascade done)."""
    try:
        table.delete_item(
            Key={"world_id": world_id},
            ConditionExpression="#s = :deleting",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":deleting": "deleting"},
        )
    except ClientError as error:
        if _failed_condition(error):
            raise _world_conflict(table, world_id, "delete", None) from None
        raise


# --- agents ---------------------------------------------------------------------------------


def get_agent(table: Any, agent_id: str) -> dict[str, Any]:
    return get_or_404(table, {"agent_id": agent_id}, "agent")


class ChildConditionError(Exception):
    """The child write's own condition failed in ``write_in_active_world`` (the world was
    active)."""


def write_in_active_world(
    worlds: Any, table: Any, world_id: str, doing: str, op: str, params: dict[str, Any],
    old: dict | None = None,
) -> dict[str, Any] | None:  # fmt: skip
    """``op`` (``"Put"``/``"Update"``) on ``table`` (a ``cache.HookedTable``) only while the
    world is ``active``: one ``TransactWriteItems`` with a ``ConditionCheck`` on the world,
    so no pause, restore or archive can land between the check and the write. A world not
    active is the ``ConflictError`` (or ``NotFoundError``) of ``_world_conflict``; the
    write's own condition failing is ``ChildConditionError``. Returns the new image."""
    check = {
        "TableName": worlds.name,
        "Key": {"world_id": world_id},
        "ConditionExpression": "#s IN (" + ", ".join(f":w{i}" for i in range(len(WRITABLE))) + ")",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {f":w{i}": s for i, s in enumerate(WRITABLE)},
    }
    try:
        return table.transact(check, op, params, old)
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        codes = cancellation_codes(error)
        if codes[:1] == ["ConditionalCheckFailed"]:
            raise _world_conflict(worlds, world_id, doing, None) from None
        if codes[1:2] == ["ConditionalCheckFailed"]:
            raise ChildConditionError() from None
        raise


def create_agent(table: Any, item: Mapping[str, Any], worlds: Any = None) -> dict[str, Any]:
    """Put a new agent (``ConflictError`` if its id exists); with ``worlds``, only while its
    world is active (``write_in_active_world``)."""
    item = {**item, "version": 1}
    if worlds is None:
        return dict(put_new(table, item, "agent_id", "agent"))
    params = {
        "Item": item,
        "ConditionExpression": "attribute_not_exists(#k)",
        "ExpressionAttributeNames": {"#k": "agent_id"},
    }
    try:
        write_in_active_world(worlds, table, item["world_id"], "add agents", "Put", params)
    except ChildConditionError:
        raise ConflictError(f"agent {item['agent_id']!r} already exists") from None
    return item


def update_agent(
    table: Any, agent_id: str, changes: Mapping[str, Any], expected_version: int | None, now: str,
    world: tuple[Any, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Set ``changes`` (top-level attributes: ``name``, ``persona``, ``state``) if the agent
    is at ``expected_version`` (None: whatever version it is at, for ``If-Match: *``), as one
    conditional ``UpdateItem`` - or, with ``world`` (the Worlds table and the agent's world
    id), in one transaction with that world being active; a stale version is a
    ``ConflictError`` with the current one."""
    names = {f"#c{i}": name for i, name in enumerate(changes)}
    names |= {"#id": "agent_id", "#u": "updated_at", "#v": "version"}
    values = {f":c{i}": value for i, value in enumerate(changes.values())}
    values |= {":now": now, ":zero": 0, ":one": 1}
    sets = [f"#c{i} = :c{i}" for i in range(len(changes))]
    sets += ["#u = :now", "#v = if_not_exists(#v, :zero) + :one"]
    extra, extra_values = _version_condition(expected_version)
    params = {
        "Key": {"agent_id": agent_id},
        "UpdateExpression": "SET " + ", ".join(sets),
        "ConditionExpression": f"attribute_exists(#id){extra}",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {**values, **extra_values},
    }
    try:
        if world is not None:
            worlds, world_id = world
            new = write_in_active_world(
                worlds, table, world_id, "update its agents", "Update", params
            )
            return dict(new or {})
        answer = table.update_item(**params, ReturnValues="ALL_NEW")
    except (ClientError, ChildConditionError) as error:
        if isinstance(error, ClientError) and not _failed_condition(error):
            raise
        current = table.get_item(Key={"agent_id": agent_id}, ConsistentRead=True).get("Item")
        if current is None:
            raise NotFoundError(f"agent {agent_id!r} not found") from None
        raise ConflictError(
            f"agent {agent_id!r} is at version {version_of(current)}, not {expected_version}",
            current_version=version_of(current),
        ) from None
    return answer["Attributes"]


def put_restored_agent(table: Any, item: Mapping[str, Any]) -> dict[str, Any]:
    """Put an agent back from a snapshot, unless its id now belongs to another world."""
    try:
        table.put_item(
            Item=dict(item),
            ConditionExpression="attribute_not_exists(#id) OR #w = :world",
            ExpressionAttributeNames={"#id": "agent_id", "#w": "world_id"},
            ExpressionAttributeValues={":world": item["world_id"]},
        )
    except ClientError as error:
        if _failed_condition(error):
            raise ConflictError(
                f"agent {item['agent_id']!r} now belongs to another world: not restored"
            ) from None
        raise
    return dict(item)
