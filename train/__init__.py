"""Fine-tuning Critique's models (runs as its own process: ``python -m train``).

The training tasks arrive with issue 6; this package is the place they live,
kept outside ``critique_app`` so the app never imports training code.
"""
