"""The simulator's REST client (DESIGN.md §8 paths), with a note of what is missing.

Every call goes through ``_call``; a 404/405 on a *route* (not on a resource) is
recorded in ``missing`` so the report can say exactly which endpoint the run lacked.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

log = logging.getLogger("fieldflow.simulators.api")
V1 = "/api/v1"


class ApiError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} -> HTTP {status}: {body[:300]}")
        self.status = status


def _items(data: Any) -> list[dict[str, Any]]:
    """Lists come back bare or wrapped (``{"items": [...]}``); accept both."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in ("items", "results", "data"):
            if isinstance(data.get(key), list):
                return list(data[key])
    return []


class Api:
    """A bearer-token client of one FieldFlow API."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url
        self.token = token
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )
        self.missing: set[str] = set()
        self.send_ts = True  # POST .../transitions takes the phone's event time

    def with_token(self, token: str) -> Api:
        other = Api(self.base_url, token)
        other.missing = self.missing
        return other

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, route: str, **kw: Any) -> httpx.Response:
        resp = self.http.request(method, V1 + path, **kw)
        if resp.status_code == 405 or (
            resp.status_code == 404 and _detail(resp) == "Not Found"
        ):
            self.missing.add(f"{method} {V1}{route}")
        return resp

    def _ok(self, method: str, path: str, route: str, **kw: Any) -> Any:
        resp = self._call(method, path, route, **kw)
        if resp.status_code >= 400:
            raise ApiError(method, V1 + path, resp.status_code, resp.text)
        return resp.json() if resp.content else None

    # -- seeding ---------------------------------------------------------------
    def ensure(self, collection: str, body: dict[str, Any]) -> bool:
        """Create a resource; an existing one (409) is fine. False when the route is missing."""
        resp = self._call("POST", f"/{collection}", f"/{collection}", json=body)
        if resp.status_code in (200, 201, 409):
            return True
        if f"POST {V1}/{collection}" in self.missing:
            return False
        raise ApiError("POST", f"{V1}/{collection}", resp.status_code, resp.text)

    def engineer_token(self, engineer_id: str, name: str) -> str | None:
        """A user with role engineer and a token of its own; None if the API has no users."""
        user_id = f"user-{engineer_id}"
        body = {"id": user_id, "name": name, "role": "engineer", "engineer_id": engineer_id}
        resp = self._call("POST", "/users", "/users", json=body)
        if resp.status_code not in (200, 201, 409):
            return None
        tok = self._call("POST", f"/users/{user_id}/tokens", "/users/{id}/tokens", json={})
        if tok.status_code >= 400:
            return None
        data = tok.json()
        token = data.get("token") if isinstance(data, dict) else None
        return str(token) if token else None

    # -- work orders -----------------------------------------------------------
    def order(self, work_order_id: str) -> dict[str, Any]:
        data: dict[str, Any] = self._ok("GET", f"/work-orders/{work_order_id}",
                                        "/work-orders/{id}")
        return data

    def orders(self, **params: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        params.setdefault("limit", 500)
        offset = 0
        while True:
            page = _items(self._ok("GET", "/work-orders", "/work-orders",
                                   params={**params, "offset": offset}))
            out += page
            if len(page) < params["limit"]:
                return out
            offset += len(page)

    def count_open(self) -> int | None:
        """Open work orders on the platform (the page's ``total``), None if unknown."""
        resp = self._call("GET", "/work-orders", "/work-orders",
                          params={"open_only": "true", "limit": 1})
        data = resp.json() if resp.status_code == 200 else None
        total = data.get("total") if isinstance(data, dict) else None
        return int(total) if isinstance(total, int) else None

    def order_events(self, work_order_id: str) -> list[dict[str, Any]]:
        return _items(self._ok("GET", f"/work-orders/{work_order_id}/events",
                               "/work-orders/{id}/events"))

    def transition(self, work_order_id: str, to: str, reason: str = "", ts_ms: int | None = None
                   ) -> dict[str, Any]:
        body: dict[str, Any] = {"to": to, "reason": reason}
        if ts_ms is not None and self.send_ts:  # event time, when the API accepts it
            body["ts"] = ts_ms
        data: dict[str, Any] = self._ok("POST", f"/work-orders/{work_order_id}/transitions",
                                        "/work-orders/{id}/transitions", json=body)
        return data

    def checklist(self, work_order_id: str) -> list[dict[str, Any]]:
        data = self._ok("GET", f"/work-orders/{work_order_id}/checklist",
                        "/work-orders/{id}/checklist")
        if isinstance(data, dict) and isinstance(data.get("items"), list):
            return list(data["items"])
        return _items(data)

    def upload(self, work_order_id: str, kind: str, data: bytes, *, captured_at: str,
               lat: float, lon: float) -> str:
        """Upload a file to the order (multipart); the attachment's id."""
        out: dict[str, Any] = self._ok(
            "POST", f"/work-orders/{work_order_id}/attachments", "/work-orders/{id}/attachments",
            files={"file": (f"{kind}.png", data, "image/png")},
            data={"kind": kind, "captured_at": captured_at, "lat": str(lat), "lon": str(lon)})
        return str(out["id"])

    def answer_checklist(self, work_order_id: str, answers: dict[str, Any]) -> None:
        self._ok("PUT", f"/work-orders/{work_order_id}/checklist",
                 "/work-orders/{id}/checklist", json={"answers": answers})

    def eta(self, work_order_id: str) -> dict[str, Any] | None:
        resp = self._call("GET", f"/work-orders/{work_order_id}/eta", "/work-orders/{id}/eta")
        if resp.status_code != 200:
            return None
        data: dict[str, Any] = resp.json()
        return data

    def geofence_events(self, **params: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            resp = self._call("GET", "/geofence-events", "/geofence-events",
                              params={"limit": 500, **params, "offset": len(out)})
            page = _items(resp.json()) if resp.status_code == 200 else []
            out += page
            if len(page) < 500:
                return out

    def set_engineer_status(self, engineer_id: str, status: str) -> bool:
        resp = self._call("PATCH", f"/engineers/{engineer_id}", "/engineers/{id}",
                          json={"status": status})
        return resp.status_code < 400

    def set_van_stock(self, engineer_id: str, part_id: str, qty: int) -> bool:
        resp = self._call("PUT", f"/engineers/{engineer_id}/van-stock/{part_id}",
                          "/engineers/{id}/van-stock/{part}", json={"qty": qty})
        return resp.status_code < 400


def _detail(resp: httpx.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text
    if not isinstance(data, dict):
        return ""
    err = data.get("error")
    if isinstance(err, dict):  # FieldFlow's own error shape
        return str(err.get("message", ""))
    return str(data.get("detail", ""))
