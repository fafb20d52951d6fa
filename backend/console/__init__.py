"""The staff web console (/console): server-rendered pages in Chinese for the units and the dispatch centre.

Views are thin, as in backend/api: the same services, the same actor, the same per-object scoping (a unit's case
is loaded through `cases.for_unit`, so another unit's case is a 404), the same staff output schemas (so no page
can show who reported). What the console adds is presentation: a session cookie instead of a bearer token, CSRF
tokens on every form, a strict Content-Security-Policy, flash messages and POST-redirect-GET.

Layout of the package:
    security.py   CSRF token, Content-Security-Policy and other headers, HTML error pages
    session.py    login/logout, current_staff(), console_login_required(*roles), the actor of a request
    nav.py        the navigation: each page module adds its entries (who sees which page)
    forms.py      reading a form through the API's marshmallow input schemas
    unit.py       单位工作台: queue, case page, accept/return/reply/extension, figures
    dispatch.py   调度台: pending queue, dispatch, reject, verify, supervision board, failed notifications
    maps.py       regions for the maps, converted to the tiles' coordinate system
    leader.py     数据看板 (figures, SVG charts from charts.py, ranking), 热点地图, 通报 downloads, case export
    rewards.py    有奖举报: claims with evidence and signals, decisions one by one or in bulk, payout batches
    map_admin.py  责任地图: units tree, regions on the map and GeoJSON import, routing rules, "who gets this point"
    workdays.py   工作日历: the year's holidays and 调休 days, seeded from chinese_calendar
    account.py    账号: change one's own password; the admin's staff accounts (reset, 停用/启用, unlock)
"""

from flask import Blueprint, Flask

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


def init_console(app: Flask) -> None:
    from backend.console import (  # noqa: F401 - the views register on bp
        account,
        dispatch,
        filters,
        leader,
        map_admin,
        maps,
        rewards,
        security,
        session,
        unit,
        workdays,
    )

    security.init_app(app)
    app.register_blueprint(bp)
