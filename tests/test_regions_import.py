"""Regions as GeoJSON: import all-or-nothing with every problem named, export, round trip, routing, access, CLI."""

import copy
import json

import pytest

from backend.extensions import db
from backend.models import AuditEntry, Case, Region, RoutingRule, Unit, UnitKind
from backend.services.actors import Actor
from backend.services.responsibility import geo, regions

REGIONS = "/api/v1/admin/regions"


def box(west: float, south: float, east: float, north: float) -> dict:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(code: str, geometry: dict | None = None, unit_code: str = "renhe-town", name: str | None = None, **extra):
    properties = {"code": code, "name": name or f"网格 {code}", "unit_code": unit_code, **extra}
    return {"type": "Feature", "geometry": geometry or box(101.745, 26.455, 101.755, 26.465), "properties": properties}


def collection(*features, coord: str | None = "gcj02") -> dict:
    body = {"type": "FeatureCollection", "features": list(features)}
    if coord is not None:
        body["coord"] = coord
    return body


@pytest.fixture
def dispatcher(api) -> str:
    return api.login_staff("dispatcher")


def import_geojson(api, token: str, body, query: str = ""):
    return api.post(f"{REGIONS}/import{query}", token, json=body)


def delete(api, token: str | None, path: str):
    return api.client.delete(path, headers=api.auth(token) if token else {})


def counts(app) -> tuple[int, int]:
    with app.app_context():
        region_count = db.session.scalar(db.select(db.func.count(Region.id)))
        entry_count = db.session.scalar(db.select(db.func.count(AuditEntry.id)))
        return region_count, entry_count


def region_audit(app, region_id: int) -> list[tuple[str, str | None, dict]]:
    """(action, staff username, changes) of each audit entry of the region, oldest first."""
    with app.app_context():
        query = db.select(AuditEntry).where(AuditEntry.entity == "region", AuditEntry.entity_id == region_id)
        entries = db.session.scalars(query.order_by(AuditEntry.id)).all()
        return [(e.action, e.staff.username if e.staff else None, e.changes) for e in entries]


def updated_at(app, code: str):
    with app.app_context():
        return db.session.scalar(db.select(Region.updated_at).where(Region.code == code))


def region_by_code(api, token: str, code: str) -> dict:
    listing = api.get(f"{REGIONS}?per_page=100", token).json
    summary = next(item for item in listing["items"] if item["code"] == code)
    return api.get(f"{REGIONS}/{summary['id']}", token).json


# --- import -----------------------------------------------------------------------------------------------------


def test_import_creates_regions(app, api, dispatcher):
    multi = {
        "type": "MultiPolygon",
        "coordinates": [
            box(101.76, 26.45, 101.77, 26.46)["coordinates"],
            box(101.78, 26.45, 101.79, 26.46)["coordinates"],
        ],
    }
    body = collection(feature("grid-a"), feature("grid-b", multi, unit_code="qianjin-town", name="前进网格"))
    response = import_geojson(api, dispatcher, body)
    assert response.status_code == 200, response.json
    assert response.json == {"created": 2, "updated": 0, "unchanged": 0, "total": 2}

    listing = api.get(f"{REGIONS}?unit_id={region_by_code(api, dispatcher, 'grid-b')['unit']['id']}", dispatcher).json
    assert [item["code"] for item in listing["items"]] == ["qianjin-town", "grid-b"]
    assert all("geometry" not in item for item in listing["items"])
    detail = region_by_code(api, dispatcher, "grid-b")
    assert detail["name"] == "前进网格" and detail["coord"] == "gcj02"
    assert detail["unit"]["code"] == "qianjin-town" and detail["geometry"] == multi
    assert detail["bbox"] == [101.76, 26.45, 101.79, 26.46]

    ((action, staff, changes),) = region_audit(app, detail["id"])
    assert action == "create" and staff == "dispatcher"
    assert changes["code"] == {"from": None, "to": "grid-b"}
    assert changes["coord"] == {"from": None, "to": "gcj02"}
    assert len(changes["geometry_sha1"]["to"]) == 12
    assert set(changes) == {"code", "name", "unit_id", "coord", "geometry_sha1"}


