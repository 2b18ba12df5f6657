"""ledger: currencies, accounts, transfers, entries, exchange rates and their guards

Revision ID: 0100
Revises: 0001
Create Date: 2026-11-22

Besides the tables this migration installs the immutability triggers (transfers, entries
and exchange rates refuse UPDATE and DELETE; an account refuses DELETE and any change
of its currency or normal side) on PostgreSQL and SQLite, and seeds the currencies.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0100"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
EXACT_DECIMAL = sa.Numeric(precision=30, scale=12).with_variant(sa.String(length=40), "sqlite")

CURRENCY_SCALES = {
    "USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "CHF": 2, "AUD": 2, "CAD": 2, "NZD": 2,
    "CNY": 2, "HKD": 2, "SGD": 2, "USDT": 6, "BTC": 8,
}  # fmt: skip

IMMUTABLE_TABLES = ("transfers", "entries", "fx_rates")


def upgrade() -> None:
    currencies = op.create_table(
        "currencies",
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("scale", sa.SmallInteger(), nullable=False),
        sa.CheckConstraint("scale >= 0 AND scale <= 18", name=op.f("ck_currencies_scale_range")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_currencies")),
    )
    op.create_table(
        "accounts",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("owner_kind", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=48), nullable=False),
        sa.Column("normal_side", sa.String(length=6), nullable=False),
        sa.Column(
            "debits_must_not_exceed_credits", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column(
            "credits_must_not_exceed_debits", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("debits_posted", BIGINT, server_default=sa.text("0"), nullable=False),
        sa.Column("credits_posted", BIGINT, server_default=sa.text("0"), nullable=False),
        sa.Column("debits_pending", BIGINT, server_default=sa.text("0"), nullable=False),
        sa.Column("credits_pending", BIGINT, server_default=sa.text("0"), nullable=False),
        sa.Column("version", BIGINT, server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("normal_side IN ('debit', 'credit')", name=op.f("ck_accounts_normal_side_known")),
        sa.CheckConstraint(
            "(NOT debits_must_not_exceed_credits OR debits_posted + debits_pending <= credits_posted)"
            " AND (NOT credits_must_not_exceed_debits OR credits_posted + credits_pending <= debits_posted)",
            name=op.f("ck_accounts_overdraft"),
        ),
        sa.CheckConstraint(
            "NOT (debits_must_not_exceed_credits AND credits_must_not_exceed_debits)",
            name=op.f("ck_accounts_one_overdraft_flag"),
        ),
        sa.CheckConstraint(
            "debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0 AND credits_pending >= 0",
            name=op.f("ck_accounts_counters_non_negative"),
        ),
        sa.CheckConstraint("version >= 0", name=op.f("ck_accounts_version_non_negative")),
        sa.ForeignKeyConstraint(
            ["currency"], ["currencies.code"], name=op.f("fk_accounts_currency_currencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("id", "currency", name=op.f("uq_accounts_id_currency")),
        sa.UniqueConstraint(
            "owner_kind",
            "owner_id",
            "purpose",
            "currency",
            name=op.f("uq_accounts_owner_kind_owner_id_purpose_currency"),
        ),
        postgresql_with={"fillfactor": 70},
    )
    op.create_table(
        "fx_rates",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("base", sa.String(length=8), nullable=False),
        sa.Column("quote", sa.String(length=8), nullable=False),
        sa.Column("rate", EXACT_DECIMAL, nullable=False),
        sa.Column("spread", EXACT_DECIMAL, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("base <> quote", name=op.f("ck_fx_rates_different_currencies")),
        sa.ForeignKeyConstraint(["base"], ["currencies.code"], name=op.f("fk_fx_rates_base_currencies")),
        sa.ForeignKeyConstraint(["quote"], ["currencies.code"], name=op.f("fk_fx_rates_quote_currencies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fx_rates")),
    )
    op.create_index("ix_fx_rates_pair_observed_at", "fx_rates", ["base", "quote", "observed_at"])
    op.create_table(
        "transfers",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("journal_id", BIGINT, nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("debit_account_id", BIGINT, nullable=False),
        sa.Column("credit_account_id", BIGINT, nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("amount", BIGINT, nullable=False),
        sa.Column("pending_id", BIGINT, nullable=True),
        sa.Column("reverses_id", BIGINT, nullable=True),
        sa.Column("timeout_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rate_id", BIGINT, nullable=True),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'reversal' AND reverses_id IS NOT NULL) OR (kind <> 'reversal' AND reverses_id IS NULL)",
            name=op.f("ck_transfers_reverses_id_iff_reversal"),
        ),
        sa.CheckConstraint(
            "(kind IN ('post_pending', 'void_pending', 'expire_pending') AND pending_id IS NOT NULL)"
            " OR (kind NOT IN ('post_pending', 'void_pending', 'expire_pending') AND pending_id IS NULL)",
            name=op.f("ck_transfers_pending_id_iff_resolution"),
        ),
        sa.CheckConstraint(
            "kind IN ('posted', 'pending', 'post_pending', 'void_pending', 'expire_pending', 'reversal')",
            name=op.f("ck_transfers_kind_known"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_transfers_amount_positive")),
        sa.CheckConstraint(
            "debit_account_id <> credit_account_id", name=op.f("ck_transfers_different_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["credit_account_id", "currency"],
            ["accounts.id", "accounts.currency"],
            name=op.f("fk_transfers_credit_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["debit_account_id", "currency"],
            ["accounts.id", "accounts.currency"],
            name=op.f("fk_transfers_debit_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["pending_id"], ["transfers.id"], name=op.f("fk_transfers_pending_id_transfers")
        ),
        sa.ForeignKeyConstraint(["rate_id"], ["fx_rates.id"], name=op.f("fk_transfers_rate_id_fx_rates")),
        sa.ForeignKeyConstraint(
            ["reverses_id"], ["transfers.id"], name=op.f("fk_transfers_reverses_id_transfers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_transfers_idempotency_key")),
    )
    for column in ("pending_id", "reverses_id"):
        op.create_index(
            f"uq_transfers_{column}",
            "transfers",
            [column],
            unique=True,
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
            sqlite_where=sa.text(f"{column} IS NOT NULL"),
        )
    op.create_table(
        "entries",
        sa.Column("account_id", BIGINT, nullable=False),
        sa.Column("version", BIGINT, nullable=False),
        sa.Column("transfer_id", BIGINT, nullable=False),
        sa.Column("side", sa.String(length=6), nullable=False),
        sa.Column("posted_amount", BIGINT, nullable=False),
        sa.Column("pending_amount", BIGINT, nullable=False),
        sa.Column("balance_after", BIGINT, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("side IN ('debit', 'credit')", name=op.f("ck_entries_side_known")),
        sa.CheckConstraint(
            "posted_amount <> 0 OR pending_amount <> 0", name=op.f("ck_entries_moves_something")
        ),
        sa.CheckConstraint("version > 0", name=op.f("ck_entries_version_positive")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_entries_account_id_accounts")),
        sa.ForeignKeyConstraint(
            ["transfer_id"], ["transfers.id"], name=op.f("fk_entries_transfer_id_transfers")
        ),
        sa.PrimaryKeyConstraint("account_id", "version", name=op.f("pk_entries")),
    )
    op.create_index("ix_entries_account_id_created_at", "entries", ["account_id", "created_at"])

    op.bulk_insert(currencies, [{"code": code, "scale": scale} for code, scale in CURRENCY_SCALES.items()])

    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE journal_ids AS BIGINT")
        _create_postgresql_triggers()
    else:
        _create_sqlite_triggers()


def _create_postgresql_triggers() -> None:
    op.execute(
        """
        CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'ledger: % on % is refused; ledger rows are append-only (post a reversal)',
                TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
        END
        $$
        """
    )
    for table in IMMUTABLE_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"
        )
    op.execute(
        "CREATE TRIGGER accounts_no_delete BEFORE DELETE ON accounts"
        " FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
    )
    op.execute(
        "CREATE TRIGGER accounts_identity_fixed BEFORE UPDATE OF id, currency, normal_side ON accounts"
        " FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.currency IS DISTINCT FROM NEW.currency"
        " OR OLD.normal_side IS DISTINCT FROM NEW.normal_side)"
        " EXECUTE FUNCTION ledger_refuse_change()"
    )


def _create_sqlite_triggers() -> None:
    for table in IMMUTABLE_TABLES:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} BEGIN"
                f" SELECT RAISE(ABORT, 'ledger: {operation} on {table} is refused; rows are append-only');"
                " END"
            )
    op.execute(
        "CREATE TRIGGER accounts_no_delete BEFORE DELETE ON accounts BEGIN"
        " SELECT RAISE(ABORT, 'ledger: DELETE on accounts is refused'); END"
    )
    op.execute(
        "CREATE TRIGGER accounts_identity_fixed BEFORE UPDATE OF id, currency, normal_side ON accounts"
        " WHEN OLD.id IS NOT NEW.id OR OLD.currency IS NOT NEW.currency"
        " OR OLD.normal_side IS NOT NEW.normal_side"
        " BEGIN SELECT RAISE(ABORT, 'ledger: an account keeps its id, currency and normal side'); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in IMMUTABLE_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP TRIGGER IF EXISTS accounts_no_delete ON accounts")
        op.execute("DROP TRIGGER IF EXISTS accounts_identity_fixed ON accounts")
        op.execute("DROP FUNCTION IF EXISTS ledger_refuse_change()")
        op.execute("DROP SEQUENCE IF EXISTS journal_ids")
    else:
        for table in IMMUTABLE_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        op.execute("DROP TRIGGER IF EXISTS accounts_no_delete")
        op.execute("DROP TRIGGER IF EXISTS accounts_identity_fixed")
    op.drop_index("ix_entries_account_id_created_at", table_name="entries")
    op.drop_table("entries")
    op.drop_index("uq_transfers_reverses_id", table_name="transfers")
    op.drop_index("uq_transfers_pending_id", table_name="transfers")
    op.drop_table("transfers")
    op.drop_index("ix_fx_rates_pair_observed_at", table_name="fx_rates")
    op.drop_table("fx_rates")
    op.drop_table("accounts")
    op.drop_table("currencies")
