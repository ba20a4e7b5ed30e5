"""Evaluation metrics: text-motion retrieval and distribution metrics (``retrieval``), control accuracy from
InterSynth labels (``control``) and physical plausibility (``physics``): three modules, because the families
share nothing but their inputs. Protocol notes: docs/design-notes.md, "Evaluation"."""
