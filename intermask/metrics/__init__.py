"""Evaluation metrics: text-motion retrieval and distribution metrics (``retrieval``), control accuracy from
InterSynth labels (``control``) and physical plausibility (``physics``). DESIGN.md names one ``metrics.py``; it is
a package here because the three families share nothing but their inputs."""
