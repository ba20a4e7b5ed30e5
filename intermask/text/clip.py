"""OpenAI CLIP's text tower through ``transformers`` (the ``clip`` package needs torchvision, which cannot
import beside the CPU torch here).

Outputs, as the original InterMask and its word-attention fork use them:
- sentence: the EOT row of the last hidden state after the final LayerNorm, BEFORE ``text_projection``
  (768-d for ViT-L/14). This is ``CLIPTextModel``'s ``pooler_output``.
- words: every token row (SOT, the word pieces, EOT) with the attention mask; padding is masked. Prompts are
  tokenised to 77 tokens with truncation; the first ``max_words`` rows are returned (CLIP's attention is causal,
  so cutting later rows changes nothing in the kept ones);
- static: the same tokens' rows of the token-embedding table (before positions and attention).

``official_tokens`` (the ``clip_official`` encoder, for checkpoints imported from the official code) feeds CLIP as
the official InterMask does: all 77 positions, padded with token id 0 as OpenAI's tokenizer pads (not with EOT as
the transformers tokenizer does), under CLIP's causal mask only. The official text head then attends over all 77
final-LayerNorm rows, padding included, and reads its end-of-text row. That head has no positional encoding and
no mask, so the order of its rows does not matter: the sentence vector is the EOT row, the words are the other 76
rows in order, all marked real, and our head (which reads row 0 = the sentence) computes exactly the official one.

Where the weights come from, in order: ``clip_path`` if set (must exist); else the default local directory
``checkpoints/clip/<hub name>`` in the repository; else the hub id (only works with a network, which a
normal run here does not have). Nothing is downloaded while ``HF_HUB_OFFLINE=1``.
"""
from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import torch

from intermask.errors import InterMaskError
from intermask.text.base import TextEncoder, TextFeatures

REPO_ROOT = Path(__file__).resolve().parents[2]


def default_clip_dir(hub_id: str) -> Path:
    return REPO_ROOT / "checkpoints" / "clip" / hub_id.rstrip("/").split("/")[-1]


def _how_to_get(hub_id: str, target: Path) -> str:
    return (f"On a machine with a network run: python -c \"from transformers import CLIPTextModel, CLIPTokenizer; "
            f"[c.from_pretrained('{hub_id}').save_pretrained('{target}') for c in (CLIPTextModel, CLIPTokenizer)]\" "
            f"and copy that directory here, then pass --clip-path {target} (or use the default MiniLM encoder).")


def _resolve_source(path: str, hub_id: str) -> tuple[str, bool]:
    """Return (where to load from, local_only)."""
    if path:
        p = Path(path).expanduser()
        if not (p / "config.json").is_file():
            raise InterMaskError(f"No CLIP model found in {p} (expected config.json, model weights and tokenizer files "
                                 f"there). {_how_to_get(hub_id or 'openai/clip-vit-large-patch14-336', p)}")
        return str(p), True
    if not hub_id:
        raise InterMaskError("The CLIP text encoder needs either clip_path (a local directory) or clip_hub_id.")
    local = default_clip_dir(hub_id)
    if (local / "config.json").is_file():
        return str(local), True
    # Without a network, huggingface_hub retries every file for minutes; find out first, and then only look in
    # the local Hugging Face cache.
    return hub_id, not _hub_reachable()


def _hub_reachable(timeout: float = 3.0) -> bool:
    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    if any(f not in ("", "0") for f in flags):
        return False
    host = os.environ.get("HF_ENDPOINT", "https://huggingface.co").split("://")[-1].split("/")[0]
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


