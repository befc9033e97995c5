"""Field-service KPIs per engineer, site or customer and time bucket (plain SQL).

- first_response_s: created -> accepted (or assigned when never accepted);
- time_to_arrive_s: created -> on site; time_to_resolve_s: created -> completed;
- first_time_fix_rate: completed orders that never waited for parts and were checked in
  at most once, over completed orders;
- sla_compliance: orders that arrived by their SLA due time, over orders whose due time
  has been decided (arrived, or due time passed);
- utilisation: on-site working time over the engineers' capacity in the bucket (shift
  length per day, or the hour).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from psycopg import AsyncConnection

from store.sql import fetch_all

GroupBy = Literal["engineer", "site", "customer"]
Bucket = Literal["day", "hour"]
_GROUP_COLUMN: dict[str, str] = {
    "engineer": "o.engineer_id",
    "site": "o.site_id",
    "customer": "o.customer_id",
}

_SQL = """
WITH o AS (
    SELECT o.*, {group} AS grp, date_trunc(%(bucket)s, o.created_at) AS bucket,
           extract(epoch FROM (CASE WHEN e.shift_end > e.shift_start
               THEN e.shift_end - e.shift_start ELSE interval '8 hours' END)) AS shift_s,
           EXISTS (SELECT 1 FROM work_order_events ev WHERE ev.work_order_id = o.id
                   AND ev.to_status = 'waiting_parts'
                   AND ev.from_status IS DISTINCT FROM 'waiting_parts') AS waited,
           (SELECT count(*) FROM work_order_events ev WHERE ev.work_order_id = o.id
                   AND ev.to_status = 'on_site'
                   AND ev.from_status IS DISTINCT FROM 'on_site') AS visits
    FROM work_orders o LEFT JOIN engineers e ON e.id = o.engineer_id
    WHERE o.created_at >= %(start)s AND o.created_at < %(end)s
)
SELECT grp AS "group", bucket, count(*) AS orders,
       count(*) FILTER (WHERE completed_at IS NOT NULL) AS completed,
       avg(extract(epoch FROM coalesce(accepted_at, assigned_at) - created_at))
           AS first_response_s,
       avg(extract(epoch FROM checkin_at - created_at)) AS time_to_arrive_s,
       avg(extract(epoch FROM completed_at - created_at)) AS time_to_resolve_s,
       (count(*) FILTER (WHERE completed_at IS NOT NULL AND NOT waited AND visits <= 1))::float
           / nullif(count(*) FILTER (WHERE completed_at IS NOT NULL), 0) AS first_time_fix_rate,
       (count(*) FILTER (WHERE sla_due IS NOT NULL AND checkin_at IS NOT NULL
                         AND checkin_at <= sla_due AND NOT sla_breached))::float
           / nullif(count(*) FILTER (WHERE sla_due IS NOT NULL
                    AND (checkin_at IS NOT NULL OR sla_due < now())), 0) AS sla_compliance,
       coalesce(sum(extract(epoch FROM coalesce(completed_at, checkout_at) - checkin_at)), 0)
           AS on_site_s,
       count(DISTINCT engineer_id) AS engineers,
       coalesce(avg(shift_s), 28800) AS shift_s
FROM o GROUP BY 1, 2 ORDER BY 2, 1
"""


async def kpis(
    conn: AsyncConnection[Any],
    *,
    group_by: GroupBy,
    bucket: Bucket,
    start: datetime,
    end: datetime,
) -> list[dict[str, Any]]:
    sql = _SQL.format(group=_GROUP_COLUMN[group_by])
    rows = await fetch_all(conn, sql, {"bucket": bucket, "start": start, "end": end})
    out = []
    for r in rows:
        capacity = (3600.0 if bucket == "hour" else float(r.pop("shift_s"))) * max(
            int(r["engineers"]), 1
        )
        r.pop("shift_s", None)
        on_site = float(r.pop("on_site_s") or 0)
        out.append(
            {
                **{k: (float(v) if k.endswith("_s") and v is not None else v)
                   for k, v in r.items()},
                "on_site_s": on_site,
                "utilisation": min(on_site / capacity, 1.0) if r["engineers"] else None,
            }
        )
    return out
