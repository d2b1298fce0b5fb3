"""The IAM evaluator of the access proof, on plain policy documents: one behaviour a test."""

from __future__ import annotations

import pytest

from preflight.simulate import Policy, Request, UnsupportedPolicyError, evaluate, evaluate_kms

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/other"
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/worlds"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"


def policy(*statements, name="p"):
    return Policy.of(name, {"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def request(action="dynamodb:GetItem", resource=TABLE, context=None, principal=ROLE):
    return Request(principal, action, resource, context or {})


def conditional(operator, key, values):
    return policy(allow("dynamodb:GetItem", TABLE, Condition={operator: {key: values}}))


# --- actions and resources ----------------------------------------------------------------


def test_an_allow_on_the_exact_action_and_resource_allows():
    # given a policy allowing GetItem on the table
    # when the role calls GetItem on it
    decision = evaluate(request(), [policy(allow("dynamodb:GetItem", TABLE, Sid="Read"))])
    # then it is allowed, and the statement is named
    assert decision.allowed
    assert "Read" in decision.reason


def test_nothing_allows_by_default():
    decision = evaluate(request(), [policy(allow("dynamodb:PutItem", TABLE))])
    assert not decision.allowed
    assert "no statement" in decision.reason


def test_no_policy_at_all_refuses():
    assert not evaluate(request(), [])


def test_actions_compare_case_insensitively():
    assert evaluate(request(action="DynamoDB:getitem"), [policy(allow("dynamodb:GetItem", TABLE))])


def test_an_action_wildcard_matches_a_prefix():
    assert evaluate(request(), [policy(allow("dynamodb:Get*", TABLE))])


def test_an_action_question_mark_matches_exactly_one_character():
    assert evaluate(request(), [policy(allow("dynamodb:GetIte?", TABLE))])
    assert not evaluate(request(), [policy(allow("dynamodb:GetI?", TABLE))])


def test_an_action_of_another_service_does_not_match():
    assert not evaluate(request(), [policy(allow("dynamodbx:GetItem", TABLE))])


def test_resources_compare_case_sensitively():
    assert not evaluate(request(), [policy(allow("dynamodb:GetItem", TABLE.upper()))])


def test_a_resource_wildcard_matches_within_the_arn():
    index = f"{TABLE}/index/status-index"
    assert evaluate(
        request(action="dynamodb:Query", resource=index),
        [policy(allow("dynamodb:Query", f"{TABLE}/index/*"))],
    )


def test_a_table_grant_does_not_cover_its_indexes():
    index = f"{TABLE}/index/status-index"
    assert not evaluate(
        request(action="dynamodb:Query", resource=index), [policy(allow("dynamodb:Query", TABLE))]
    )


def test_a_star_resource_matches_everything():
    assert evaluate(request(resource="arn:aws:s3:::any/thing"), [policy(allow("dynamodb:GetItem"))])


def test_not_action_allows_every_other_action():
    p = policy({"Effect": "Allow", "NotAction": "dynamodb:DeleteItem", "Resource": TABLE})
    assert evaluate(request(), [p])
    assert not evaluate(request(action="dynamodb:DeleteItem"), [p])


def test_not_resource_allows_every_other_resource():
    p = policy({"Effect": "Allow", "Action": "dynamodb:GetItem", "NotResource": TABLE})
    assert not evaluate(request(), [p])
    assert evaluate(request(resource=f"{TABLE}-other"), [p])


def test_a_list_of_actions_matches_any_of_them():
    assert evaluate(request(), [policy(allow(["dynamodb:PutItem", "dynamodb:GetItem"], TABLE))])


# --- deny -------------------------------------------------------------------------------


def test_an_explicit_deny_wins_over_an_allow():
    decision = evaluate(
        request(),
        [policy(allow("dynamodb:*", "*")), policy(deny("dynamodb:GetItem", TABLE, Sid="No"))],
    )
    assert not decision.allowed
    assert decision.explicit_deny
    assert "No" in decision.reason


def test_a_deny_in_the_resource_policy_wins_over_an_identity_allow():
    resource_policy = policy(deny("dynamodb:GetItem", TABLE, Principal="*"), name="table")
    decision = evaluate(request(), [policy(allow("dynamodb:GetItem", TABLE))], resource_policy)
    assert decision.explicit_deny


def test_a_deny_whose_condition_fails_does_not_apply():
    tls_only = policy(
        deny("s3:*", "*", Principal="*", Condition={"Bool": {"aws:SecureTransport": "false"}}),
        name="bucket",
    )
    allowed = policy(allow("s3:GetObject", "arn:aws:s3:::b/k"))
    over_tls = request("s3:GetObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": True})
    plain = request("s3:GetObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": False})
    assert evaluate(over_tls, [allowed], tls_only)
    assert not evaluate(plain, [allowed], tls_only)


