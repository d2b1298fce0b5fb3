"""What each kind of secret does in the four steps, and which kind a function rotates.

- ``random``: a random value that services read from Secrets Manager at run time (the API
  keys: ``service_common.secret_keys`` accepts AWSCURRENT, AWSPREVIOUS and AWSPENDING, so
  nothing is set anywhere); ``finish`` forces a new deployment of the ECS services listed in
  ``RESTART_SERVICES`` (a value fixed at task start, such as MLflow's Flask secret key).
- ``apigateway-key``: an API Gateway API key that API Gateway itself checks. ``set`` creates
  a second key holding the pending value in the usage plan, so both work; ``finish`` retires
  every key of this secret older than AWSPREVIOUS (a key created here is deleted, the
  stack's own first key, which Pulumi manages, disabled), so the previous key keeps working
  until the next rotation.
- ``mlflow-admin``: the MLflow admin password, changed through MLflow's REST API
  (``PATCH users/update-password``) authenticated with the current one.
- ``redis-auth``: an ElastiCache Redis AUTH token: ``set`` adds the pending token with
  ``AuthTokenUpdateStrategy=ROTATE`` (the server then accepts both), after a ``SET`` of the
  current token when the last rotation left two (dropping the one before it, which no task
  has used since that rotation's new deployment); ``finish`` forces a new deployment of the
  ECS services in ``RESTART_SERVICES``, whose tasks read the token at start.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import secrets
import string
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from secret_rotation.steps import RotationError

log = logging.getLogger(__name__)

ALPHABET = string.ascii_letters + string.digits
"""Letters and digits: valid as an API key, an MLflow password, a Redis AUTH token and in
a header, with nothing to escape."""


def random_value(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def _check_value(value: str, length: int) -> None:
    if len(value) != length or any(c not in ALPHABET for c in value):
        raise RotationError(f"the pending value is not {length} letters and digits")


def restart(ecs: Any, service_arns: Sequence[str]) -> None:
    """A new deployment of each ECS service (``arn:...:service/<cluster>/<service>``), so
    its tasks start again and read the secret's AWSCURRENT value."""
    for arn in service_arns:
        _, cluster, service = arn.rsplit(":", 1)[-1].split("/", 2)
        ecs.update_service(cluster=cluster, service=service, forceNewDeployment=True)
        log.info("new deployment of %s/%s", cluster, service)


@dataclass
class RandomValue:
    """A random value of ``length`` letters and digits; ``finish`` restarts ``restart``."""

    length: int
    ecs: Any = None
    restart: Sequence[str] = ()

    def generate(self, current: str) -> str:
        return random_value(self.length)

    def set(self, current: str, pending: str, previous: str | None, created: datetime) -> None:
        """Nothing to set: the consumers read the secret."""

    def test(self, pending: str) -> None:
        _check_value(pending, self.length)

    def finish(self, current: str, previous: str | None) -> None:
        if self.restart:
            restart(self.ecs, self.restart)


ROTATED_SUFFIX = "-rotated-"


