"""The simulator's Graph async v2 export of billed reconciliation ("Billed invoice reconciliation
API v2"): a request answered 202 with the operation's Location, an operation that runs for a
poll or two and then names a manifest, and blobs of gzip-compressed JSON lines behind a shared
access signature."""

from __future__ import annotations

import gzip
import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from hub.connectors.partner_center.models import (
    ExportBlob,
    ExportManifest,
    ExportOperation,
    ExportStatus,
    InvoiceLineItem,
    file_row,
)

EXPORT_PATH = "/v1.0/reports/partners/billing/reconciliation/billed/export"
OPERATIONS_PATH = "/v1.0/reports/partners/billing/operations"
BLOBS_PATH = "/exports"
# Lines per blob: the real export splits large invoices into several files.
BLOB_LINES = 500


def compress_lines(items: Sequence[InvoiceLineItem]) -> bytes:
    """One blob: the lines under the file's column names, one JSON object per line, gzip."""
    text = "".join(json.dumps(file_row(item), separators=(",", ":")) + "\n" for item in items)
    return gzip.compress(text.encode("utf-8"))


@dataclass
class _Export:
    operation_id: str
    invoice_id: str
    created: datetime
    polls_left: int
    manifest_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    signature: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    blobs: dict[str, bytes] = field(default_factory=dict)


class Exports:
    """Export operations by id, and their blobs. ``running_polls`` is how many status reads
    answer ``running`` before the operation succeeds."""

    def __init__(self, running_polls: int = 1) -> None:
        self.running_polls = running_polls
        self._by_operation: dict[str, _Export] = {}
        self._by_manifest: dict[str, _Export] = {}

    def start(self, invoice_id: str, lines: Sequence[InvoiceLineItem], now: datetime) -> str:
        export = _Export(
            operation_id=str(uuid.uuid4()),
            invoice_id=invoice_id,
            created=now,
            polls_left=self.running_polls,
        )
        chunks = [lines[i : i + BLOB_LINES] for i in range(0, len(lines), BLOB_LINES)] or [[]]
        for n, chunk in enumerate(chunks):
            export.blobs[f"part-{n:05d}-{export.manifest_id}.json.gz"] = compress_lines(chunk)
        self._by_operation[export.operation_id] = export
        self._by_manifest[export.manifest_id] = export
        return export.operation_id

    def status(self, operation_id: str, base_url: str, now: datetime) -> ExportOperation | None:
        export = self._by_operation.get(operation_id)
        if export is None:
            return None
        if export.polls_left > 0:
            export.polls_left -= 1
            return ExportOperation(
                id=operation_id,
                status=ExportStatus.RUNNING,
                created_date_time=export.created,
                last_action_date_time=now,
            )
        manifest = ExportManifest(
            id=export.manifest_id,
            created_date_time=export.created,
            e_tag=export.signature[:8],
            root_directory=f"{base_url}{BLOBS_PATH}/{export.manifest_id}",
            sas_token=f"sv=2023-11-03&sr=c&sp=r&sig={export.signature}",
            blob_count=len(export.blobs),
            blobs=[ExportBlob(name=name) for name in export.blobs],
        )
        return ExportOperation(
            id=operation_id,
            status=ExportStatus.SUCCEEDED,
            created_date_time=export.created,
            last_action_date_time=now,
            resource_location=manifest,
        )

    def blob(self, manifest_id: str, name: str, signature: str) -> bytes | None:
        """A blob's bytes, or None when it does not exist or the signature is not its own."""
        export = self._by_manifest.get(manifest_id)
        if export is None or not secrets.compare_digest(signature, export.signature):
            return None
        return export.blobs.get(name)
