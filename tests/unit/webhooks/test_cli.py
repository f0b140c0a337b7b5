"""`hub webhooks add` refuses a bad endpoint in one line, before it talks to Kafka."""

from __future__ import annotations

import pytest

from hub.cli import main


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["ftp://hooks.test/x"], "url"),
        (["https://hooks.test/x", "--secret", "whsec_"], "--secret must be whsec_"),
        (["https://hooks.test/x", "--secret", "not-a-secret"], "secret"),
        (["https://hooks.test/x", "--id", "no spaces"], "endpoint_id"),
    ],
)
def test_a_bad_endpoint_is_refused_as_a_usage_error(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["webhooks", "add", "contoso", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("hub: endpoint refused:")
    assert says in err[0]
