"""The GeoJSON import's problems in Chinese for the map admin page.

services/responsibility/regions.py and services/responsibility/geo.py word each problem in English: the API returns
them as they are (its clients, the CLI and the contract quote them; the stable part is `error.code` =
invalid_geojson), while staff read Chinese. Each sentence the services can write has a pattern here; the values it
quotes (codes, unit codes, coordinates) are kept. A sentence no pattern knows is shown as it is
(tests/test_console_admin.py feeds every kind of problem through, so a new English sentence without its Chinese
fails there).
"""

import re
from collections.abc import Callable

# GEOS's reasons (shapely.is_valid_reason), before a location such as "[101.705 26.505]"
GEOMETRY_REASONS = {
    "Self-intersection": "边界自相交",
    "Ring Self-intersection": "环自相交",
    "Too few points in geometry component": "组成部分的点数太少",
    "Hole lies outside shell": "内环（洞）位于外环之外",
    "Nested holes": "内环相互嵌套",
    "Interior is disconnected": "内部不连通",
    "Nested shells": "外环相互嵌套",
    "Duplicate Rings": "存在重复的环",
    "Invalid Coordinate": "坐标无效",
    "Ring is not closed": "环未闭合",
}
SOURCES = {"the import": "导入选项", "the collection": "文件的 coord 成员"}


def _geometry_reason(match: re.Match) -> str:
    reason, location = match.group(1), match.group(2) or ""
    return f"几何图形无效：{GEOMETRY_REASONS.get(reason, reason)}{location}"


_PATTERNS: list[tuple[re.Pattern, str | Callable[[re.Match], str]]] = [
    (r'property "(.+?)" is missing', r"缺少属性 \1"),
    (r'property "(.+?)" must be non-empty text', r"属性 \1 必须是非空文本"),
    (r'property "(.+?)" is longer than (\d+) characters', r"属性 \1 超过 \2 个字符"),
    (r'coord must be "gcj02" or "wgs84", not (.*)', r"坐标系 coord 必须是 gcj02 或 wgs84，不能是 \1"),
    (r"coord is missing: .*", "缺少坐标系 coord：请在导入时选择坐标系，或在文件、要素中写明 gcj02 或 wgs84"),
    (r"the import says coord (.*) but the collection says (.*)", r"导入时选择的坐标系 \1 与文件声明的 \2 不一致"),
    (r"coord (.*) differs from the import's coord (.*)", r"要素的坐标系 \1 与导入的坐标系 \2 不一致"),
    (r"the feature has no geometry", "要素没有几何图形 geometry"),
    (r"the file must be a GeoJSON FeatureCollection, not (.*)", r"文件必须是 GeoJSON FeatureCollection，不能是 \1"),
    (r'the FeatureCollection has no "features", or an empty list', "文件中没有要素（features 缺失或为空）"),
    (r"not a GeoJSON Feature", "不是 GeoJSON 要素（Feature）"),
    (
        r'"properties" must be an object with code, name and unit_code',
        "properties 必须是含 code、name、unit_code 的对象",
    ),
    (r'code "(.*)" is already used by feature #(\d+)', r"编码 \1 已被第 \2 个要素使用"),
    (r'unit_code "(.*)": no such unit', r"单位编码 \1 不存在"),
    (r'unit_code "(.*)": the unit is inactive', r"单位编码 \1 对应的单位已停用"),
    (r"… and (\d+) more problems", r"……另有 \1 处问题未列出"),
    (r"geometry must be a Polygon or MultiPolygon, not (.*)", r"几何图形必须是 Polygon 或 MultiPolygon，不能是 \1"),
    (r'the geometry has no "coordinates" list', "几何图形缺少坐标列表 coordinates"),
    (
        r"malformed coordinates: a ring must be a list of \[lng, lat\] positions",
        "坐标格式错误：每个环必须是 [经度, 纬度] 坐标点的列表",
    ),
    (r"malformed coordinates: positions must be numbers", "坐标格式错误：坐标必须是数字"),
    (r"malformed coordinates: (.*)", r"坐标格式错误：\1"),
    (r"ring not closed: it starts at (.*) and ends at (.*)", r"环未闭合：起点 \1，终点 \2（首尾坐标必须相同）"),
    (r"empty geometry", "几何图形为空"),
    (r"coordinates out of range \(GeoJSON order is \[lng, lat\]\)", "坐标超出范围（GeoJSON 的顺序是 [经度, 纬度]）"),
    (r"invalid geometry: ([^\[]*?)(\[.*\])?", _geometry_reason),
]
PATTERNS = [(re.compile(pattern, re.S), replacement) for pattern, replacement in _PATTERNS]
_SOURCE = re.compile(r"^(the import|the collection): (.*)$", re.S)


def in_chinese(problem: str) -> str:
    """One problem of the import (without its `feature #n (code …):` label) in Chinese."""
    source = _SOURCE.match(problem)
    if source:
        return f"{SOURCES[source.group(1)]}：{in_chinese(source.group(2))}"
    for pattern, replacement in PATTERNS:
        if found := pattern.fullmatch(problem):
            return replacement(found) if callable(replacement) else found.expand(replacement)
    return problem
