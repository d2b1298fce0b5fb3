"""DnsCertificate: a host name in a Route 53 zone, its ACM certificate validated by DNS,
and the alias records that point the name at an endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

VALIDATION_TTL = 300


def _field(option, snake: str, camel: str):
    """A validation option's field, whether the SDK gave it typed or as a plain mapping."""
    if hasattr(option, snake):
        return getattr(option, snake)
    return option.get(snake, option.get(camel))


@dataclass(frozen=True)
class AliasTarget:
    """Where the host name's alias records point."""

    dns_name: pulumi.Input[str]
    """The endpoint's DNS name (a load balancer's, a distribution's). Required."""
    zone_id: pulumi.Input[str]
    """The endpoint's own hosted zone (``zone_id`` / ``hosted_zone_id``). Required."""
    ipv6: bool = False
    """The endpoint answers over IPv6 too: an AAAA alias beside the A alias. Default false
    (an IPv4-only load balancer: an AAAA alias to it would resolve to nothing)."""


@dataclass(frozen=True)
class DnsCertificateArgs:
    """Inputs of :class:`DnsCertificate`."""

    host: str
    """The host name, e.g. ``mlflow.example.com``. Required."""
    zone_id: str
    """Route 53 hosted zone the host is in (the validation and alias records go there).
    Required."""
    provider: pulumi.ProviderResource | None = None
    """Provider of the certificate (us-east-1 for CloudFront). Default the stack's; the
    records are global and always use the stack's."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on the certificate. Default none."""


class DnsCertificate(pulumi.ComponentResource):
    """A public ACM certificate for one host name, validated through Route 53.

    Creates the certificate (DNS validation, RSA 2048); one CNAME per domain validation
    option (the host: plain values, so the record count is known before the certificate
    exists); the ``CertificateValidation`` that waits until ACM has issued it, whose
    :attr:`arn` a listener or distribution takes so it is never used unissued. Then
    :meth:`alias` points the host at an endpoint (A, and AAAA where it has IPv6).
    """

    TYPE = "mlplatform:dns:DnsCertificate"

    certificate: aws.acm.Certificate
    """The ACM certificate."""
    arn: pulumi.Output[str]
    """The validated certificate's ARN."""

    def __init__(
        self, name: str, args: DnsCertificateArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__(self.TYPE, name, None, opts)
        self._name, self._args = name, args
        self.certificate = aws.acm.Certificate(
            f"{name}-cert",
            domain_name=args.host,
            validation_method="DNS",
            key_algorithm="RSA_2048",
            tags={**args.tags, "Name": args.host},
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider),
        )
        option = self.certificate.domain_validation_options.apply(
            lambda options: next(
                o for o in options if _field(o, "domain_name", "domainName") == args.host
            )
        )
        record = aws.route53.Record(
            f"{name}-validation",
            zone_id=args.zone_id,
            name=option.apply(lambda o: _field(o, "resource_record_name", "resourceRecordName")),
            type=option.apply(lambda o: _field(o, "resource_record_type", "resourceRecordType")),
            records=[
                option.apply(lambda o: _field(o, "resource_record_value", "resourceRecordValue"))
            ],
            ttl=VALIDATION_TTL,
            allow_overwrite=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        validation = aws.acm.CertificateValidation(
            f"{name}-validated",
            certificate_arn=self.certificate.arn,
            validation_record_fqdns=[record.fqdn],
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider),
        )
        self.arn = validation.certificate_arn
        self.register_outputs({"arn": self.arn})

    def alias(self, target: AliasTarget) -> list[aws.route53.Record]:
        """The host's alias records to ``target`` (children of this component)."""
        kinds = ("A", "AAAA") if target.ipv6 else ("A",)
        return [
            aws.route53.Record(
                f"{self._name}-alias-{kind.lower()}",
                zone_id=self._args.zone_id,
                name=self._args.host,
                type=kind,
                aliases=[
                    {
                        "name": target.dns_name,
                        "zone_id": target.zone_id,
                        "evaluate_target_health": False,
                    }
                ],
                opts=pulumi.ResourceOptions(parent=self),
            )
            for kind in kinds
        ]