def test_reimport_updates_by_code_and_audits_the_change(app, api, dispatcher):
    assert import_geojson(api, dispatcher, collection(feature("grid-a"))).status_code == 200
    first = region_by_code(api, dispatcher, "grid-a")

    moved = feature("grid-a", box(101.745, 26.455, 101.756, 26.466), unit_code="qianjin-town", name="改名网格")
    response = import_geojson(api, dispatcher, collection(moved, feature("grid-c", box(101.73, 26.45, 101.74, 26.46))))
    assert response.json == {"created": 1, "updated": 1, "unchanged": 0, "total": 2}
    second = region_by_code(api, dispatcher, "grid-a")
    assert second["id"] == first["id"] and second["name"] == "改名网格" and second["unit"]["code"] == "qianjin-town"
    assert second["bbox"] == [101.745, 26.455, 101.756, 26.466]

    (_, _, created), (action, staff, changes) = region_audit(app, first["id"])
    assert action == "update" and staff == "dispatcher"
    assert set(changes) == {"name", "unit_id", "geometry_sha1"}
    assert changes["name"] == {"from": "网格 grid-a", "to": "改名网格"}
    assert changes["geometry_sha1"]["from"] == created["geometry_sha1"]["to"]
    stamp = updated_at(app, "grid-a")

    # the same file again: nothing changes, nothing is audited, the routing index is not rebuilt
    again = import_geojson(api, dispatcher, collection(moved))
    assert again.json == {"created": 0, "updated": 0, "unchanged": 1, "total": 1}
    assert len(region_audit(app, first["id"])) == 2
    assert updated_at(app, "grid-a") == stamp


BOWTIE = {
    "type": "Polygon",
    "coordinates": [[[101.70, 26.50], [101.71, 26.51], [101.71, 26.50], [101.70, 26.51], [101.70, 26.50]]],
}
OPEN_RING = {"type": "Polygon", "coordinates": [[[101.70, 26.50], [101.71, 26.50], [101.71, 26.51], [101.70, 26.51]]]}
SWAPPED = box(26.50, 101.70, 26.51, 101.71)  # [lat, lng]: GeoJSON wants [lng, lat]


def _without(key: str) -> dict:
    broken = feature("bad")
    del broken["properties"][key]
    return broken


BROKEN_FEATURES = {
    "self-intersection": (
        feature("bad", BOWTIE),
        'feature #2 (code "bad"): invalid geometry: Self-intersection[101.705 26.505]',
    ),
    "point": (
        feature("bad", {"type": "Point", "coordinates": [101.7, 26.5]}),
        'feature #2 (code "bad"): geometry must be a Polygon or MultiPolygon, not Point',
    ),
    "no geometry": ({**feature("bad"), "geometry": None}, 'feature #2 (code "bad"): the feature has no geometry'),
    "no coordinates": (
        feature("bad", {"type": "Polygon"}),
        'feature #2 (code "bad"): the geometry has no "coordinates"',
    ),
    "open ring": (feature("bad", OPEN_RING), 'feature #2 (code "bad"): ring not closed'),
    "too few points": (
        feature("bad", {"type": "Polygon", "coordinates": [[[101.7, 26.5], [101.71, 26.5], [101.7, 26.5]]]}),
        'feature #2 (code "bad"): invalid geometry: Too few points',
    ),
    "lat lng swapped": (feature("bad", SWAPPED), 'feature #2 (code "bad"): coordinates out of range'),
    "no code": (_without("code"), 'feature #2: property "code" is missing'),
    "blank code": (feature(" "), 'feature #2 (code " "): property "code" must be non-empty text'),
    "number code": (feature(12), 'feature #2: property "code" must be non-empty text'),
    "long code": (feature("x" * 65), f'feature #2 (code "{"x" * 65}"): property "code" is longer than 64 characters'),
    "no name": (_without("name"), 'feature #2 (code "bad"): property "name" is missing'),
    "no unit": (_without("unit_code"), 'feature #2 (code "bad"): property "unit_code" is missing'),
    "unknown unit": (feature("bad", unit_code="nowhere"), 'feature #2 (code "bad"): unit_code "nowhere": no such unit'),
    "inactive unit": (
        feature("bad", unit_code="renhe-police"),
        'feature #2 (code "bad"): unit_code "renhe-police": the unit is inactive',
    ),
    "duplicate code": (feature("good"), 'feature #2 (code "good"): code "good" is already used by feature #1'),
    "not a feature": ({"type": "Polygon", "coordinates": []}, "feature #2: not a GeoJSON Feature"),
    "no properties": ({**feature("bad"), "properties": None}, 'feature #2: "properties" must be an object'),
    "other coord": (feature("bad", coord="wgs84"), "feature #2 (code \"bad\"): coord 'wgs84' differs"),
}


