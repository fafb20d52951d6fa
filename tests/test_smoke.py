def test_categories(api):
    response = api.get("/api/v1/categories")
    assert response.status_code == 200
    codes = {c["code"] for c in response.json["items"]}
    assert {"illegal_ad", "street_vendor", "dust"} <= codes