class CLIPEncoder(TextEncoder):
    name = "clip"

    def __init__(self, path: str = "", hub_id: str = "openai/clip-vit-large-patch14-336", max_words: int = 77,
                 batch_size: int = 32, official_tokens: bool = False):
        self.max_words = max_words
        self.official_tokens = official_tokens
        self.batch_size = batch_size
        self._lock = threading.Lock()
        source, local_only = _resolve_source(path, hub_id)
        from transformers import CLIPTextModel, CLIPTokenizer
        from transformers.utils import logging as hf_logging

        # A full CLIPModel directory (what the hub holds) makes transformers print every unused vision weight;
        # quiet that, and check the one thing that matters ourselves: no text weight may be missing.
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            self._tokenizer = CLIPTokenizer.from_pretrained(source, local_files_only=local_only)
            self._model, info = CLIPTextModel.from_pretrained(source, local_files_only=local_only,
                                                              output_loading_info=True)
        except (OSError, ValueError) as exc:
            looked = Path(source) if Path(source).exists() else default_clip_dir(hub_id)
            raise InterMaskError(f"Could not load the CLIP text model from {source!r} ({type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else ''}); without a network it must be a "
                                 f"local directory. Looked in {looked}. {_how_to_get(hub_id, looked)}") from None
        finally:
            hf_logging.set_verbosity(verbosity)
        missing = list(info.get("missing_keys") or [])
        if missing:
            raise InterMaskError(f"The CLIP model in {source} lacks {len(missing)} text-tower weights (e.g. "
                                 f"{missing[0]}); it is not a CLIP text model checkpoint.")
        self._model.eval()
        for p in self._model.parameters():
            p.requires_grad_(False)
        self.dim = int(self._model.config.hidden_size)
        self._context = int(self._model.config.max_position_embeddings)
        self._source = source
        if official_tokens:
            if max_words != self._context:
                raise InterMaskError(f"The clip_official text encoder feeds all {self._context} CLIP positions; "
                                     f"max_words must be {self._context}, not {max_words}.")
            self.name = "clip_official"

    @property
    def cache_key(self) -> str:
        return f"{self.name}:{self._source}:w{self.max_words}"

    def _encode(self, texts: list[str]) -> TextFeatures:
        if not texts:
            return TextFeatures(torch.zeros(0, self.dim), torch.zeros(0, self.max_words, self.dim),
                                torch.zeros(0, self.max_words, dtype=torch.bool), torch.zeros(0, self.max_words, self.dim))
        # The fast tokenizer is stateful (padding/truncation settings) and raises "Already borrowed" when two
        # threads use it at once; Gradio callbacks run on worker threads, so encoding is serialised.
        with self._lock:
            parts = [self._encode_batch(texts[i:i + self.batch_size])
                     for i in range(0, len(texts), self.batch_size)]
        return TextFeatures.cat(parts)

    def _encode_batch(self, texts: list[str]) -> TextFeatures:
        if self.official_tokens:
            return self._encode_official(texts)
        tok = self._tokenizer(texts, padding=True, truncation=True, max_length=self._context, return_tensors="pt")
        with torch.no_grad():
            out = self._model(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"])
            table = self._model.get_input_embeddings()(tok["input_ids"])
        return TextFeatures.from_tokens(out.pooler_output.float(), out.last_hidden_state, table,
                                        tok["attention_mask"], self.max_words)

    def _encode_official(self, texts: list[str]) -> TextFeatures:
        rows = self._tokenizer(texts, truncation=True, max_length=self._context)["input_ids"]
        ids = torch.zeros(len(rows), self._context, dtype=torch.long)  # OpenAI's tokenizer pads with id 0
        for i, row in enumerate(rows):
            ids[i, :len(row)] = torch.as_tensor(row)
        with torch.no_grad():
            hidden = self._model(input_ids=ids).last_hidden_state.float()
            table = self._model.get_input_embeddings()(ids).float()
        positions = torch.arange(self._context)
        eot = torch.tensor([len(row) - 1 for row in rows])
        # every position but the EOT one, in order: (B, 76)
        others = positions[None].expand(len(rows), -1)[positions[None] != eot[:, None]].view(len(rows), -1)
        pick = others[..., None].expand(-1, -1, hidden.shape[-1])
        sentence = hidden[torch.arange(len(rows)), eot]
        mask = torch.ones(others.shape, dtype=torch.bool)
        return TextFeatures(sentence, hidden.gather(1, pick), mask, table.gather(1, pick))