# --- resource policies and principals -----------------------------------------------------


def test_a_resource_policy_naming_the_role_allows_without_an_identity_policy():
    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:q"
    resource_policy = policy(allow("sqs:SendMessage", queue, Principal={"AWS": ROLE}))
    assert evaluate(request("sqs:SendMessage", queue), [], resource_policy)


def test_a_resource_policy_naming_another_role_does_not_allow():
    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:q"
    resource_policy = policy(allow("sqs:SendMessage", queue, Principal={"AWS": OTHER_ROLE}))
    assert not evaluate(request("sqs:SendMessage", queue), [], resource_policy)


def test_a_resource_policy_naming_the_account_needs_the_identity_policy():
    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:q"
    resource_policy = policy(allow("sqs:SendMessage", queue, Principal={"AWS": ROOT}))
    assert not evaluate(request("sqs:SendMessage", queue), [], resource_policy)


def test_a_service_principal_matches_its_own_name_only():
    p = policy(allow("kms:Decrypt", "*", Principal={"Service": "logs.us-east-1.amazonaws.com"}))
    logs = request("kms:Decrypt", KEY, principal="logs.us-east-1.amazonaws.com")
    sns = request("kms:Decrypt", KEY, principal="sns.amazonaws.com")
    assert evaluate_kms(logs, p)
    assert not evaluate_kms(sns, p)


def test_not_principal_excludes_the_named_principal():
    p = policy(
        {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "NotPrincipal": {"AWS": ROLE}},
        allow("s3:GetObject", "*", Principal="*"),
    )
    assert evaluate(request("s3:GetObject", "arn:aws:s3:::b/k"), [], p)
    assert not evaluate(request("s3:GetObject", "arn:aws:s3:::b/k", principal=OTHER_ROLE), [], p)


# --- conditions -------------------------------------------------------------------------


def test_string_equals_holds_on_an_equal_value():
    p = conditional("StringEquals", "aws:SourceAccount", ACCOUNT)
    assert evaluate(request(context={"aws:SourceAccount": ACCOUNT}), [p])


def test_string_equals_refuses_another_value():
    p = conditional("StringEquals", "aws:SourceAccount", ACCOUNT)
    assert not evaluate(request(context={"aws:SourceAccount": "999999999999"}), [p])


def test_a_condition_on_a_key_absent_from_the_context_fails():
    p = conditional("StringEquals", "kms:ViaService", "dynamodb.us-east-1.amazonaws.com")
    assert not evaluate(request(), [p])


def test_condition_keys_compare_case_insensitively():
    p = conditional("StringEquals", "kms:viaservice", "dynamodb.us-east-1.amazonaws.com")
    assert evaluate(request(context={"KMS:ViaService": "dynamodb.us-east-1.amazonaws.com"}), [p])


def test_string_equals_values_compare_case_sensitively():
    p = conditional("StringEquals", "ecs:cluster", "Prod")
    assert not evaluate(request(context={"ecs:cluster": "prod"}), [p])


def test_string_equals_ignore_case_ignores_case():
    p = conditional("StringEqualsIgnoreCase", "ecs:cluster", "Prod")
    assert evaluate(request(context={"ecs:cluster": "prod"}), [p])


