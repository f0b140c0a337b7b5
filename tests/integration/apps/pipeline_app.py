"""A hub worker with one extra test flow: events on PIPELINE_SRC are copied to PIPELINE_DST.

Built through the real composition root (``build_app``) and the real pipeline, so it proves the
decode -> handle -> send / dead-letter path a flow takes. Run as ``python pipeline_app.py worker``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import faust

from hub.app import build_app
from hub.runtime.emit import Emit
from hub.schemas.envelope import Event
from hub.settings import load_settings
from hub.streams.context import Context


def register(app: faust.App, ctx: Context) -> None:
    pipeline = ctx.pipeline("test-copy")
    dst = os.environ["PIPELINE_DST"]

    async def copy(event: Event) -> Sequence[Emit]:
        return [Emit(dst, event.reseller_id or "none", event)]

    @app.agent(ctx.raw_topic(os.environ["PIPELINE_SRC"]), name="test.copy")
    async def agent(stream: Any) -> None:
        await pipeline.run(stream, copy)


app = build_app(load_settings(), modules=[register])

if __name__ == "__main__":
    app.main()
