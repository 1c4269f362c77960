"""The columns of ``critique cull --out`` (CSV and JSON), one row per photo.

``COLUMNS`` is the single source of the column list and of its documentation
(``docs/cull-columns.md`` is generated from it: ``python -m critique_app.core.culling.columns``).
"""

from __future__ import annotations

from critique_app.core.folder_scoring.columns import markdown as columns_page

COLUMNS: dict[str, str] = {
    "path": "the photo file",
    "status": "ok, or error when the file could not be read as a photo",
    "error": "why it failed (one line), empty when ok",
    "group": "the group of frames of one moment, numbered 1, 2, ... in capture order",
    "group_size": "how many frames the group has (1 for a single)",
    "group_kind": "burst, single, bracket, panorama or focus-stack; brackets, panoramas and "
                  "focus stacks are kept whole (their frames are never rejected)",
    "rank": "the frame's place in its group, 1 = the best",
    "best": "1 for the group's pick, else 0",
    "flags": "problems found, ';'-separated: subject-blur, eyes-closed, eyes-unknown (faces "
             "too small, turned or covered to tell), underexposed, overexposed (exposure is "
             "judged against the rest of the group)",
    "reasons": "why the frame has its rank and flags, in words, ' | '-separated",
    "taken_at": "capture time from EXIF (DateTimeOriginal with sub-seconds, the camera's own "
                "clock); empty when the photo has none",
    "faces": "how many faces were found",
    "eyes": "eye openness as measured (eyelid gap / eye width, per eye: L and R, the subject's "
            "own sides; ? where it cannot be told), faces ' | '-separated; empty without faces",
    "score": "predicted mean score, 1-10; empty when no score model is installed",
}


def markdown() -> str:
    return columns_page(COLUMNS, "critique cull", "critique_app/core/culling/columns.py")


if __name__ == "__main__":
    print(markdown(), end="")
