"""Runs the demo: environment up, reference data in, the story's steps, the summary, teardown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from hub.connectors.kafka_io import publish
from hub.connectors.reference_files import load_reference_file, reference_outgoing
from hub.demo.environment import DemoEnvironment, Say, demo_environment, start_worker
from hub.demo.scenario import CODEC, STEPS, DemoState, Step, wait_for
from hub.demo.summary import Summary, build_summary
from hub.demo.try_next import TryNext, render_try_next
from hub.errors import ConfigError, HubError
from hub.ops.paths import ops_dir
from hub.settings import Settings
from hub.topics import PartnerTopic


def _say(message: str) -> None:
    print(f"hub demo: {message}", file=sys.stderr, flush=True)


async def load_sample_reference(env: DemoEnvironment, say: Say) -> list[str]:
    ref = load_reference_file(ops_dir() / "sample" / "reference.yaml")
    items = reference_outgoing(ref, env.topics, datetime.now(UTC))
    await publish(env.bootstrap, CODEC, items)
    say("sample reference data: " + ", ".join(f"{n} {k}" for k, n in ref.counts().items()))
    return [r.reseller_id for r in ref.resellers]


async def run_demo(
    settings: Settings,
    *,
    bootstrap: str | None = None,
    serve: bool = False,
    steps: Sequence[Step] = STEPS,
    say: Say = _say,
    summary_json: Path | None = None,
    before_teardown: Callable[[DemoEnvironment, Summary], Awaitable[None]] | None = None,
) -> Summary:
    """The demo, start to teardown. SIGTERM or SIGHUP (a closed terminal) stop it as Ctrl-C
    does, so what it started is stopped too: killed outright it would leave its worker and
    simulator running, holding their ports."""
    with _stop_on_signals() as stop:
        try:
            return await _run_demo(
                settings, bootstrap, serve, steps, say, summary_json, before_teardown, stop
            )
        except asyncio.CancelledError:
            if stop.received is None:
                raise
            raise ConfigError(
                f"the demo was stopped ({stop.received}) before it finished; what it started "
                "is stopped"
            ) from None


class _Stop:
    """A stop signal: it ends serving, or cancels the run (whose teardown then runs)."""

    def __init__(self, task: asyncio.Task[object] | None) -> None:
        self.task = task
        self.received: str | None = None
        self.serving = False
        self.wake = asyncio.Event()

    def signal(self, sig: signal.Signals) -> None:
        self.received = sig.name
        if self.serving:
            self.wake.set()
        elif self.task is not None:
            self.task.cancel()


_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[_Stop]:
    loop = asyncio.get_running_loop()
    stop = _Stop(asyncio.current_task())
    for sig in _SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.signal, sig)
    try:
        yield stop
    finally:
        for sig in _SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)


async def _run_demo(
    settings: Settings,
    bootstrap: str | None,
    serve: bool,
    steps: Sequence[Step],
    say: Say,
    summary_json: Path | None,
    before_teardown: Callable[[DemoEnvironment, Summary], Awaitable[None]] | None,
    stop: _Stop,
) -> Summary:
    run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    started = time.monotonic()
    async with demo_environment(settings, bootstrap=bootstrap, run_id=run_id, say=say) as env:
        reference = ops_dir() / "sample" / "reference.yaml"
        resellers = [r.reseller_id for r in load_reference_file(reference).resellers]
        await start_worker(env, resellers, say)
        await load_sample_reference(env, say)
        await _wait_reference_loaded(env)
        state = DemoState(run_id=run_id, started=datetime.now(UTC))
        for number, (title, step) in enumerate(steps, start=1):
            t0 = time.monotonic()
            say(f"[{number}/{len(steps)}] {title} ...")
            try:
                outcome = await step(env, state)
            except (TimeoutError, RuntimeError) as exc:
                raise HubError(step_failure(f"[{number}/{len(steps)}] {title}", exc, env)) from exc
            say(f"[{number}/{len(steps)}] {outcome} ({time.monotonic() - t0:.1f}s)")
        summary = await build_summary(env.bootstrap, env.topics)
        print(summary.render(), flush=True)
        if summary_json is not None:
            text = json.dumps(summary.as_dict(), indent=2, sort_keys=True)
            await asyncio.to_thread(summary_json.write_text, text)
        print(render_try_next(try_next_of(env, summary, serving=serve)), flush=True)
        print(f"\nDemo took {time.monotonic() - started:.0f}s.", flush=True)
        if before_teardown is not None:
            await before_teardown(env, summary)
        if serve:
            say("serving: the broker, simulator and worker keep running; Ctrl-C stops them")
            await _serve(env, stop)
        return summary


async def _serve(env: DemoEnvironment, stop: _Stop) -> None:
    """Until Ctrl-C, SIGTERM or SIGHUP, or the worker exits."""
    stop.serving = True
    try:
        while env.worker.running() and not stop.wake.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wake.wait(), timeout=1)
    except asyncio.CancelledError:  # Ctrl-C: asyncio.run cancels the run
        pass


def step_failure(step: str, exc: BaseException, env: DemoEnvironment) -> str:
    """One line for a step that failed: what, the last line of why, and where the logs are."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    why = lines[-1] if lines else type(exc).__name__
    if len(lines) > 1:
        why = f"{lines[0]} ... {why}"
    return (
        f"the demo failed at step {step}: {why[:400]} (logs: {env.worker.log_path}, "
        f"{env.state_dir / 'simulator.log'})"
    )


def try_next_of(env: DemoEnvironment, summary: Summary, *, serving: bool) -> TryNext:
    """What to try by hand: the env exports, an order still held, that reseller's topic."""
    held = summary.still_held[0] if summary.still_held else None
    reseller = held.reseller_id if held is not None else "contoso-de"
    exports = {k: v for k, v in env.hub_env().items() if k.startswith("HUB_")}
    return TryNext(
        bootstrap=env.bootstrap,
        exports=exports,
        metrics_url=env.worker.metrics_url,
        partner_topic=env.topics.partner(reseller, PartnerTopic.STATUS),
        held=held,
        serving=serving,
    )


async def _wait_reference_loaded(env: DemoEnvironment) -> None:
    """The worker's reference tables fill from the ref topics; wait until its view has them."""
    import urllib.request

    worker = env.worker

    async def loaded() -> bool:
        def scrape() -> str:
            with urllib.request.urlopen(worker.metrics_url, timeout=5) as r:  # noqa: S310
                return str(r.read().decode())

        text = await asyncio.to_thread(scrape)
        total = 0.0
        for line in text.splitlines():
            if line.startswith("hub_events_in_total{") and 'flow="reference"' in line:
                total += float(line.rsplit(" ", 1)[1])
        return total >= 100

    await wait_for("the reference data in the worker's tables", loaded, timeout_s=120)
