"""Run records: one row of the crawls table per run, what it was asked, what it cost, how it
ended; and the run's summary line, with the same figures, for the log a scheduled run leaves."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

# How Scrapy's finish reasons read in the crawls table; any other reason is a failure.
OUTCOMES = {
    "finished": "finished",
    "closespider_itemcount": "finished",
    "closespider_pagecount": "finished",
    "closespider_timeout": "finished",
    "shutdown": "interrupted",
}


def run_figures(stats: dict[str, Any]) -> dict[str, Any]:
    """What the run did, from Scrapy's stats: the crawls table's summary columns."""
    limits = sorted(key.rsplit("/", 1)[1] for key in stats if key.startswith("archive/open_walks/"))
    return {
        "new_threads": stats.get("archive/threads/new", 0),
        "changed_threads": stats.get("archive/threads/changed", 0),
        "refreshed_threads": stats.get("archive/threads/refreshed", 0),
        "open_walks": stats.get("archive/open_walks", 0),
        "open_because": ", ".join(limits) or None,
        "failed_pages": stats.get("archive/failed_pages", 0),  # those the next run asks again
    }


def summary_line(figures: dict[str, Any], requests: int, outcome: str) -> str:
    """One line: what the run read and why, what it left for the next runs."""
    walks, failed = figures["open_walks"], figures["failed_pages"]
    left = f"{walks} forum walk{'s' * (walks != 1)} left open ({figures['open_because']}: the next runs go on)" if walks else "no forum walk left open"
    failures = f"{failed} failed page{'s' * (failed != 1)} (the next run asks again)" if failed else "no failed page"
    return (
        f"Run {outcome}: {requests} requests; threads read: {figures['new_threads']} new, {figures['changed_threads']} changed,"
        f" {figures['refreshed_threads']} re-read by the refresh; {left}; {failures}"
    )


def start_crawl(db: Database, seeds: list[str], arguments: dict[str, Any], started_at: str) -> int:
    """Record a run; runs left "running" by a killed process are marked interrupted first."""
    db.execute("UPDATE crawls SET outcome = 'interrupted' WHERE outcome = 'running'")
    crawls = db["crawls"]
    crawls.insert(
        {"started_at": started_at, "seeds": seeds, "arguments": arguments, "outcome": "running"}
    )
    return crawls.last_pk


def finish_crawl(db: Database, crawl_id: int, stats: dict[str, Any], reason: str, finished_at: str) -> str:
    """Close the run's record from Scrapy's stats; return its outcome."""
    pages = stats.get("archive/pages", 0)
    errors = stats.get("archive/errors", 0)
    outcome = OUTCOMES.get(reason, "failed")
    if outcome == "finished" and pages == errors and (errors or stats.get("archive/skipped_seeds")):
        outcome = "failed"  # nothing could be archived
    db["crawls"].update(
        crawl_id,
        run_figures(stats) | {
            "finished_at": finished_at,
            "requests": stats.get("downloader/request_count", 0),
            "requests_saved": stats.get("archive/requests_saved", 0),
            "pages": pages,
            "new_articles": stats.get("archive/articles", 0),
            "new_comments": stats.get("archive/comments", 0),
            "updated_posts": stats.get("archive/updated_posts", 0),
            "errors": errors,
            "outcome": outcome,
        },
    )
    return outcome

