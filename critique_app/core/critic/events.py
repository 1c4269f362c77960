"""What a critique stream yields, in order.

A stream is a flat sequence of events: for each section ``start``, then
``text`` chunks as they are generated (plus ``suggestion`` / ``emotion`` items
carrying structured data), then ``end``. ``notice`` tells the reader something
about the run (which model, what is missing and how to get it); the last event
is ``done`` or ``cancelled``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("start", "text", "suggestion", "emotion", "score", "end", "notice", "done",
         "cancelled")


@dataclass(frozen=True)
class CritiqueEvent:
    kind: str
    section: str | None = None
    text: str = ""
    data: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        out: dict = {"event": self.kind}
        if self.section:
            out["section"] = self.section
        if self.text:
            out["text"] = self.text
        if self.data:
            out["data"] = self.data
        return out


def collect_text(events) -> dict[str, str]:
    """Section name -> the full text streamed for it (what a reader saw)."""
    texts: dict[str, str] = {}
    for event in events:
        if event.kind == "start":
            texts.setdefault(event.section, "")
        elif event.kind == "text":
            texts[event.section] = texts.get(event.section, "") + event.text
    return texts
