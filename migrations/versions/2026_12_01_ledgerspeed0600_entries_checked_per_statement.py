"""ledger: an entry is checked against its transfer once per statement instead of by two foreign keys

Revision ID: ledgerspeed0600
Revises: bridgeweb01
Create Date: 2026-12-01

Why. The posting function writes a batch's transfers and their entries in one statement. Each
entry carried two foreign keys (onto ``accounts`` and ``transfers``), so a batch of 1,000
transfers paid 4,000 row-by-row referential checks: about a fifth of the write.

What replaces them is stronger and set-based: after every INSERT on ``entries``, one query over
the statement's new rows checks that each entry names an existing transfer *and* is that
transfer's debit side (``account_id`` = its ``debit_account_id``) or its credit side. The
account therefore exists too, with the transfer's currency, because the transfer's own composite
foreign key onto ``accounts(id, currency)`` stays. Nothing can later break the link: transfers
and entries refuse UPDATE, DELETE and TRUNCATE, and accounts refuse DELETE and any change of id
(triggers of revision 0100); TRUNCATE of accounts is still refused by the transfers' foreign
keys onto it.

PostgreSQL runs the check as a statement-level AFTER trigger with a transition table (one join
per statement, not one lookup per row); SQLite, which has no statement triggers, as a row-level
BEFORE INSERT trigger. On SQLite the foreign keys go by rebuilding the table, which drops its
triggers, so the append-only triggers are recreated after the rebuild.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "ledgerspeed0600"
down_revision: str | Sequence[str] | None = "bridgeweb01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENTRY_FOREIGN_KEYS = {
    "fk_entries_account_id_accounts": ("accounts", ["account_id"], ["id"]),
    "fk_entries_transfer_id_transfers": ("transfers", ["transfer_id"], ["id"]),
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in ENTRY_FOREIGN_KEYS:
            op.drop_constraint(name, "entries", type_="foreignkey")
        op.execute(
            """
            CREATE FUNCTION ledger_entries_belong_to_transfers() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF EXISTS (
                    SELECT FROM new_entries AS e LEFT JOIN transfers AS t ON t.id = e.transfer_id
                    WHERE t.id IS NULL
                       OR e.account_id IS DISTINCT FROM
                          CASE e.side WHEN 'debit' THEN t.debit_account_id ELSE t.credit_account_id END
                ) THEN
                    RAISE EXCEPTION
                        'ledger: an entry must be the debit or credit side of an existing transfer'
                        USING ERRCODE = 'foreign_key_violation';
                END IF;
                RETURN NULL;
            END
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER entries_belong_to_transfers AFTER INSERT ON entries"
            " REFERENCING NEW TABLE AS new_entries"
            " FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_belong_to_transfers()"
        )
        return
    with op.batch_alter_table("entries", recreate="always") as batch:
        for name in ENTRY_FOREIGN_KEYS:
            batch.drop_constraint(name, type_="foreignkey")
    _create_sqlite_append_only_triggers()
    op.execute(
        "CREATE TRIGGER entries_belong_to_transfers BEFORE INSERT ON entries"
        " WHEN NOT EXISTS (SELECT 1 FROM transfers AS t WHERE t.id = NEW.transfer_id AND NEW.account_id ="
        " CASE NEW.side WHEN 'debit' THEN t.debit_account_id ELSE t.credit_account_id END)"
        " BEGIN SELECT RAISE(ABORT,"
        " 'ledger: an entry must be the debit or credit side of an existing transfer'); END"
    )


def _create_sqlite_append_only_triggers() -> None:
    """The same triggers revision 0100 created; a table rebuild on SQLite drops them."""
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER entries_no_{operation.lower()} BEFORE {operation} ON entries BEGIN"
            f" SELECT RAISE(ABORT, 'ledger: {operation} on entries is refused; rows are append-only');"
            " END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS entries_belong_to_transfers ON entries")
        op.execute("DROP FUNCTION IF EXISTS ledger_entries_belong_to_transfers()")
        for name, (table, local, remote) in ENTRY_FOREIGN_KEYS.items():
            op.create_foreign_key(name, "entries", table, local, remote)
        return
    op.execute("DROP TRIGGER IF EXISTS entries_belong_to_transfers")
    with op.batch_alter_table("entries", recreate="always") as batch:
        for name, (table, local, remote) in ENTRY_FOREIGN_KEYS.items():
            batch.create_foreign_key(name, table, local, remote)
    _create_sqlite_append_only_triggers()
