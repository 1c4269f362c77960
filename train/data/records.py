"""What every dataset reader produces: rows, the errors it found, a summary.

Readers never raise on a bad row: they record it (with its line number) and go
on, so validation can show every problem at once. A reader raises
:class:`DataError` only when the dataset as a whole cannot be read (missing
file, wrong format, no header).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from critique_app.core.util.errors import CritiqueError

SCORE_BINS = 10  # scores 1..10


class DataError(CritiqueError):
    """A dataset that cannot be read at all (one line, no traceback)."""


@dataclass(frozen=True)
class ScoreRow:
    """One rated photo. ``distribution``: 10 probabilities of scores 1..10 (sums to 1).

    Readers turn every rating kind into a distribution: AVA vote counts
    directly; a single score, a star rating or a pick/reject flag as a narrow
    bump around its value on the 1..10 scale (see :func:`train.data.score_targets`).
    ``rating`` keeps what the source said (e.g. "4 stars", "reject") for previews.
    """

    image: Path
    distribution: tuple[float, ...]
    line: int  # 1-based line (or entry number) in the source; 0 when not line-based
    rating: str = ""
    rater: str | None = None

    @property
    def mean(self) -> float:
        return sum((i + 1) * p for i, p in enumerate(self.distribution))


@dataclass(frozen=True)
class CritiqueRow:
    """One photo with critique text. ``sections`` uses the app's section names
    (description, impression, evaluation, emotion, suggestions), only those the
    source has. ``emotion`` is one of the ArtEmis categories
    (``critique_app.core.critic.sections.EMOTIONS``), ``explanation`` its reason."""

    image: Path
    sections: dict[str, str]
    line: int
    persona: str | None = None
    emotion: str | None = None
    explanation: str | None = None


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass
class Dataset:
    """Rows of one kind ("score" or "critique") read from ``source`` in ``format``."""

    kind: str
    format: str
    source: Path
    rows: list = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    total_lines: int = 0  # data rows seen, good or bad
    unrated: int = 0  # seen but holding no rating (photos without stars): neither row nor error

    def counts(self) -> dict[str, int]:
        counts = {"rows": len(self.rows), "errors": len(self.errors),
                  "seen": self.total_lines, "images": len({r.image for r in self.rows})}
        if self.unrated:
            counts["unrated"] = self.unrated
        if self.kind == "critique":
            personas = Counter(r.persona for r in self.rows if r.persona)
            emotions = Counter(r.emotion for r in self.rows if r.emotion)
            counts.update({f"persona:{k}": v for k, v in sorted(personas.items())})
            counts.update({f"emotion:{k}": v for k, v in sorted(emotions.items())})
        return counts

    def preview(self, n: int = 5) -> list[dict]:
        """The first ``n`` rows as plain dicts (for the CLI and the wizard)."""
        out = []
        for row in self.rows[:n]:
            if isinstance(row, ScoreRow):
                out.append({"line": row.line, "image": str(row.image), "rating": row.rating,
                            "mean": round(row.mean, 2)})
            else:
                text = {k: (v[:80] + "…" if len(v) > 80 else v) for k, v in row.sections.items()}
                out.append({"line": row.line, "image": str(row.image), "persona": row.persona,
                            "emotion": row.emotion, **text})
        return out

    def to_dict(self, preview: int = 5) -> dict:
        return {"kind": self.kind, "format": self.format, "source": str(self.source),
                "counts": self.counts(), "preview": self.preview(preview),
                "errors": [{"line": e.line, "message": e.message} for e in self.errors]}
