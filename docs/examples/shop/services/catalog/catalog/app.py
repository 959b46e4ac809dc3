"""Catalog service: product listing, search and stock.

@component Catalog service (#catalog) in #k8s [type: process; owner: team-catalog]: FastAPI app serving /api/products and consuming order events
@connects #catalog to #shop_db with SQL over TLS to the catalog schema
"""

import logging
import os

from fastapi import FastAPI, Query
from psycopg_pool import ConnectionPool

from . import search

log = logging.getLogger("catalog")

# @threat Log injection (#log_injection) [stride: R; likelihood: unlikely; impact: minor; owner: team-catalog; actor: #malicious_outsider; cwe: 117]: search terms are logged verbatim, so a query with CR/LF forges the log lines an investigation relies on
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

pool = ConnectionPool(os.environ["DATABASE_URL"], min_size=2, max_size=10, open=False)
app = FastAPI(title="catalog")


@app.on_event("startup")
def startup() -> None:
    pool.open()


@app.get("/api/products")
def list_products(
    q: str = "",
    sort: str = "name",
    page: int = Query(1, ge=1),
    per_page: int = Query(24, ge=1, le=100),
):
    log.info("search q=%s sort=%s page=%d", q, sort, page)
    with pool.connection() as conn:
        return search.products(conn, q=q, sort=sort, page=page, per_page=per_page)


@app.get("/healthz")
def healthz():
    return {"ok": True}
