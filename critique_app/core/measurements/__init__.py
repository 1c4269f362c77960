"""Measured facts the critique cites; each key's unit and meaning live in ``spec``."""

from __future__ import annotations

from critique_app.core.measurements.spec import SPECS, Spec, unit_of

__all__ = ["SPECS", "Spec", "unit_of", "with_units"]


def with_units(values: dict) -> dict:
    """{"exposure.mean_luminance": 0.4, ...} -> {"exposure": {"mean_luminance": {value, unit}}}."""
    grouped: dict[str, dict] = {}
    for key, value in values.items():
        section, name = key.split(".", 1)
        grouped.setdefault(section, {})[name] = {"value": value, "unit": unit_of(key)}
    return grouped