@pytest.mark.parametrize("case", list(BROKEN_FEATURES))
def test_a_broken_feature_fails_the_whole_import(app, api, dispatcher, case):
    with app.app_context():
        db.session.scalar(db.select(Unit).where(Unit.code == "renhe-police")).active = False
        db.session.commit()
    broken, problem = BROKEN_FEATURES[case]
    before = counts(app)
    response = import_geojson(api, dispatcher, collection(feature("good"), broken))
    assert response.status_code == 422, response.json
    error = response.json["error"]
    assert error["code"] == "invalid_geojson" and error["message"] == "GeoJSON 导入失败"
    assert len(error["fields"]["features"]) == 1
    assert error["fields"]["features"][0].startswith(problem)
    assert counts(app) == before  # feature #1 was fine and still not written


BROKEN_COLLECTIONS = {
    "a feature, not a collection": (feature("good"), "", "the file must be a GeoJSON FeatureCollection, not Feature"),
    "a list": ({"type": "FeatureCollection", "features": {}}, "", 'the FeatureCollection has no "features"'),
    "no features": (collection(), "", 'the FeatureCollection has no "features", or an empty list'),
    "no coord": (collection(feature("good"), coord=None), "", "coord is missing"),
    "unknown coord": (
        collection(feature("good"), coord="bd09"),
        "",
        'the collection: coord must be "gcj02" or "wgs84"',
    ),
    "contradicting coords": (collection(feature("good")), "?coord=wgs84", "the import says coord 'wgs84' but"),
    "a feature without coord": (
        collection(feature("good", coord="gcj02"), feature("other"), coord=None),
        "",
        'feature #2 (code "other"): coord is missing',
    ),
    "a feature with an unknown coord": (
        collection(feature("good", coord="bd09"), coord=None),
        "",
        'feature #1 (code "good"): coord must be "gcj02" or "wgs84", not "bd09"',
    ),
}


@pytest.mark.parametrize("case", list(BROKEN_COLLECTIONS))
def test_a_broken_collection_is_refused(app, api, dispatcher, case):
    body, query, problem = BROKEN_COLLECTIONS[case]
    before = counts(app)
    response = import_geojson(api, dispatcher, body, query)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "invalid_geojson"
    assert response.json["error"]["fields"]["features"][0].startswith(problem)
    assert counts(app) == before


def test_every_problem_is_reported_at_once(app, api, dispatcher):
    body = collection(
        feature("ok"),
        feature("bowtie", BOWTIE),
        feature("ok"),
        _without("name"),
        feature("p", unit_code="x"),
        coord=None,
    )
    errors = import_geojson(api, dispatcher, body).json["error"]["fields"]["features"]
    assert errors == [
        'coord is missing: declare "gcj02" or "wgs84" (the collection\'s "coord" member or the option)',
        'feature #2 (code "bowtie"): invalid geometry: Self-intersection[101.705 26.505]',
        'feature #3 (code "ok"): code "ok" is already used by feature #1',
        'feature #4 (code "bad"): property "name" is missing',
        'feature #5 (code "p"): unit_code "x": no such unit',
    ]


def test_import_reports_progress_as_it_writes(app):
    grids = [feature(f"g{i}", box(101.73 + i * 1e-4, 26.45, 101.73 + (i + 1) * 1e-4, 26.451)) for i in range(250)]
    steps = []
    with app.app_context():
        result = regions.import_regions(collection(*grids), None, Actor.system(), progress=steps.append)
        db.session.commit()
    assert result == {"created": 250, "updated": 0, "unchanged": 0, "total": 250}
    assert steps == [100, 100, 50]


def test_a_thousand_problems_are_cut_to_a_hundred(api, dispatcher):
    body = collection(*[feature(f"g{i}", unit_code="nowhere") for i in range(1000)])
    errors = import_geojson(api, dispatcher, body).json["error"]["fields"]["features"]
    assert len(errors) == 101 and errors[-1] == "… and 900 more problems"