def test_string_not_equals_ignore_case_refuses_a_value_differing_only_in_case():
    p = conditional("StringNotEqualsIgnoreCase", "ecs:cluster", "Prod")
    assert not evaluate(request(context={"ecs:cluster": "prod"}), [p])


def test_several_values_of_one_key_are_alternatives():
    p = conditional("StringEquals", "aws:SourceAccount", ["111111111111", ACCOUNT])
    assert evaluate(request(context={"aws:SourceAccount": ACCOUNT}), [p])


def test_every_key_and_operator_of_a_condition_must_hold():
    p = policy(
        allow(
            "dynamodb:GetItem",
            TABLE,
            Condition={
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
                "ArnLike": {"aws:SourceArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:*"},
            },
        )
    )
    both = {
        "aws:SourceAccount": ACCOUNT,
        "aws:SourceArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/x",
    }
    assert evaluate(request(context=both), [p])
    assert not evaluate(request(context={"aws:SourceAccount": ACCOUNT}), [p])


def test_string_not_equals_holds_on_another_value():
    p = conditional("StringNotEquals", "aws:SourceAccount", "999999999999")
    assert evaluate(request(context={"aws:SourceAccount": ACCOUNT}), [p])


def test_string_not_equals_refuses_the_named_value():
    p = conditional("StringNotEquals", "aws:SourceAccount", ACCOUNT)
    assert not evaluate(request(context={"aws:SourceAccount": ACCOUNT}), [p])


def test_a_negated_operator_holds_when_the_key_is_absent():
    # IAM User Guide, Condition operators: "StringNotLike ... and the key is not present:
    # the condition is true".
    p = conditional("StringNotEquals", "aws:SourceAccount", ACCOUNT)
    assert evaluate(request(), [p])


def test_string_like_matches_a_wildcard():
    p = conditional("StringLike", "s3:prefix", "state-pools/*")
    assert evaluate(request(context={"s3:prefix": "state-pools/p1"}), [p])
    assert not evaluate(request(context={"s3:prefix": "checkpoints/c1"}), [p])


def test_string_not_like_refuses_a_matching_value():
    p = conditional("StringNotLike", "s3:prefix", "secret/*")
    assert evaluate(request(context={"s3:prefix": "public/a"}), [p])
    assert not evaluate(request(context={"s3:prefix": "secret/a"}), [p])


def test_arn_equals_needs_the_same_arn():
    cluster = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/gpu"
    p = conditional("ArnEquals", "ecs:cluster", cluster)
    assert evaluate(request(context={"ecs:cluster": cluster}), [p])
    assert not evaluate(request(context={"ecs:cluster": cluster + "2"}), [p])


def test_arn_like_wildcards_stay_within_one_part():
    p = conditional("ArnLike", "aws:SourceArn", f"arn:aws:ecs:*:{ACCOUNT}:*")
    assert evaluate(
        request(context={"aws:SourceArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/c/1"}), [p]
    )
    # "*" in the region part must not swallow the account part.
    assert not evaluate(
        request(context={"aws:SourceArn": f"arn:aws:ecs:us-east-1:999999999999:{ACCOUNT}:x"}), [p]
    )


def test_arn_not_equals_refuses_the_named_arn():
    cluster = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/gpu"
    p = conditional("ArnNotEquals", "ecs:cluster", cluster)
    assert not evaluate(request(context={"ecs:cluster": cluster}), [p])
    assert evaluate(request(context={"ecs:cluster": cluster + "2"}), [p])


def test_arn_not_like_refuses_a_matching_arn():
    p = conditional("ArnNotLike", "aws:SourceArn", f"arn:aws:ecs:*:{ACCOUNT}:*")
    assert not evaluate(
        request(context={"aws:SourceArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/c/1"}), [p]
    )