@dataclass
class ApiGatewayKey:
    """The API keys named ``key_name`` (the stack's) and ``<key_name>-rotated-<time>`` (made
    here) of one usage plan; a key is 40 letters and digits."""

    apigateway: Any
    usage_plan_id: str
    key_name: str
    length: int = 40
    clock: Callable[[], float] = time.time

    def generate(self, current: str) -> str:
        return random_value(self.length)

    def _keys(self) -> list[dict]:
        found, position = [], None
        while True:
            page = self.apigateway.get_api_keys(
                nameQuery=self.key_name, includeValues=True, limit=500,
                **({"position": position} if position else {}),
            )  # fmt: skip
            found += [k for k in page.get("items", []) if self._ours(k["name"])]
            position = page.get("position")
            if not position:
                return found

    def _ours(self, name: str) -> bool:
        return name == self.key_name or name.startswith(self.key_name + ROTATED_SUFFIX)

    def _in_plan(self, key_id: str) -> bool:
        try:
            self.apigateway.get_usage_plan_key(usagePlanId=self.usage_plan_id, keyId=key_id)
            return True
        except self.apigateway.exceptions.NotFoundException:
            return False

    def set(self, current: str, pending: str, previous: str | None, created: datetime) -> None:
        key = next((k for k in self._keys() if k.get("value") == pending), None)
        if key is None:
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.clock()))
            key = self.apigateway.create_api_key(
                name=f"{self.key_name}{ROTATED_SUFFIX}{stamp}",
                description="Rotated by Secrets Manager (secret_rotation)",
                enabled=True,
                value=pending,
            )
            log.info("setSecret: API key %s created", key["id"])
        if not self._in_plan(key["id"]):
            self.apigateway.create_usage_plan_key(
                usagePlanId=self.usage_plan_id, keyId=key["id"], keyType="API_KEY"
            )
            log.info("setSecret: API key %s added to usage plan %s", key["id"], self.usage_plan_id)

    def test(self, pending: str) -> None:
        key = next((k for k in self._keys() if k.get("value") == pending), None)
        if key is None or not key.get("enabled"):
            raise RotationError("no enabled API key holds the pending value")
        if not self._in_plan(key["id"]):
            raise RotationError(f"API key {key['id']} is not in usage plan {self.usage_plan_id}")

    def finish(self, current: str, previous: str | None) -> None:
        kept = {current, previous}
        for key in self._keys():
            if key.get("value") in kept:
                continue
            if key["name"] == self.key_name:
                # The stack's own key: Pulumi manages it (and ignores `enabled`), so disabled.
                if key.get("enabled"):
                    self.apigateway.update_api_key(
                        apiKey=key["id"],
                        patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}],
                    )
                    log.info("finishSecret: API key %s disabled", key["id"])
                continue
            with contextlib.suppress(self.apigateway.exceptions.NotFoundException):
                self.apigateway.delete_usage_plan_key(usagePlanId=self.usage_plan_id,
                                                      keyId=key["id"])  # fmt: skip
            self.apigateway.delete_api_key(apiKey=key["id"])
            log.info("finishSecret: API key %s deleted", key["id"])


Opener = Callable[[urllib.request.Request, float], Any]


def _open(request: urllib.request.Request, timeout: float) -> Any:
    return urllib.request.urlopen(request, timeout=timeout)


