"""Tokens as the load balancer signs them (``x-amzn-oidc-data``): an ES256 JWT whose
header names the signer, each segment base64url with its padding, as ELB sends them."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ALB_ARN = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/"
    "mlplatform-prod-data/50dc6c495c0c9188"
)
OTHER_ALB_ARN = ALB_ARN.replace("50dc6c495c0c9188", "0123456789abcdef")
KID = "8d4b8f5e-2a1c-4c53-9a4e-0f1e2d3c4b5a"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")  # padded, as ELB sends it


@dataclass
class AlbSigner:
    """A P-256 key standing in for the load balancer's regional signing key."""

    kid: str = KID
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def token(self, claims: dict | None = None, *, signer: str = ALB_ARN, lifetime: int = 120,
              **header) -> str:  # fmt: skip
        exp = int(time.time()) + lifetime
        head = {"typ": "JWT", "kid": self.kid, "alg": "ES256", "iss": "https://issuer.example",
                "client": "client-id", "signer": signer, "exp": exp, **header}  # fmt: skip
        body = {"sub": "f3a1", "email": "ada@example.org", "exp": exp,
                "iss": "https://issuer.example", **(claims or {})}  # fmt: skip
        signing_input = f"{b64(json.dumps(head).encode())}.{b64(json.dumps(body).encode())}"
        r, s = decode_dss_signature(
            self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        )
        return f"{signing_input}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
