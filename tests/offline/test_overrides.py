"""``./tasks plan --set``: a value that cannot be applied is one line of error and status 2."""

from __future__ import annotations

import pytest

from offline.__main__ import main
from offline.runner import OverrideError, apply_override, stack_config


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("network.cidr.prefix=16",
         "error: --set mlplatform:network.cidr is '10.20.0.0/16', not an object, so "
         "mlplatform:network.cidr.prefix cannot be set"),
        ("network.cidr=[10.0.0.0/16",
         "error: --set network.cidr: expected a YAML value, got '[10.0.0.0/16' (expected ',' or "
         "']', but got '<stream end>')"),
        ("tags={team: ml",
         "error: --set tags: expected a YAML value, got '{team: ml' (expected ',' or '}', but "
         "got '<stream end>')"),
    ],
)  # fmt: skip
def test_a_malformed_override_prints_one_line_and_exits_2(capsys, override, message):
    # given a --set that names a field of a string, or an unclosed YAML bracket
    # when the plan runs
    code = main(["dev", "--set", override])
    # then it prints one line naming the key (no traceback, no plan) and exits 2
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.splitlines() == [message]


def test_a_field_of_an_overridden_scalar_is_refused_by_apply_override():
    config, _ = stack_config("dev")
    apply_override(config, "network", 5)
    with pytest.raises(OverrideError, match="mlplatform:network is 5, not an object"):
        apply_override(config, "network.cidr", "10.0.0.0/16")
