from unittest import mock

from catalog import search


# @review #catalog sort= reaches ORDER BY unquoted; replace it with an allow-list of columns before the next release
def test_search_sorts_descending_by_price():
    conn = mock.MagicMock()
    search.products(conn, q="", sort="-price_cents", page=1, per_page=24)
    sql = conn.cursor.return_value.__enter__.return_value.execute.call_args[0][0]
    assert "ORDER BY price_cents DESC" in sql
