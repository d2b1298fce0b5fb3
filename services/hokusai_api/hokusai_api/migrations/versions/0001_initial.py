"""The first schema: API keys (salted hashes only), registered Ethereum addresses, and the
nonces of Ethereum sign-ins (unique: a replayed message is refused) until they expire.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("scopes", sa.ARRAY(sa.String(32)), nullable=False),
        sa.Column("salt", sa.LargeBinary(16), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("api_keys_owner", "api_keys", ["owner", "id"])
    op.create_table(
        "eth_addresses",
        sa.Column("address", sa.String(42), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("scopes", sa.ARRAY(sa.String(32)), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "eth_nonces",
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("eth_nonces_expires_at", "eth_nonces", ["expires_at"])


def downgrade() -> None:
    op.drop_table("eth_nonces")
    op.drop_table("eth_addresses")
    op.drop_table("api_keys")
