"""``streams run`` options that shape the config: ``--http``, and the restore progress lines."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from streams.cli.main import build_parser
from streams.cli.restore_display import LiveRestoreDisplay, log_restore_progress
from streams.cli.run import build_config
from streams.runtime.restore import RestoreProgress


def _config(*extra: str) -> dict[str, object]:
    args = build_parser().parse_args(["run", "examples.wordcount:app", *extra])
    return dict(build_config(args)[1])


@pytest.mark.parametrize(("flag", "listen", "server"), [
    ("8080", "8080", "127.0.0.1:8080"),
    ("10.0.0.5:9000", "10.0.0.5:9000", "10.0.0.5:9000"),
    ("0.0.0.0:9000", "0.0.0.0:9000", None),  # a wildcard says nothing about how to reach us
])
def test_http_sets_the_listen_address_and_by_default_the_application_server(
        flag: str, listen: str, server: str | None) -> None:
    config = _config("--http", flag)
    assert config["http.listen"] == listen
    assert config.get("application.server") == server


def test_an_explicit_application_server_wins() -> None:
    config = _config("--http", "0.0.0.0:9000", "-s", "application.server=node-3:9000")
    assert config["application.server"] == "node-3:9000"


def test_restore_progress_names_store_task_counts_rate_and_time_left(
        caplog: pytest.LogCaptureFixture) -> None:
    progress = [RestoreProgress("1_3", "counts", "app-counts-changelog", 3, 2500, 7500, 2.0),
                RestoreProgress("1_4", "counts", "app-counts-changelog", 4, 0, 100, 0.1)]
    thread = SimpleNamespace(restorer=SimpleNamespace(progress=lambda: progress))
    with caplog.at_level(logging.INFO, logger="streams.cli.run"):
        log_restore_progress(SimpleNamespace(threads=[thread, SimpleNamespace(restorer=None)]))
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "restoring store counts of task 1_3: 2500 of 10000 records (25%), 1250 records/s, "
        "about 6 s left",
        "restoring store counts of task 1_4: 0 of 100 records (0%), 0 records/s, starting"]


def test_on_a_terminal_each_restoring_store_gets_a_bar_that_goes_when_it_is_done() -> None:
    import io

    from rich.console import Console

    out = io.StringIO()
    display = LiveRestoreDisplay(Console(file=out, force_terminal=True, width=120))
    progress = [RestoreProgress("1_3", "counts", "c", 3, 2500, 7500, 2.0)]
    thread = SimpleNamespace(restorer=SimpleNamespace(progress=lambda: progress))
    app = SimpleNamespace(threads=[thread])
    display.refresh(app)
    display._bars.refresh()
    assert "restoring counts of task 1_3" in out.getvalue() and "2500/10000" in out.getvalue()
    assert "1,250 records/s" in out.getvalue()
    progress.clear()
    display.refresh(app)
    assert not display._ids and not display._shown
    display.close()
