"""The people of a group: each face matched across frames by where it sits, so eyes and
face sharpness are compared with the same person's own best, not with someone else's."""

from __future__ import annotations

from dataclasses import dataclass

MATCH_IOU = 0.3  # boxes of one person across a burst overlap well; neighbours do not
MATCH_CENTRE = 0.5  # ...or the centre moved under half a face width (the person turned)
MAIN_FACE_SHARE = 0.5  # faces under half the frame's largest face are passers-by
EYES_SHUT = 0.1  # eyelid gap / eye width: open eyes measure ~0.25-0.35, shut ones < 0.1


@dataclass
class Person:
    faces: dict[int, dict]  # frame index -> face dict (spec B)
    main: set[int]  # frames where this face is one of the frame's main faces


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _near(a, b) -> float:
    """Centre distance in face widths (smaller is nearer)."""
    width = max(a[2] - a[0], b[2] - b[0], 1e-6)
    dx = (a[0] + a[2] - b[0] - b[2]) / 2
    dy = (a[1] + a[3] - b[1] - b[3]) / 2
    return (dx * dx + dy * dy) ** 0.5 / width


def faces_of(frame: dict) -> list[dict]:
    return list((frame.get("faces") or {}).get("faces") or [])


def people(frames: list[dict], members) -> list[Person]:
    found: list[Person] = []
    for i in members:
        faces = faces_of(frames[i])
        widest = max((f["box"][2] - f["box"][0] for f in faces), default=0.0)
        taken: set[int] = set()
        for face in sorted(faces, key=lambda f: f["box"][0] - f["box"][2]):  # largest first
            best, best_fit = None, None
            for k, person in enumerate(found):
                if k in taken or i in person.faces:
                    continue
                last = list(person.faces.values())[-1]["box"]  # latest in capture order
                iou, near = _iou(face["box"], last), _near(face["box"], last)
                if iou >= MATCH_IOU or near <= MATCH_CENTRE:
                    fit = (iou, -near)
                    if best_fit is None or fit > best_fit:
                        best, best_fit = k, fit
            if best is None:
                found.append(Person({}, set()))
                best = len(found) - 1
            taken.add(best)
            found[best].faces[i] = face
            if face["box"][2] - face["box"][0] >= MAIN_FACE_SHARE * widest:
                found[best].main.add(i)
    return sorted(found, key=_centre_x)  # numbered from the left, as the words say


def _centre_x(person: Person) -> float:
    boxes = [face["box"] for face in person.faces.values()]
    return sum(b[0] + b[2] for b in boxes) / (2 * len(boxes))


def openness(face: dict) -> tuple[float | None, str]:
    """Mean openness of the eyes that were measured, else None and why not."""
    eyes = face.get("eyes") or []
    measured = [e["openness"] for e in eyes if e.get("visible") and e.get("openness") is not None]
    if measured:
        return sum(measured) / len(measured), ""
    why = next((e.get("why") for e in eyes if e.get("why")), "")
    return None, why or "eyes not found on the face"
