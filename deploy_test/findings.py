"""What the proofs found, as one table: each row a figure and whether it is what it must be."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Row:
    proof: str
    what: str
    figure: str
    ok: bool


@dataclass
class Findings:
    rows: list[Row] = field(default_factory=list)
    proof: str = ""

    def add(self, what: str, figure: object, ok: bool = True) -> None:
        self.rows.append(Row(self.proof, what, str(figure), ok))

    def expect(self, what: str, figure: object, wanted: object) -> None:
        """A figure that must equal ``wanted`` (shown beside it when it does not)."""
        ok = figure == wanted
        self.add(what, figure if ok else f"{figure} (must be {wanted})", ok)

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(row.ok for row in self.rows)

    def markdown(self) -> str:
        lines = ["| proof | what | figure | |", "|---|---|---|---|"]
        for row in self.rows:
            figure = row.figure.replace("|", "\\|")
            lines.append(f"| {row.proof} | {row.what} | {figure} | {'ok' if row.ok else 'FAIL'} |")
        return "\n".join(lines)

    def text(self) -> str:
        width = max((len(r.what) for r in self.rows), default=10)
        out, last = [], None
        for row in self.rows:
            if row.proof != last:
                out.append(f"\n{row.proof}")
                last = row.proof
            mark = "ok  " if row.ok else "FAIL"
            out.append(f"  {mark} {row.what.ljust(width)}  {row.figure}")
        return "\n".join(out)