def test_bad_requests_around_the_body(api, dispatcher):
    assert api.post(f"{REGIONS}/import", dispatcher, data="[1", content_type="application/json").status_code == 400
    listed = import_geojson(api, dispatcher, [feature("good")])
    assert listed.status_code == 400 and listed.json["error"]["code"] == "invalid_json"
    bad_option = import_geojson(api, dispatcher, collection(feature("good")), "?coord=bd09")
    assert bad_option.status_code == 422 and "coord" in bad_option.json["error"]["fields"]


def test_the_coord_can_come_from_the_request(api, dispatcher):
    response = import_geojson(api, dispatcher, collection(feature("grid-w"), coord=None), "?coord=wgs84")
    assert response.json["created"] == 1
    assert region_by_code(api, dispatcher, "grid-w")["coord"] == "wgs84"


def test_an_inactive_unit_keeps_its_regions_on_reimport(app, api, dispatcher):
    exported = api.get(f"{REGIONS}/export", dispatcher).json
    with app.app_context():
        db.session.scalar(db.select(Unit).where(Unit.code == "dahe-grid-1")).active = False
        db.session.commit()
    response = import_geojson(api, dispatcher, exported)
    assert response.status_code == 200, response.json
    moved = collection(feature("dahe-grid-2", unit_code="dahe-grid-1"))
    refused = import_geojson(api, dispatcher, moved).json["error"]["fields"]["features"]
    assert refused == ['feature #1 (code "dahe-grid-2"): unit_code "dahe-grid-1": the unit is inactive']


# --- export -----------------------------------------------------------------------------------------------------


def test_export_then_import_round_trip(app, api, dispatcher):
    response = api.get(f"{REGIONS}/export", dispatcher)
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    exported = json.loads(response.get_data(as_text=True))
    assert exported["type"] == "FeatureCollection" and "coord" not in exported
    by_code = {f["properties"]["code"]: f for f in exported["features"]}
    assert len(by_code) == 8
    assert by_code["dahe-grid-1"]["properties"] == {
        "code": "dahe-grid-1",
        "name": "大河社区第一网格",
        "unit_code": "dahe-grid-1",
        "unit_name": "大河社区第一网格",
        "level": "grid",
        "coord": "gcj02",
    }

    before = counts(app)
    again = import_geojson(api, dispatcher, exported)
    assert again.json == {"created": 0, "updated": 0, "unchanged": 8, "total": 8}
    assert counts(app) == before

    edited = copy.deepcopy(exported)
    edited["features"][0]["properties"]["name"] = "新名字"
    edited["features"][0]["properties"]["code"] = "copy-of-first"
    assert import_geojson(api, dispatcher, edited).json == {"created": 1, "updated": 0, "unchanged": 7, "total": 8}
    assert api.get(f"{REGIONS}/export", dispatcher).json["features"][-1]["properties"]["name"] == "新名字"


def test_export_of_one_unit(api, dispatcher):
    unit_id = region_by_code(api, dispatcher, "renhe-community")["unit"]["id"]
    exported = api.get(f"{REGIONS}/export?unit_id={unit_id}", dispatcher).json
    assert [f["properties"]["code"] for f in exported["features"]] == ["renhe-community"]
    missing = api.get(f"{REGIONS}/export?unit_id=999999", dispatcher)
    assert missing.status_code == 404 and missing.json["error"]["code"] == "unit_not_found"


