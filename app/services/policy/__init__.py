"""The access policy, the one place to look: which role may do what (``actions``), which cases
and events exist for each role (``scope``), and which parts of a case it sees
(``visibility``). Every service goes through it, so HTTP, the CLI and any job obey the same
rules. Nothing here touches the database; scope rules are SQL expressions for the queries.
"""

from app.services.policy.actions import (
    ACTION_RULES,
    CASE_READERS,
    PERMISSIONS,
    UNHCR,
    ActionRule,
    Actor,
    Permission,
    allowed,
    authorize_action,
    leaves_scope,
    require,
    roles_for,
)
from app.services.policy.four_eyes import FOUR_EYES_ACTIONS, check_four_eyes
from app.services.policy.scope import (
    OFFICER_FILTERS,
    OFFICER_MEDIAN_MIN_CASES,
    SCOPE,
    cases_staying_in,
    cases_submitted_to,
    check_filters,
    probes_elsewhere,
    report_sees_all_submissions,
    report_slice,
    report_submissions,
    scope_params,
    transit_report_scope,
    visible_cases,
    visible_events,
)
from app.services.policy.visibility import (
    sees_protection_summary,
    sees_stay_lines,
    submitted_elsewhere,
    visible_stays,
    visible_submissions,
)

__all__ = [
    "ACTION_RULES",
    "CASE_READERS",
    "FOUR_EYES_ACTIONS",
    "OFFICER_FILTERS",
    "OFFICER_MEDIAN_MIN_CASES",
    "PERMISSIONS",
    "SCOPE",
    "UNHCR",
    "ActionRule",
    "Actor",
    "Permission",
    "allowed",
    "authorize_action",
    "cases_staying_in",
    "cases_submitted_to",
    "check_filters",
    "check_four_eyes",
    "leaves_scope",
    "probes_elsewhere",
    "report_sees_all_submissions",
    "report_slice",
    "report_submissions",
    "require",
    "roles_for",
    "scope_params",
    "sees_protection_summary",
    "sees_stay_lines",
    "submitted_elsewhere",
    "transit_report_scope",
    "visible_cases",
    "visible_events",
    "visible_stays",
    "visible_submissions",
]
