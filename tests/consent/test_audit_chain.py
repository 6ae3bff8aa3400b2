"""The audit trail's table: append-only in the database, hash-chained so audit_verify finds any entry changed,
deleted or slipped in by someone who got past the trigger."""

from __future__ import annotations

import threading
from io import StringIO
from itertools import pairwise
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction

from consent.audit.chain import GENESIS, row_hash
from consent.contracts import AccessContext, AuditCategory, AuditEntry
from consent.facade import audit_record
from consent.models import AuditRecord

TABLE = "consent_audit_record"


def entry(number: int, patient: str = "p-1") -> AuditEntry:
    return AuditEntry(
        category=AuditCategory.REST,
        subtype="read",
        action="R",
        status=200,
        access=AccessContext.system(reason="test"),
        entities=(f"Observation/{number}",),
        patients=(patient,),
    )


def verify() -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("audit_verify", stdout=out, stderr=StringIO())
    except CommandError as error:
        return error.returncode, str(error)
    return 0, out.getvalue()


def as_attacker(sql: str, parameters: list[Any]) -> None:
    """Run `sql` with the append-only trigger switched off, as someone with rights over the table would."""
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER audit_append_only")
        cursor.execute(sql, parameters)
        cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER audit_append_only")


def append_then_fail() -> None:
    with transaction.atomic():
        audit_record(entry=entry(99))
        raise RuntimeError("the request failed after its entry was appended")


@pytest.fixture
def chain(db: None) -> list[AuditRecord]:
    return [audit_record(entry=entry(number)) for number in range(5)]


def test_an_intact_chain_verifies_with_its_count_and_head(chain):
    assert chain[0].previous_hash == GENESIS
    assert all(later.previous_hash == earlier.hash for earlier, later in pairwise(chain))

    code, output = verify()

    assert code == 0
    assert output.strip() == f"audit trail intact: 5 entries, head {chain[-1].hash}"


def test_the_database_refuses_updates_and_deletes(chain):
    for statement in (f"UPDATE {TABLE} SET status = 500", f"DELETE FROM {TABLE}"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert AuditRecord.objects.count() == 5


def test_a_changed_entry_is_found(chain):
    as_attacker(f"UPDATE {TABLE} SET patients = '{{p-2}}' WHERE id = %s", [chain[2].pk])

    code, message = verify()

    assert code == 1
    assert message.endswith(
        f"after 2 good entries: entry {chain[2].pk} was changed: its content does not match its hash"
    )


def test_a_changed_entry_given_a_fresh_hash_breaks_the_link_to_the_next(chain):
    changed: dict[str, Any] = {**AuditRecord.objects.values().get(pk=chain[2].pk), "status": 404}
    as_attacker(
        f"UPDATE {TABLE} SET status = 404, hash = %s WHERE id = %s",
        [row_hash(changed["previous_hash"], changed), chain[2].pk],
    )

    code, message = verify()

    assert code == 1
    assert f"entry {chain[3].pk} does not chain onto entry {chain[2].pk}" in message


def test_a_deleted_entry_is_found(chain):
    as_attacker(f"DELETE FROM {TABLE} WHERE id = %s", [chain[1].pk])

    code, message = verify()

    assert code == 1
    assert f"entry {chain[2].pk} does not chain onto entry {chain[0].pk}: an entry between them was deleted" in message


def test_deleting_the_first_entries_is_found(chain):
    as_attacker(f"DELETE FROM {TABLE} WHERE id <= %s", [chain[1].pk])

    code, message = verify()

    assert (code, message.split(": ", 1)[1]) == (
        1,
        f"entry {chain[2].pk} is not the start of the chain: the entries before it were deleted",
    )


def test_an_inserted_entry_is_found_even_with_a_well_made_hash(chain):
    with pytest.raises(RuntimeError):  # an append that rolled back leaves a gap in the ids
        append_then_fail()
    after = [audit_record(entry=entry(number)) for number in (5, 6)]
    gap = after[0].pk - 1
    assert gap > chain[-1].pk
    forged: dict[str, Any] = {**AuditRecord.objects.values().get(pk=chain[-1].pk), "patients": ["p-9"]}
    forged_hash = row_hash(chain[-1].hash, forged)  # chained properly onto the entry before it
    columns = [name for name in forged if name not in ("id", "previous_hash", "hash")]
    as_attacker(
        f"INSERT INTO {TABLE} (id, previous_hash, hash, {', '.join(columns)}) "
        f"VALUES (%s, %s, %s, {', '.join(['%s'] * len(columns))})",
        [gap, chain[-1].hash, forged_hash, *[forged[name] for name in columns]],
    )

    code, message = verify()

    assert code == 1
    assert message.endswith(f"entry {gap} was inserted: entry {after[0].pk} chains onto the entry before it")


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_keep_one_chain():
    def append_some() -> None:
        try:
            for number in range(10):
                audit_record(entry=entry(number))
        finally:
            connections.close_all()

    workers = [threading.Thread(target=append_some) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert verify() == (0, f"audit trail intact: 40 entries, head {AuditRecord.objects.latest('id').hash}\n")