def test_an_export_of_a_map_mixing_coords_imports_back_as_it_was(app, api, dispatcher):
    wgs = collection(feature("grid-w", box(101.70, 26.47, 101.71, 26.48), name="WGS 网格"), coord="wgs84")
    assert import_geojson(api, dispatcher, wgs).status_code == 200
    exported = api.get(f"{REGIONS}/export", dispatcher).json
    assert {f["properties"]["coord"] for f in exported["features"]} == {"gcj02", "wgs84"}
    before = {r["code"]: r for r in api.get(f"{REGIONS}?per_page=100", dispatcher).json["items"]}

    again = import_geojson(api, dispatcher, exported)
    assert again.json == {"created": 0, "updated": 0, "unchanged": 9, "total": 9}, again.json
    after = {r["code"]: r for r in api.get(f"{REGIONS}?per_page=100", dispatcher).json["items"]}
    assert after == before and after["grid-w"]["coord"] == "wgs84"

    # into an empty map (another server): the same regions, each in its own coord, the same geometry
    with app.app_context():
        db.session.execute(db.delete(RoutingRule).where(RoutingRule.region_id.is_not(None)))  # co-units cascade
        db.session.execute(db.delete(Region))
        db.session.commit()
    fresh = import_geojson(api, dispatcher, exported)
    assert fresh.json == {"created": 9, "updated": 0, "unchanged": 0, "total": 9}, fresh.json
    assert api.get(f"{REGIONS}/export", dispatcher).json == exported

    # an import that names its coord still may not contradict a feature's own
    forced = import_geojson(api, dispatcher, exported, "?coord=gcj02").json["error"]["fields"]["features"]
    assert forced == ["feature #9 (code \"grid-w\"): coord 'wgs84' differs from the import's coord 'gcj02'"]


# --- routing ----------------------------------------------------------------------------------------------------


@pytest.fixture
def grid_unit(app) -> int:
    with app.app_context():
        parent = db.session.scalar(db.select(Unit).where(Unit.code == "renhe-town"))
        unit = Unit(code="renhe-grid-9", name="仁和镇第九网格", kind=UnitKind.GRID, parent=parent)
        db.session.add(unit)
        db.session.commit()
        return unit.id


def routed_unit(app, case_id: int) -> str | None:
    with app.app_context():
        case = db.session.get(Case, case_id)
        return case.unit.code if case.unit else None


def test_reports_inside_an_imported_grid_go_to_its_unit(app, api, dispatcher, grid_unit, run_jobs):
    body = collection(feature("renhe-grid-9", box(101.745, 26.455, 101.755, 26.465), unit_code="renhe-grid-9"))
    assert import_geojson(api, dispatcher, body).json["created"] == 1
    citizen = api.login_citizen()
    inside = api.submit_ok(citizen, category="sanitation", location={"lat": 26.46, "lng": 101.75, "coord": "gcj02"})
    beside = api.submit_ok(citizen, category="sanitation", location={"lat": 26.47, "lng": 101.75, "coord": "gcj02"})
    run_jobs()
    assert routed_unit(app, inside["id"]) == "renhe-grid-9"
    assert routed_unit(app, beside["id"]) == "renhe-town"


def test_a_wgs84_grid_catches_the_phones_gcj02_point(app, api, dispatcher, grid_unit, run_jobs):
    """The grid is drawn in WGS-84; the phone reports GCJ-02, about 400 m away in raw numbers."""
    wgs_lat, wgs_lng = 26.46, 101.75
    gcj_lat, gcj_lng = geo.wgs84_to_gcj02(wgs_lat, wgs_lng)
    grid = box(wgs_lng - 0.001, wgs_lat - 0.001, wgs_lng + 0.001, wgs_lat + 0.001)
    assert not (wgs_lng - 0.001 <= gcj_lng <= wgs_lng + 0.001 and wgs_lat - 0.001 <= gcj_lat <= wgs_lat + 0.001)
    body = collection(feature("renhe-grid-9", grid, unit_code="renhe-grid-9"), coord="wgs84")
    assert import_geojson(api, dispatcher, body).status_code == 200
    citizen = api.login_citizen()
    report = api.submit_ok(citizen, category="sanitation", location={"lat": gcj_lat, "lng": gcj_lng, "coord": "gcj02"})
    run_jobs()
    assert routed_unit(app, report["id"]) == "renhe-grid-9"


# --- delete -----------------------------------------------------------------------------------------------------


def test_delete_a_region(app, api, dispatcher):
    import_geojson(api, dispatcher, collection(feature("grid-a")))
    region = region_by_code(api, dispatcher, "grid-a")
    assert delete(api, dispatcher, f"{REGIONS}/{region['id']}").status_code == 204
    assert api.get(f"{REGIONS}/{region['id']}", dispatcher).json["error"]["code"] == "region_not_found"
    assert delete(api, dispatcher, f"{REGIONS}/{region['id']}").status_code == 404
    action, _, changes = region_audit(app, region["id"])[-1]
    assert action == "delete" and changes["code"] == {"from": "grid-a", "to": None}


