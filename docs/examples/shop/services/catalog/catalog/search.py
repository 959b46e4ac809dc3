"""Product search over the catalog schema."""

from psycopg import Connection
from psycopg.rows import dict_row

# @exposes #catalog to #sqli with the sort parameter is pasted into ORDER BY; only the WHERE clause is parameterised
#
# @threat Catalogue scraping (#scraping) [stride: I,D; likelihood: likely; impact: negligible; owner: team-catalog; actor: #malicious_outsider]: competitors pull the whole price list every few minutes and undercut us
# @exposes #catalog to #scraping with /api/products is public and pages are unlimited beyond the per-IP rate limit, which a proxy pool sidesteps


def products(conn: Connection, *, q: str, sort: str, page: int, per_page: int) -> dict:
    direction = "DESC" if sort.startswith("-") else "ASC"
    column = sort.lstrip("-")
    sql = (
        "SELECT sku, name, price_cents, stock FROM catalog.products "
        "WHERE active AND (%(q)s = '' OR search_vector @@ plainto_tsquery('english', %(q)s)) "
        f"ORDER BY {column} {direction} "
        "LIMIT %(limit)s OFFSET %(offset)s"
    )
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, {"q": q, "limit": per_page, "offset": (page - 1) * per_page})
        items = cur.fetchall()
    return {"page": page, "items": items}
