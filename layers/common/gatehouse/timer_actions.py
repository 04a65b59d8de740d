"""What firing a timer means, by the kind of its owner: the one module that knows every area using timers.

The timers area knows none of its users (docs/architecture.md); whoever fires timers it did not
create itself (the timer function, the sweep, the operators' routes) passes this table along.
Wiring only, like an area's runtime.py. Today campaigns are the only users.
"""

from __future__ import annotations

from collections.abc import Mapping

from gatehouse.campaigns.records import OWNER_KIND as CAMPAIGN
from gatehouse.campaigns.runtime import campaigns_service
from gatehouse.timers.records import TimerAction


def timer_actions() -> Mapping[str, TimerAction]:
    return {CAMPAIGN: campaigns_service().run_timer}
