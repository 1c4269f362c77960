"""Pretrained score models users pull from the internet (LAION aesthetic v2, NIMA on AVA).

Each is a network written here (with transformers or timm) that loads the published
weights strictly; :mod:`.registry` maps a manifest ``architecture`` to its loader.
"""