@dataclass
class MlflowAdminPassword:
    """The password of MLflow's admin ``username`` at ``url`` (the server's root, with its
    static prefix: ``https://<alb>/mlflow``)."""

    url: str
    username: str = "admin"
    length: int = 40
    opener: Opener = _open
    timeout: float = 20.0

    def generate(self, current: str) -> str:
        return random_value(self.length)

    def _request(self, method: str, path: str, password: str, body: dict | None = None):
        credentials = base64.b64encode(f"{self.username}:{password}".encode()).decode()
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url.rstrip('/')}{path}", data=data, method=method,
            headers={"Authorization": f"Basic {credentials}",
                     "Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with self.opener(request, self.timeout) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except (urllib.error.URLError, TimeoutError) as error:
            raise RotationError(f"MLflow at {self.url} cannot be reached: {error}") from None

    def _authenticates(self, password: str) -> bool:
        query = urllib.parse.urlencode({"username": self.username})
        status = self._request("GET", f"/api/2.0/mlflow/users/get?{query}", password)
        if status not in (200, 401, 403):
            raise RotationError(f"MLflow answered {status} to users/get")
        return status == 200

    def set(self, current: str, pending: str, previous: str | None, created: datetime) -> None:
        if self._authenticates(pending):
            log.info("setSecret: the admin password is already the pending one")
            return
        if not self._authenticates(current):
            raise RotationError("MLflow refuses the current admin password: nothing changed")
        status = self._request(
            "PATCH", "/api/2.0/mlflow/users/update-password", current,
            {"username": self.username, "password": pending, "current_password": current},
        )  # fmt: skip
        if status != 200:
            raise RotationError(f"MLflow answered {status} to users/update-password")

    def test(self, pending: str) -> None:
        if not self._authenticates(pending):
            raise RotationError("MLflow refuses the pending admin password")

    def finish(self, current: str, previous: str | None) -> None:
        """Nothing: MLflow holds one password per user; clients read AWSCURRENT."""


@dataclass
class RedisAuthToken:
    """The AUTH token of ElastiCache replication group ``group_id``; its consumers'
    ECS services ``restart`` get a new deployment at ``finish``."""

    elasticache: Any
    group_id: str
    ecs: Any = None
    restart: Sequence[str] = ()
    length: int = 48
    wait_seconds: float = 420.0
    """Per wait: setSecret may wait twice (before and after a SET) within the function's
    900 s, with time left for the calls."""
    poll_seconds: float = 15.0
    sleep: Callable[[float], None] | None = None
    """Default ``time.sleep`` (looked up when called)."""

    def generate(self, current: str) -> str:
        return random_value(self.length)

    def _group(self) -> dict:
        found = self.elasticache.describe_replication_groups(ReplicationGroupId=self.group_id)
        return found["ReplicationGroups"][0]

    def _wait_available(self) -> dict:
        """The group once ``available``, polled every ``poll_seconds`` for at most
        ``wait_seconds`` (within the function's timeout); else :class:`RotationError`."""
        polls = int(self.wait_seconds // self.poll_seconds)
        for attempt in range(polls + 1):
            group = self._group()
            if group.get("Status") == "available":
                return group
            if attempt < polls:
                (self.sleep or time.sleep)(self.poll_seconds)
        raise RotationError(
            f"replication group {self.group_id} is {group.get('Status')!r}, not available, "
            f"after {self.wait_seconds:.0f} s"
        )

    def _modify(self, token: str, strategy: str) -> None:
        self.elasticache.modify_replication_group(
            ReplicationGroupId=self.group_id, AuthToken=token,
            AuthTokenUpdateStrategy=strategy, ApplyImmediately=True,
        )  # fmt: skip
        log.info("setSecret: AUTH token of %s changed (%s)", self.group_id, strategy)

    def set(self, current: str, pending: str, previous: str | None, created: datetime) -> None:
        group = self._wait_available()
        changed = group.get("AuthTokenLastModifiedDate")
        # A run of this step got this far before (the token changed after the pending
        # version): it may have stopped between its SET and its ROTATE, which ElastiCache
        # does not tell apart, so both are done again; either way the group ends holding
        # the current token and the pending one.
        retried = changed is not None and changed >= created
        if previous is not None or retried:
            # The last rotation's ROTATE (or this step's) left two tokens; a SET of the
            # current one drops the other, unused since that rotation's new deployment.
            try:
                self._modify(current, "SET")
            except self.elasticache.exceptions.InvalidParameterValueException as error:
                log.info("setSecret: SET of the current token refused (%s): one token", error)
            else:
                self._wait_available()
        self._modify(pending, "ROTATE")

    def test(self, pending: str) -> None:
        _check_value(pending, self.length)
        group = self._wait_available()
        if not group.get("AuthTokenEnabled"):
            raise RotationError(f"replication group {self.group_id} has AUTH off")

    def finish(self, current: str, previous: str | None) -> None:
        if self.restart:
            restart(self.ecs, self.restart)


KINDS = ("random", "apigateway-key", "mlflow-admin", "redis-auth")


def _list(env: Mapping[str, str], name: str) -> list[str]:
    return [v.strip() for v in env.get(name, "").split(",") if v.strip()]


def from_env(env: Mapping[str, str], client: Callable[[str], Any]) -> Any:
    """The kind ``ROTATION_KIND`` names, configured from the function's variables;
    ``client(service)`` makes a boto3 client."""
    kind = env.get("ROTATION_KIND", "")
    restart_arns = _list(env, "RESTART_SERVICES")
    ecs = client("ecs") if restart_arns else None
    if kind == "random":
        return RandomValue(int(env.get("VALUE_LENGTH", "40")), ecs, restart_arns)
    if kind == "apigateway-key":
        return ApiGatewayKey(client("apigateway"), env["USAGE_PLAN_ID"], env["KEY_NAME"])
    if kind == "mlflow-admin":
        return MlflowAdminPassword(env["MLFLOW_URL"], env.get("MLFLOW_ADMIN_USERNAME", "admin"))
    if kind == "redis-auth":
        return RedisAuthToken(
            client("elasticache"), env["REPLICATION_GROUP_ID"], ecs, restart_arns,
            length=int(env.get("VALUE_LENGTH", "48")),
        )  # fmt: skip
    raise RotationError(f"ROTATION_KIND {kind!r} is not one of {', '.join(KINDS)}")
