"""strategy_backtest -> strategy_trades -> strategy_report on the planted chain, and their checks."""

import json
import os
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tb_assets.core.strategy.trades import Costs
from tb_assets.storage.records import StrategyBacktest, StrategyReport
from tb_assets_tests.assets.conftest import FAST, PLANTED, pristine_copy, synthetic
from tb_assets_tests.conftest import LAUNCH_ARGS
from tb_assets_tests.helpers import checks, failure_text, metadata, published, run, run_checks, stored


@PLANTED
def test_the_chain_ends_in_a_strategy_report_whose_numbers_recompute(planted):
    settings, _, _, result = planted
    assert result.success, failure_text(result)
    folder = published(settings, "strategy_report")
    report = json.loads((folder / StrategyReport.FILE).read_text())
    for key in (
        "sharpe",
        "n_obs",
        "skew",
        "kurtosis",
        "psr",
        "dsr",
        "n_trials",
        "trials_sharpe_variance",
        "pbo",
        "path_sharpes",
        "cost_bps",
        "periods_per_year",
        "annualized_sharpe",
        "max_drawdown",
    ):
        assert key in report, key
    returns = pd.read_parquet(folder / StrategyReport.RETURNS)
    r = returns["net_return"].to_numpy()
    assert report["n_obs"] == len(r)
    assert report["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1), rel=1e-12)
    assert report["skew"] == pytest.approx(stats.skew(r, bias=True), rel=1e-9)
    assert report["kurtosis"] == pytest.approx(stats.kurtosis(r, fisher=False, bias=True), rel=1e-9)
    assert report["annualized_sharpe"] == pytest.approx(report["sharpe"] * np.sqrt(report["periods_per_year"]))
    # what was tried: 6 Optuna trials, every feature set selection scored, and the trials' Sharpe variance
    assert report["trials"]["optuna_trials"] == 6 and report["trials"]["selection_candidates"] > 6
    counted = ("optuna_trials", "selection_candidates", "registry_models")
    assert report["n_trials"] == sum(report["trials"][k] for k in counted)
    assert report["trials"]["with_returns"] >= 2 and report["trials_sharpe_variance"] > 0
    assert "tuning trials" in report["trials_sharpe_variance_source"]
    assert 0.0 <= report["pbo"] <= 1.0 and len(report["path_sharpes"]) == 5
    # a planted signal makes money out of sample, and survives its trials
    assert report["sharpe"] > 0 and report["dsr"] >= 0.95, report
    evaluations = checks(result)
    assert evaluations["strategy_backtest_purged"].passed
    assert evaluations["dsr_significant"].passed, evaluations["dsr_significant"].description
    md = metadata(result, "strategy_report")
    assert md["sharpe"] == report["sharpe"] and "data:image/png;base64," in md["equity"]


@PLANTED
def test_each_trade_recomputes_from_the_stored_bars(planted):
    settings, _, _, _ = planted
    trades = stored(settings, "SYN1", "1d", "strategy_trades")
    bars = stored(settings, "SYN1", "1d")
    position = {ts: i for i, ts in enumerate(bars["ts"])}
    backtest = StrategyBacktest.load(settings.artifacts_dir, "SYN1", "1d")
    events = backtest.table(StrategyBacktest.PATHS).set_index("ts")
    rate = Costs().side_rates(bars)[0]  # fixed costs: one rate at every bar
    assert len(trades) > 100
    for _, t in trades.sample(200, random_state=0).iterrows():
        i = position[t["ts"]] + 1  # the next bar after the event
        j = position[t["t1"]]
        entry, exit_ = bars["open"].iloc[i], bars["close"].iloc[j]
        assert t["entry_price"] == entry and t["exit_price"] == exit_
        assert t["gross_return"] == pytest.approx(t["side"] * t["size"] * (exit_ / entry - 1), abs=1e-12)
        assert t["cost"] == pytest.approx(t["size"] * rate * (1 + exit_ / entry), abs=1e-12)
        proba = events.loc[t["ts"], [f"path_{p}" for p in range(backtest.n_paths)]].mean()
        assert t["proba"] == pytest.approx(proba, abs=1e-12)


@PLANTED
def test_the_tearsheet_is_one_page_with_every_picture_inline(planted):
    settings, _, _, _ = planted
    page = (published(settings, "strategy_report") / StrategyReport.TEARSHEET).read_text()
    assert page.count("data:image/png;base64,") >= 4 + 3 + 2  # strategy, holdout curves, SHAP
    assert "http://" not in page and "https://" not in page  # no network
    assert "DSR" in page and "SYN1|1d" in page


@PLANTED
def test_a_pure_cost_strategy_fails_cost_drag(planted, tmp_path):
    settings, defs = pristine_copy(planted, tmp_path)
    expensive = {"ops": {"strategy_trades": {"config": {"cost_bps": 500.0, "spread_model": "corwin_schultz"}}}}
    result = run(defs, "SYN1|1d", expensive, selection=[dg.AssetKey("strategy_trades"), dg.AssetKey("strategy_report")])
    assert result.success, failure_text(result)
    # the report costs the paths and trials the way the trades were costed (their materialization says how)
    report = json.loads((published(settings, "strategy_report") / StrategyReport.FILE).read_text())
    assert report["cost_bps"] == 500.0 and report["spread_model"] == "corwin_schultz"
    drag = checks(result)["cost_drag"]
    assert not drag.passed and drag.severity == dg.AssetCheckSeverity.WARN
    assert "costs take" in drag.description or "no gross return" in drag.description


@PLANTED
def test_the_purge_check_fails_on_a_leaking_split(planted, tmp_path):
    settings, defs = pristine_copy(planted, tmp_path)
    record = StrategyBacktest.load(settings.artifacts_dir, "SYN1", "1d")
    splits = record.table(StrategyBacktest.SPLITS)
    # train split 0 on one of its own test events' neighbours: the event right before its first test event
    first_test = int(splits[(splits["split"] == 0) & ~splits["train"]]["row"].min())
    leaked = pd.concat([splits, pd.DataFrame({"split": [0], "row": [first_test], "train": [True]})], ignore_index=True)
    path = record.file(StrategyBacktest.SPLITS)
    leaked.to_parquet(path, index=False)
    result = run_checks(defs, "SYN1|1d", "strategy_backtest_purged", asset="strategy_backtest")
    evaluation = checks(result)["strategy_backtest_purged"]
    assert not evaluation.passed and "overlap a test label" in evaluation.description


@pytest.mark.cost(60)
def test_a_random_walk_does_not_survive_its_trials(tmp_path):
    settings, defs = synthetic(tmp_path, 0.0)
    result = run(defs, "SYN1|1d", FAST)
    assert result.success, failure_text(result)
    report = json.loads((published(settings, "strategy_report") / StrategyReport.FILE).read_text())
    assert report["dsr"] is not None and report["dsr"] < 0.95, report
    finding = checks(result)["dsr_significant"]
    assert not finding.passed and finding.severity == dg.AssetCheckSeverity.WARN
    assert "not distinguishable" in finding.description


@PLANTED
def test_tb_report_names_the_tearsheet_and_its_headline(planted, monkeypatch, capsys):
    from tb_assets import cli

    settings, _, _, _ = planted
    monkeypatch.setenv("TB_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("TB_ARTIFACTS_URL", raising=False)
    assert cli.main(["report", "SYN1|1d"]) == 0
    out = capsys.readouterr().out
    assert "DSR" in out and "trials" in out
    page = out.strip().splitlines()[-1]
    assert page.endswith("tearsheet.html") and open(page).read().startswith("<!doctype html>")
    assert cli.main(["report", "SYN1|1w"]) == 1
    assert "no strategy report yet" in capsys.readouterr().err
    assert cli.main(["report", "SYN1"]) == 2


@PLANTED
def test_the_served_tearsheet_loads_every_picture_in_chromium(planted, chromium, tmp_path):
    """What `tb dev` serves on 127.0.0.1 and the strategy_report metadata links to: the page in a real
    browser, every image decoded (Debian's chromium, no browser download)."""
    from playwright.sync_api import sync_playwright

    from tb_assets.cli.report_server import serve_artifacts
    from tb_assets.resources import ArtifactStore
    from tb_assets_tests.servers import free_port

    settings, _, _, _ = planted
    server, base = serve_artifacts(settings.artifacts_dir, free_port())
    try:
        page_path = published(settings, "strategy_report") / StrategyReport.TEARSHEET
        link = ArtifactStore(root=str(settings.artifacts_dir), reports_url=base).link(page_path)
        assert link.startswith(base) and link.endswith("/tearsheet.html")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(link, wait_until="load")
            sizes = page.eval_on_selector_all("img", "images => images.map(i => [i.complete, i.naturalWidth])")
            shots = Path(os.environ.get("TB_SCREENSHOTS", tmp_path))
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / "tearsheet.png"), full_page=True)
            browser.close()
        assert len(sizes) >= 9 and all(done and width > 0 for done, width in sizes), sizes
    finally:
        server.shutdown()
        server.server_close()
