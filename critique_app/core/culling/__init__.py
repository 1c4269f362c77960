"""Culling a shoot: frames of the same moment grouped, the best of each picked, blinks and
missed focus flagged. Facts per photo (``facts``, ``runner``), groups (``grouping``),
ranks and flags (``ranking``), the whole folder (``cull``)."""
