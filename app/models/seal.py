from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigId


class Seal(Base):
    """A batch of the access log and the case chains, sealed (app/chain.py): every access-log
    row ``first_id``…``last_id`` (``count`` of them) and the latest hash of every case whose
    chain grew up to event ``last_event_id``; ``root`` over them, ``prev`` the previous seal's
    root. Written by the sealer only (services/seals.py), never updated."""

    __tablename__ = "seals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    first_id: Mapped[int] = mapped_column(BigId)
    last_id: Mapped[int] = mapped_column(BigId)
    count: Mapped[int]
    last_event_id: Mapped[int] = mapped_column(BigId)
    root: Mapped[str] = mapped_column(String(64))
    prev: Mapped[str] = mapped_column(String(64))
