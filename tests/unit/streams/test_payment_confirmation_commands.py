"""`hub billing confirm-payment` and `import-statement`: finance's confirmations as commands."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from hub.commands.billing import confirmation_command, statement_commands

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_a_payment_confirmed_twice_is_one_command_in_minor_units() -> None:
    def confirm() -> object:
        return confirmation_command(
            reseller_id="contoso",
            payment_id="pay-7",
            amount=Decimal("191.59"),
            currency="EUR",
            received_on=date(2026, 12, 1),
            by="finance-anna",
            source="ops",
            now=NOW,
            invoice_ids=("inv-1",),
        )

    first, second = confirm(), confirm()
    assert first == second
    assert first.amount_minor == 19_159
    assert first.received_at == datetime(2026, 12, 1, tzinfo=UTC)
    assert first.invoice_ids == ("inv-1",)


def test_each_bank_statement_row_becomes_one_confirmation(tmp_path: Path) -> None:
    statement = tmp_path / "statement.csv"
    statement.write_text(
        "reseller_id,payment_id,amount,currency,received_on,reference\n"
        "contoso,pay-1,100.00,EUR,2026-12-01,BANK-1\n"
        "adatum,pay-2,5000,JPY,2026-12-02,\n",
        encoding="utf-8",
    )
    commands = statement_commands(statement, by="finance-import", now=NOW)
    assert [(c.reseller_id, c.amount_minor, c.source) for c in commands] == [
        ("contoso", 10_000, "bank_statement"),
        ("adatum", 5_000, "bank_statement"),
    ]
    assert commands[1].reference is None
