"""spiders.timers: the reactor's cancelled timers swept out while a crawl runs, and nothing
installed or left running by the extension itself."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler
from twisted.internet import task
from twisted.internet.task import Clock

from spiders import timers
from spiders.timers import TimerSweep


def test_made_before_the_crawl_installs_no_reactor():
    """Scrapy installs the reactor its settings name; an extension made first must not
    install Twisted's default one (a LoopingCall imports it)."""
    code = ("from twisted.internet.main import installReactor\n"
            "from scrapy.utils.reactor import is_reactor_installed\n"
            "from spiders.timers import TimerSweep\n"
            "TimerSweep(1)\n"
            "print(is_reactor_installed())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.parametrize("settings", [{"TIMER_SWEEP_INTERVAL": 0}, {"TWISTED_REACTOR_ENABLED": False}])
def test_off_by_its_setting_or_without_twisteds_reactor(settings):
    with pytest.raises(NotConfigured):
        TimerSweep.from_crawler(get_crawler(settings_dict=settings))


def test_the_loop_runs_from_the_spiders_opening_to_its_close(monkeypatch):
    """On a test clock: this process's tests install no reactor."""
    clock = Clock()

    def on_the_clock(f):
        loop = task.LoopingCall.__new__(task.LoopingCall)
        loop.f, loop.a, loop.kw, loop.clock = f, (), {}, clock
        return loop

    monkeypatch.setattr(timers, "task", SimpleNamespace(LoopingCall=on_the_clock))
    sweep = TimerSweep(0.5)
    assert sweep.loop is None
    sweep.spider_opened()
    try:
        assert sweep.loop.running and [call.getTime() for call in clock.getDelayedCalls()] == [0.5]
        clock.advance(1.0)
        assert [call.getTime() for call in clock.getDelayedCalls()] == [1.5]
    finally:
        sweep.spider_closed()
    assert not sweep.loop.running and not clock.getDelayedCalls()
    sweep.spider_closed()  # a second close (a crawl stopped twice) does nothing