def test_bool_compares_booleans_and_their_text():
    p = conditional("Bool", "aws:SecureTransport", "true")
    assert evaluate(request(context={"aws:SecureTransport": True}), [p])
    assert evaluate(request(context={"aws:SecureTransport": "TRUE"}), [p])
    assert not evaluate(request(context={"aws:SecureTransport": False}), [p])


def test_null_true_holds_only_when_the_key_is_absent():
    p = conditional("Null", "aws:SourceVpce", "true")
    assert evaluate(request(), [p])
    assert not evaluate(request(context={"aws:SourceVpce": "vpce-1"}), [p])


def test_null_false_holds_only_when_the_key_is_present():
    p = conditional("Null", "aws:SourceVpce", "false")
    assert not evaluate(request(), [p])
    assert evaluate(request(context={"aws:SourceVpce": "vpce-1"}), [p])


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("NumericEquals", 10, True),
        ("NumericEquals", 11, False),
        ("NumericNotEquals", 11, True),
        ("NumericLessThan", 9, True),
        ("NumericLessThan", 10, False),
        ("NumericLessThanEquals", 10, True),
        ("NumericGreaterThan", 11, True),
        ("NumericGreaterThan", 10, False),
        ("NumericGreaterThanEquals", 10, True),
    ],
)
def test_numeric_operators_compare_numbers(operator, value, expected):
    p = conditional(operator, "s3:max-keys", "10")
    assert bool(evaluate(request(context={"s3:max-keys": value}), [p])) is expected


def test_a_numeric_operator_refuses_a_value_that_is_not_a_number():
    p = conditional("NumericLessThan", "s3:max-keys", "10")
    assert not evaluate(request(context={"s3:max-keys": "many"}), [p])


def test_if_exists_holds_when_the_key_is_absent():
    p = conditional("StringEqualsIfExists", "ecs:cluster", "gpu")
    assert evaluate(request(), [p])


def test_if_exists_still_tests_a_present_key():
    p = conditional("StringEqualsIfExists", "ecs:cluster", "gpu")
    assert not evaluate(request(context={"ecs:cluster": "cpu"}), [p])


def test_for_any_value_holds_when_one_request_value_matches():
    p = conditional("ForAnyValue:StringEquals", "aws:TagKeys", ["team"])
    assert evaluate(request(context={"aws:TagKeys": ["owner", "team"]}), [p])
    assert not evaluate(request(context={"aws:TagKeys": ["owner"]}), [p])


def test_for_any_value_fails_when_the_key_is_absent():
    p = conditional("ForAnyValue:StringEquals", "aws:TagKeys", ["team"])
    assert not evaluate(request(), [p])


def test_for_all_values_needs_every_request_value_to_match():
    p = conditional("ForAllValues:StringEquals", "aws:TagKeys", ["team", "owner"])
    assert evaluate(request(context={"aws:TagKeys": ["team"]}), [p])
    assert not evaluate(request(context={"aws:TagKeys": ["team", "cost"]}), [p])


def test_for_all_values_holds_when_the_key_is_absent():
    # Documented (and a known trap): ForAllValues is true for a request without the key.
    p = conditional("ForAllValues:StringEquals", "aws:TagKeys", ["team"])
    assert evaluate(request(), [p])


def test_for_all_values_with_a_negated_operator_refuses_any_listed_value():
    p = conditional("ForAllValues:StringNotEquals", "aws:TagKeys", ["secret"])
    assert evaluate(request(context={"aws:TagKeys": ["team"]}), [p])
    assert not evaluate(request(context={"aws:TagKeys": ["team", "secret"]}), [p])


def test_an_unknown_operator_is_refused_rather_than_guessed():
    with pytest.raises(UnsupportedPolicyError, match="DateGreaterThan"):
        evaluate(
            request(context={"aws:CurrentTime": "2030-01-01"}),
            [conditional("DateGreaterThan", "aws:CurrentTime", "2020-01-01")],
        )


def test_an_unknown_set_operator_is_refused():
    with pytest.raises(UnsupportedPolicyError):
        evaluate(request(), [conditional("ForSomeValues:StringEquals", "k", "v")])


