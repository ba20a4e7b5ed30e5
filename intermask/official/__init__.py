"""Import the official InterMask checkpoints (``python -m intermask import-official``).

- :mod:`.opt_file` reads an official ``opt.txt`` and turns a VQ + transformer pair into a :class:`ModelConfig`;
- :mod:`.keys` renames the official state dicts into ours, consuming every key and filling every parameter;
- :mod:`.importer` loads the ``.tar`` files (weights only), checks them and writes our checkpoint directories;
- :mod:`.clip_format` converts OpenAI-layout CLIP text weights and BPE merges to a ``transformers`` directory;
- :mod:`.parity` runs the official modules from a clone of the official repository beside ours
  (``--check-against``).
"""
