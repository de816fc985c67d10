"""Each typed row names exactly its table's columns (no database needed)."""

from __future__ import annotations

import pytest

from app.models import Base
from app.models.rows import ROW_TYPES


@pytest.mark.parametrize("table", sorted(ROW_TYPES))
def test_row_type_matches_its_table(table: str) -> None:
    columns = set(Base.metadata.tables[table].c.keys())
    assert set(ROW_TYPES[table].__annotations__) == columns
