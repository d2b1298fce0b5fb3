"""The ``training`` section (components/config/training.py): workers, queues, checkpoints."""

from __future__ import annotations

import pytest

BAD_CONFIGS = [
    # (overrides on dev, the key the message must name, a phrase of the accepted form)
    ({"training.worker_cpu": 3000}, "mlplatform:training.worker_cpu", "one of 256, 512"),
    ({"training.worker_memory": 512}, "mlplatform:training.worker_memory", "2048-8192"),
    ({"training.spot_percentage": 101}, "mlplatform:training.spot_percentage", "0 to 100"),
    ({"training.max_workers": 0}, "mlplatform:training.max_workers", "from 1 to 1000"),
    ({"training.min_workers": 9}, "mlplatform:training.max_workers", "at least min_workers"),
    ({"training.max_receive_count": 0}, "mlplatform:training.max_receive_count", "1 to 1000"),
    ({"training.message_retention_days": 15}, "mlplatform:training.message_retention_days",
     "from 1 to 14"),
    ({"training.max_eval_seconds": 50000}, "mlplatform:training.max_eval_seconds", "10 to 43140"),
    ({"training.eval_seconds": 1000}, "mlplatform:training.eval_seconds", "at most max_eval"),
    ({"training.checkpoint_ia_days": 7}, "mlplatform:training.checkpoint_ia_days", "30 to 3650"),
    ({"training.checkpoint_expire_days": 30}, "mlplatform:training.checkpoint_expire_days",
     "31 to 36500"),
    ({"training.checkpoint_ia_days": 90, "training.checkpoint_expire_days": 60},
     "mlplatform:training.checkpoint_expire_days", "more than checkpoint_ia_days"),
    ({"training.scale_in_idle_minutes": 0}, "mlplatform:training.scale_in_idle_minutes",
     "1 to 1440"),
    ({"training.redis_node_type": "t4g.micro"}, "mlplatform:training.redis_node_type",
     "cache.<family>"),
    ({"training.coordinator_user": "yes"}, "mlplatform:training.coordinator_user", "boolean"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "key", "accepted"), BAD_CONFIGS, ids=[b[1] for b in BAD_CONFIGS]
)
def test_bad_config_is_refused_naming_the_key_and_accepted_form(refused, overrides, key, accepted):
    refused(overrides, key, accepted)


def test_a_bad_cpu_does_not_also_blame_the_memory(problems_for):
    problems = problems_for("dev", training__worker_cpu=3000)
    assert [p.split(":")[1] for p in problems] == ["training.worker_cpu"]
