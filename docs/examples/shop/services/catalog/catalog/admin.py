"""Back-office for merchandisers: prices, stock corrections, product texts, customer export.

@component Catalog admin (#catalog_admin) in #k8s [type: process; owner: team-catalog]: Flask back-office with its own Deployment and load balancer
@component Merchandiser (#merchandiser) in #internet [type: external]: staff who edit prices from the office or from home
@threat Admin account takeover (#admin_takeover) [stride: S,E; likelihood: likely; impact: severe; owner: team-catalog; actor: #malicious_outsider; cwe: 308]: credential stuffing against the password-only login gives an attacker the prices, the stock and the customer export
"""

import csv
import io
import os

from flask import Flask, Response, request
from flask_login import LoginManager, login_required, login_user
from psycopg_pool import ConnectionPool
from werkzeug.security import check_password_hash

app = Flask(__name__)
app.secret_key = os.environ["ADMIN_SECRET_KEY"]
login = LoginManager(app)
pool = ConnectionPool(os.environ["DATABASE_URL"], min_size=1, max_size=4)


@app.post("/login")
def do_login():
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT id, password_hash FROM catalog.staff WHERE email = %s",
            (request.form["email"],),
        ).fetchone()
    if row is None or not check_password_hash(row[1], request.form["password"]):
        return "invalid credentials", 401
    login_user(Staff(row[0]))
    return "", 204


@app.post("/prices/<sku>")
@login_required
def set_price(sku: str):
    with pool.connection() as conn:
        conn.execute(
            "UPDATE catalog.products SET price_cents = %s WHERE sku = %s",
            (int(request.form["price_cents"]), sku),
        )
    return "", 204


@app.get("/export/customers.csv")
@login_required
def export_customers():
    out = io.StringIO()
    writer = csv.writer(out)
    with pool.connection() as conn:
        for row in conn.execute("SELECT email, name, country FROM orders.customers"):
            writer.writerow(row)
    return Response(out.getvalue(), mimetype="text/csv")


class Staff:
    def __init__(self, staff_id: int):
        self.id = staff_id
        self.is_authenticated = True
        self.is_active = True
        self.is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)


@login.user_loader
def load_staff(staff_id: str):
    return Staff(int(staff_id))