def test_a_region_in_use_is_not_deleted(app, api, dispatcher, grid_unit, run_jobs):
    with app.app_context():
        street = db.session.scalar(db.select(Region).where(Region.code == "dahezhonglu"))
        rule_id = db.session.scalar(db.select(RoutingRule.id).where(RoutingRule.region_id == street.id))
        street_id = street.id
    response = delete(api, dispatcher, f"{REGIONS}/{street_id}")
    assert response.status_code == 409 and response.json["error"]["code"] == "region_in_use"
    assert f"#{rule_id}" in response.json["error"]["message"]

    import_geojson(api, dispatcher, collection(feature("grid-a", unit_code="renhe-grid-9")))
    grid = region_by_code(api, dispatcher, "grid-a")
    citizen = api.login_citizen()
    api.submit_ok(citizen, category="sanitation", location={"lat": 26.46, "lng": 101.75, "coord": "gcj02"})
    run_jobs()
    used = delete(api, dispatcher, f"{REGIONS}/{grid['id']}")
    assert used.status_code == 409 and "1 件案件" in used.json["error"]["message"]
    assert api.get(f"{REGIONS}/{grid['id']}", dispatcher).status_code == 200


# --- access -----------------------------------------------------------------------------------------------------

ENDPOINTS = [
    ("get", REGIONS),
    ("get", f"{REGIONS}/1"),
    ("get", f"{REGIONS}/export"),
    ("post", f"{REGIONS}/import"),
    ("delete", f"{REGIONS}/1"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_only_dispatchers_touch_regions(app, api, method, path):
    before = counts(app)
    for token, status in (
        (api.login_staff("dahezhonglu"), 403),
        (api.login_citizen(), 403),
        (None, 401),
    ):
        headers = api.auth(token) if token else {}
        kwargs = {"json": collection(feature("grid-a"))} if method == "post" else {}
        response = getattr(api.client, method)(path, headers=headers, **kwargs)
        assert response.status_code == status, (path, response.json)
    assert counts(app) == before


# --- CLI --------------------------------------------------------------------------------------------------------


@pytest.fixture
def cli(app):
    # a missing command is a regression to fail on, never a skip
    assert {"import-regions", "export-regions"} <= set(app.cli.commands), "backend/cli.py registers the region commands"
    return app.test_cli_runner()


def test_cli_import_and_export(app, cli, tmp_path):
    path = tmp_path / "grids.geojson"
    path.write_text(json.dumps(collection(feature("grid-a"), feature("grid-b", box(101.73, 26.45, 101.74, 26.46)))))
    result = cli.invoke(args=["import-regions", str(path)])
    assert result.exit_code == 0, result.output
    assert "2 created, 0 updated" in result.output
    again = cli.invoke(args=["import-regions", str(path), "--coord", "gcj02"])
    assert again.exit_code == 0 and "0 created, 0 updated, 2 unchanged" in again.output

    out = tmp_path / "renhe.geojson"
    exported = cli.invoke(args=["export-regions", str(out), "--unit", "renhe-town"])
    assert exported.exit_code == 0, exported.output
    codes = [f["properties"]["code"] for f in json.loads(out.read_text(encoding="utf-8"))["features"]]
    assert codes == ["renhe-town", "grid-a", "grid-b"]
    assert cli.invoke(args=["export-regions", str(tmp_path / "x.geojson"), "--unit", "nowhere"]).exit_code != 0
    assert not (tmp_path / "x.geojson").exists()
    with app.app_context():
        assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.entity == "region")).staff_id is None


def test_cli_names_each_broken_feature(app, cli, tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text(json.dumps(collection(feature("good"), feature("bowtie", BOWTIE), feature("p", unit_code="x"))))
    before = counts(app)
    result = cli.invoke(args=["import-regions", str(path)])
    assert result.exit_code == 1
    assert 'feature #2 (code "bowtie"): invalid geometry: Self-intersection[101.705 26.505]' in result.output
    assert 'feature #3 (code "p"): unit_code "x": no such unit' in result.output
    assert counts(app) == before

    not_json = tmp_path / "broken.json"
    not_json.write_text('{"type": "FeatureCollection", "features": [')
    result = cli.invoke(args=["import-regions", str(not_json)])
    assert result.exit_code != 0 and "is not valid JSON: line 1 column" in result.output