def test_an_unknown_effect_is_refused():
    with pytest.raises(UnsupportedPolicyError):
        evaluate(request(), [policy({"Effect": "Maybe", "Action": "*", "Resource": "*"})])


def test_a_policy_given_as_json_text_is_read():
    text = '{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}'
    assert evaluate(request(), [Policy.of("text", text)])


# --- KMS --------------------------------------------------------------------------------

DELEGATING_KEY_POLICY = policy(
    {
        "Sid": "Root",
        "Effect": "Allow",
        "Principal": {"AWS": ROOT},
        "Action": "kms:*",
        "Resource": "*",
    },
    name="key policy",
)
VIA_DYNAMODB = {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com", "kms:CallerAccount": ACCOUNT}


def test_kms_delegation_to_iam_and_an_identity_allow_allow_the_key():
    identity = policy(allow("kms:Decrypt", KEY, Sid="UseKey"))
    decision = evaluate_kms(request("kms:Decrypt", KEY), DELEGATING_KEY_POLICY, [identity])
    assert decision.allowed
    assert "delegates to IAM" in decision.reason
    assert "UseKey" in decision.reason


def test_kms_delegation_without_an_identity_allow_refuses():
    decision = evaluate_kms(request("kms:Decrypt", KEY), DELEGATING_KEY_POLICY, [])
    assert not decision.allowed
    assert "no identity policy" in decision.reason


def test_kms_identity_allow_without_delegation_refuses():
    # given a key policy that names only another role
    key_policy = policy(allow("kms:*", "*", Principal={"AWS": OTHER_ROLE}), name="key policy")
    identity = policy(allow("kms:Decrypt", KEY))
    # when the role holds an IAM allow
    decision = evaluate_kms(request("kms:Decrypt", KEY), key_policy, [identity])
    # then IAM alone cannot open the key
    assert not decision.allowed
    assert "neither allows" in decision.reason


def test_kms_key_policy_naming_the_role_allows_without_iam():
    key_policy = policy(allow("kms:Decrypt", "*", Principal={"AWS": ROLE}), name="key policy")
    assert evaluate_kms(request("kms:Decrypt", KEY), key_policy, [])


def test_kms_via_service_condition_holds_through_the_service():
    identity = policy(
        allow(
            "kms:Decrypt",
            KEY,
            Condition={"StringEquals": {"kms:ViaService": VIA_DYNAMODB["kms:ViaService"]}},
        )
    )
    assert evaluate_kms(
        request("kms:Decrypt", KEY, VIA_DYNAMODB), DELEGATING_KEY_POLICY, [identity]
    )


def test_kms_via_service_condition_refuses_a_direct_call():
    identity = policy(
        allow(
            "kms:Decrypt",
            KEY,
            Condition={"StringEquals": {"kms:ViaService": VIA_DYNAMODB["kms:ViaService"]}},
        )
    )
    assert not evaluate_kms(request("kms:Decrypt", KEY), DELEGATING_KEY_POLICY, [identity])


def test_kms_identity_allow_on_another_key_refuses():
    identity = policy(allow("kms:Decrypt", KEY.replace("1234abcd", "ffffffff")))
    assert not evaluate_kms(request("kms:Decrypt", KEY), DELEGATING_KEY_POLICY, [identity])


def test_kms_deny_in_the_key_policy_wins():
    key_policy = policy(
        {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Sid": "Never",
        },
        name="key policy",
    )
    identity = policy(allow("kms:Decrypt", KEY))
    decision = evaluate_kms(request("kms:Decrypt", KEY), key_policy, [identity])
    assert decision.explicit_deny
    assert "Never" in decision.reason


def test_kms_account_given_as_a_bare_id_delegates_too():
    key_policy = policy(allow("kms:*", "*", Principal={"AWS": ACCOUNT}), name="key policy")
    assert evaluate_kms(
        request("kms:Decrypt", KEY), key_policy, [policy(allow("kms:Decrypt", KEY))]
    )
