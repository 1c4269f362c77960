"""The measured facts in plain words and units, grouped, plus the camera's own record."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from critique_app.core.critic.suggestions import TILT_MIN_DEG
from critique_app.core.measurements.spec import SPECS
from critique_app.core.scene import Scene

GROUPS = {  # key prefix -> group title, in display order
    "exposure": "Exposure",
    "contrast": "Contrast",
    "color": "Colour",
    "noise": "Noise",
    "sharpness": "Sharpness",
    "horizon": "Tilt",
    "subject": "Subject",
}
SKIPPED = {"exposure.histogram"}
SCENE_TITLE = "Scene"
NO_TILT = "no horizon or strong verticals found"
KEY_ROLE = Qt.ItemDataRole.UserRole

# unit -> how a value in it reads; units not listed show as "value unit".
_FORMATS = {
    "% of frame": lambda v: f"{v:.1f}% of frame",
    "0-1": lambda v: f"{v:.2f}",
    "0-0.5": lambda v: f"{v:.2f}",
    "EV": lambda v: f"{v:+.1f} EV",
    "M (Hasler-Süsstrunk)": lambda v: f"{v:.1f} M",
    "CIELAB a*": lambda v: f"{v:+.1f}",
    "CIELAB b*": lambda v: f"{v:+.1f}",
    "ΔE (CIELAB)": lambda v: f"ΔE {v:.1f}",
    "8-bit levels (σ)": lambda v: f"σ {v:.1f} levels",
    "ratio": lambda v: f"{v:.2f}×",
    "px at full resolution": lambda v: f"{v:.2f} px",
    "line length / frame size": lambda v: f"{v:.2f} × frame",
    "fraction of width": lambda v: f"{v:.2f} of width",
    "fraction of height": lambda v: f"{v:.2f} of height",
    "fraction of frame": lambda v: f"{v:.2f} of frame",
    "fractions [left, top, right, bottom]":
        lambda v: f"x {v[0]:.2f}–{v[2]:.2f}, y {v[1]:.2f}–{v[3]:.2f}",
}
_LABEL_SCALES = {"0-1": " (0–1)", "0-0.5": " (0–0.5)"}  # a bare number's scale, on its label


def format_value(key: str, value) -> str:
    """One measurement as the panel shows it."""
    if key == "horizon.tilt_deg":
        return format_tilt(value)
    unit = SPECS[key].unit if key in SPECS else ""
    if isinstance(value, str):
        return value
    formatter = _FORMATS.get(unit)
    if formatter is not None:
        return formatter(value)
    if isinstance(value, float):
        return f"{value:.2f} {unit}".strip()
    return f"{value} {unit}".strip()


def format_tilt(degrees: float | None) -> str:
    if degrees is None:
        return NO_TILT
    if degrees == 0:
        return "0.0° (level)"
    digits = 2 if abs(degrees) < 1 else 1
    text = f"{degrees:+.{digits}f}° {'clockwise' if degrees > 0 else 'counter-clockwise'}"
    return text + (" (looks level)" if abs(degrees) < TILT_MIN_DEG else "")


def camera_rows(exif: dict) -> list[tuple[str, str, str]]:
    """(key, label, value) for the EXIF facts present."""
    rows = [("camera.camera", "Camera", exif.get("camera")),
            ("camera.lens", "Lens", exif.get("lens"))]
    focal, focal_35 = exif.get("focal_length_mm"), exif.get("focal_length_35mm")
    if focal:
        rows.append(("camera.focal_length", "Focal length", f"{focal:g} mm" + (
            f" ({focal_35:g} mm equiv.)" if focal_35 and focal_35 != focal else "")))
    elif focal_35:
        rows.append(("camera.focal_length", "Focal length", f"{focal_35:g} mm (35 mm equiv.)"))
    if exif.get("aperture_f"):
        rows.append(("camera.aperture", "Aperture", f"f/{exif['aperture_f']:g}"))
    rows.append(("camera.shutter", "Shutter", exif.get("shutter")))
    if exif.get("iso"):
        rows.append(("camera.iso", "ISO", str(exif["iso"])))
    if exif.get("taken_at"):
        rows.append(("camera.taken_at", "Taken", exif["taken_at"].replace("T", " ")))
    if exif.get("flash_fired") is not None:
        rows.append(("camera.flash", "Flash", "fired" if exif["flash_fired"] else "did not fire"))
    return [(key, label, value) for key, label, value in rows if value]


def scene_rows(scene: Scene) -> list[tuple[str, str, str]]:
    """(key, label, value): the light, each kind the critique acts on with its cues, the
    weaker readings, what ruled readings out, and the labels (or why there are none)."""
    rows = []
    if scene.light:
        cues = "; ".join(c.text for c in scene.light_cues)
        rows.append(("scene.light", "Light", scene.light + (f": {cues}" if cues else "")))
    confident = scene.confident()
    for kind in confident:
        rows.append((f"scene.{kind.name}", kind.name.replace("-", " ").capitalize(),
                     f"{kind.confidence:.2f}: " + "; ".join(c.text for c in kind.cues)))
    if not confident:
        rows.append(("scene.kind", "Kind", "no clear scene"))
    weaker = [k for k in scene.kinds if k not in confident]
    if weaker:
        rows.append(("scene.less_sure", "Less sure",
                     ", ".join(f"{k.name} {k.confidence:.2f}" for k in weaker)))
    rows += [(f"scene.against.{i}", "Ruled out", cue.text)
             for i, cue in enumerate(scene.against)]
    if scene.labels:
        rows.append(("scene.labels", "ImageNet labels",
                     ", ".join(f"{name} {p:.0%}" for name, p in scene.labels)))
    elif scene.note:
        rows.append(("scene.labels", "ImageNet labels", scene.note))
    return rows


def photo_rows(info: dict) -> list[tuple[str, str, str]]:
    rows = []
    if info.get("path"):
        rows.append(("photo.file", "File", Path(info["path"]).name))
    if info.get("width") and info.get("height"):
        megapixels = info["width"] * info["height"] / 1e6
        rows.append(("photo.size", "Size", f"{info['width']} × {info['height']} px "
                     f"({megapixels:.{1 if megapixels >= 1 else 2}f} MP)"))
    if info.get("format"):
        depth = f", {info['bit_depth']}-bit" if info.get("bit_depth") else ""
        rows.append(("photo.format", "Format", f"{info['format']}{depth}"))
    for note in info.get("notes") or ():
        rows.append(("photo.note", "Note", note))
    return rows


class _WrappingDelegate(QStyledItemDelegate):
    """Row heights that follow wrapped text: the stock delegate sizes rows for one line."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        tree: QTreeWidget = self.parent()
        width = tree.columnWidth(index.column())
        if index.column() == 0:
            depth = 1 if index.parent().isValid() else 0
            width -= tree.indentation() * (depth + int(tree.rootIsDecorated()))
        option = QStyleOptionViewItem(option)
        option.rect = QRect(0, 0, max(width, 20), 1)  # the style wraps only in a valid rect
        option.features |= QStyleOptionViewItem.ViewItemFeature.WrapText
        return super().sizeHint(option, index)


class MeasurementsPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(2)
        self.tree.setHeaderHidden(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setIndentation(12)
        self.tree.setWordWrap(True)  # long values wrap onto a second line, never elide
        self.tree.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.tree.setUniformRowHeights(False)
        self._delegate = _WrappingDelegate(self.tree)  # kept: its Python override must live
        self.tree.setItemDelegate(self._delegate)
        self.tree.header().setStretchLastSection(True)
        self._add_copy_actions()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree)

    def show_analysis(self, measurements: dict, photo_info: dict | None = None) -> None:
        """``measurements``: Analysis.measurements; ``photo_info``: Photo.describe()."""
        self.clear()
        for prefix, title in GROUPS.items():
            rows = [(key, self._label(key), format_value(key, value))
                    for key, value in measurements.items()
                    if key.split(".")[0] == prefix and key not in SKIPPED
                    and (value is not None or key == "horizon.tilt_deg")]
            if prefix == "horizon" and "horizon.tilt_deg" not in measurements:
                rows.insert(0, ("horizon.tilt_deg", SPECS["horizon.tilt_deg"].label, NO_TILT))
            self._add_group(title, rows)
        if photo_info:
            self._add_group("Camera", camera_rows(photo_info.get("exif") or {}))
            self._add_group("Photo", photo_rows(photo_info))
        self.tree.expandAll()
        self._fit_columns()

    def show_scene(self, scene: Scene) -> None:
        """The scene as the first group (it comes after the measurements: the labels
        may need the classifier loaded)."""
        for group in range(self.tree.topLevelItemCount()):
            if self.tree.topLevelItem(group).text(0) == SCENE_TITLE:
                self.tree.takeTopLevelItem(group)
                break
        group = self._add_group(SCENE_TITLE, scene_rows(scene), at=0)
        if group is not None:
            group.setExpanded(True)
        self._fit_columns()

    def clear(self) -> None:
        self.tree.clear()

    def values(self) -> dict[str, str]:
        """Key ("exposure.highlights_clipped_pct", "camera.camera", ...) -> shown value."""
        out = {}
        for group in range(self.tree.topLevelItemCount()):
            parent = self.tree.topLevelItem(group)
            for row in range(parent.childCount()):
                item = parent.child(row)
                out[item.data(0, KEY_ROLE)] = item.text(1)
        return out

    def plain_text(self, items: list[QTreeWidgetItem] | None = None) -> str:
        """The given rows (all when None) as text: group titles, then "label<TAB>value"."""
        lines = []
        for group in range(self.tree.topLevelItemCount()):
            parent = self.tree.topLevelItem(group)
            children = [parent.child(row) for row in range(parent.childCount())]
            chosen = [c for c in children if items is None or c in items or parent in items]
            if chosen:
                lines.append(parent.text(0))
                lines += [f"{c.text(0)}\t{c.text(1)}" for c in chosen]
        return "\n".join(lines)

    # --- internals -------------------------------------------------------------------
    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_columns()

    def showEvent(self, event) -> None:
        """Rows filled while the tab was hidden were fitted to a hidden view's width."""
        super().showEvent(event)
        self._fit_columns()

    def _fit_columns(self) -> None:
        """Labels get their width up to 55% of the view; values take the rest and wrap."""
        metrics = self.tree.fontMetrics()
        labels = [self.tree.topLevelItem(g).child(r).text(0)
                  for g in range(self.tree.topLevelItemCount())
                  for r in range(self.tree.topLevelItem(g).childCount())]
        wanted = max(map(metrics.horizontalAdvance, labels), default=0) + \
            2 * self.tree.indentation() + 12
        width = min(wanted, int(self.tree.viewport().width() * 0.55))
        if width != self.tree.columnWidth(0):
            self.tree.setColumnWidth(0, width)
        self.tree.doItemsLayout()  # row heights follow the new wrapping

    @staticmethod
    def _label(key: str) -> str:
        spec = SPECS.get(key)
        if spec is None:
            return key
        return spec.label + _LABEL_SCALES.get(spec.unit, "")

    def _add_group(self, title: str, rows: list[tuple[str, str, str]],
                   at: int | None = None) -> QTreeWidgetItem | None:
        if not rows:
            return None
        if at is None:
            group = QTreeWidgetItem(self.tree, [title])
        else:
            group = QTreeWidgetItem([title])
            self.tree.insertTopLevelItem(at, group)
        group.setFirstColumnSpanned(True)
        font = group.font(0)
        font.setBold(True)
        group.setFont(0, font)
        for key, label, value in rows:
            item = QTreeWidgetItem(group, [label, value])
            item.setData(0, KEY_ROLE, key)
            spec = SPECS.get(key)
            tip = f"{value}\n\n{spec.description} ({spec.unit})" if spec else value
            item.setToolTip(0, tip)
            item.setToolTip(1, tip)
        return group

    def _add_copy_actions(self) -> None:
        copy = QAction("Copy", self.tree)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(self.copy_selection)
        copy_all = QAction("Copy all", self.tree)
        copy_all.triggered.connect(
            lambda: QGuiApplication.clipboard().setText(self.plain_text()))
        self.tree.addActions([copy, copy_all])
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

    def copy_selection(self) -> None:
        selected = self.tree.selectedItems()
        if selected:
            QGuiApplication.clipboard().setText(self.plain_text(selected))
