"""Every flow's first message waits for the reference data and for each book every worker reads
beside it (the relationship books): an order arriving before the customers' agreements are read
used to be refused as retriable and, retried inline for a second or two, dead-lettered."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from hub.schemas.codec import Codec
from hub.settings import Settings
from hub.streams import reference
from hub.streams.context import Context


def _context() -> Context:
    settings = Settings()
    return Context(
        cast(Any, None), settings, Codec(), settings.catalog, reference.ReferenceTables()
    )


async def test_flows_wait_for_every_book_as_for_the_reference_data() -> None:
    ctx = _context()
    books = asyncio.Event()
    ctx.wait_for(books)
    waiting = asyncio.create_task(ctx.ready())
    ctx.reference.loaded.set()
    await asyncio.sleep(0.01)
    assert not waiting.done()  # reference data alone is not enough
    assert not ctx.is_ready()  # and /readyz says 503
    books.set()
    await asyncio.wait_for(waiting, 1)
    assert ctx.is_ready()


async def test_the_pipeline_of_a_flow_waits_on_the_context() -> None:
    ctx = _context()
    books = asyncio.Event()
    ctx.wait_for(books)
    ctx.reference.loaded.set()
    pipeline = ctx.pipeline("orders", ready=True)
    assert pipeline._ready is not None
    waiting = asyncio.create_task(pipeline._ready())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    books.set()
    await asyncio.wait_for(waiting, 1)
