"""Text encoders (toy, MiniLM, CLIP through a tiny random model written here) and the feature cache."""
import json
import threading
import time

import pytest
import torch

from intermask.config import TextConfig
from intermask.errors import InterMaskError
from intermask.text import ToyTextEncoder, load_text_encoder, registry
from intermask.text.cache import TextFeatureCache


# ---------------------------------------------------------------------------------------------------- registry
def test_registry_memoises_per_configuration():
    a = load_text_encoder(TextConfig(encoder="toy", max_words=8))
    assert load_text_encoder(TextConfig(encoder="toy", max_words=8)) is a
    assert load_text_encoder(TextConfig(encoder="toy", max_words=9)) is not a


def test_registry_unknown_encoder_names_the_choices():
    with pytest.raises(InterMaskError, match="minilm"):
        load_text_encoder(TextConfig(encoder="bert"))


def test_registry_loads_once_under_concurrent_first_calls(monkeypatch):
    built = []

    def slow_build(cfg):
        built.append(cfg.encoder)
        time.sleep(0.05)
        return ToyTextEncoder()

    monkeypatch.setattr(registry, "_build", slow_build)
    cfg = TextConfig(encoder="toy", max_words=5)
    registry._memo.pop(registry._key(cfg), None)
    results = []
    threads = [threading.Thread(target=lambda: results.append(registry.load(cfg))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1 and all(r is results[0] for r in results)


# ---------------------------------------------------------------------------------------------------- MiniLM
@pytest.fixture(scope="module")
def minilm():
    return load_text_encoder(TextConfig(encoder="minilm", max_words=16))


def test_minilm_sentence_is_the_sentence_transformers_embedding(minilm):
    from intermask.text.minilm import _load_backend

    texts = ["two people hug slowly", "one person pushes the other", ""]
    feats = minilm.encode(texts)
    reference = torch.as_tensor(_load_backend().encode(texts))
    assert feats.sentence.shape == (3, 384)
    torch.testing.assert_close(feats.sentence, reference, atol=1e-5, rtol=1e-4)


def test_minilm_words_keep_cls_and_sep_and_are_padded(minilm):
    feats = minilm.encode(["hug", "a " * 100, ""])
    assert feats.words.shape == (3, 16, 384) and feats.mask.dtype == torch.bool
    # [CLS] hug [SEP] = 3; a long prompt is cut to max_words; an empty one still has [CLS] [SEP].
    assert feats.mask.sum(1).tolist() == [3, 16, 2]
    assert torch.all(feats.words[0, 3:] == 0) and torch.all(feats.words[0, :3].abs().sum(-1) > 0)
    again = minilm.encode(["hug", "a " * 100, ""])
    assert torch.equal(again.words, feats.words)  # deterministic (eval mode, no dropout)


def test_minilm_static_vectors_tell_left_from_right_where_contextual_ones_barely_do(minilm):
    feats = minilm.encode(["Two persons shake hands with their right hands.",
                           "Two persons shake hands with their left hands."])
    rows = feats.mask[0]
    assert feats.static.shape == feats.words.shape and torch.equal(rows, feats.mask[1])
    static = torch.nn.functional.cosine_similarity(feats.static[0, rows], feats.static[1, rows], dim=-1)
    contextual = torch.nn.functional.cosine_similarity(feats.words[0, rows], feats.words[1, rows], dim=-1)
    side = int(static.argmin())  # the one word piece that differs: the table rows of "right" and "left"
    assert static[side] < 0.6 and contextual[side] > 0.8
    assert torch.allclose(static[torch.arange(len(static)) != side], torch.ones(len(static) - 1))
    assert torch.all(feats.static[0, ~rows] == 0)


def test_minilm_similarity_follows_meaning(minilm):
    s = minilm.encode(["two people hug slowly", "two people embrace gently", "they fight with kicks"]).sentence
    assert (s[0] @ s[1]) > (s[0] @ s[2])


# ---------------------------------------------------------------------------------------------------- CLIP
def _bytes_to_unicode() -> list[str]:
    # CLIP's byte-level BPE alphabet: printable bytes map to themselves, the rest to code points from 256.
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    chars, extra = [], 0
    for b in range(256):
        if b in keep:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


@pytest.fixture(scope="module")
def tiny_clip_dir(tmp_path_factory):
    """A random 2-layer, 32-wide CLIPTextModel plus a BPE tokenizer that knows 'hug' and 'wave'."""
    from transformers import CLIPTextConfig, CLIPTextModel

    d = tmp_path_factory.mktemp("clip")
    chars = _bytes_to_unicode()
    merges = ["h u", "hu g</w>", "w a", "wa v", "wav e</w>"]
    vocab = chars + [c + "</w>" for c in chars] + [m.replace(" ", "") for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    (d / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (d / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    n = len(vocab)
    cfg = CLIPTextConfig(vocab_size=n, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=77, projection_dim=16,
                         bos_token_id=n - 2, eos_token_id=n - 1, pad_token_id=n - 1)
    torch.manual_seed(0)
    CLIPTextModel(cfg).save_pretrained(d)
    return d


def test_clip_from_local_directory(tiny_clip_dir):
    enc = load_text_encoder(TextConfig(encoder="clip", clip_path=str(tiny_clip_dir), max_words=8))
    assert enc.dim == 32
    feats = enc.encode(["hug", "wave hug", ""])
    # SOT hug EOT / SOT wave hug EOT / SOT EOT
    assert feats.mask.sum(1).tolist() == [3, 4, 2]
    assert feats.words.shape == (3, 8, 32) and feats.static.shape == (3, 8, 32)
    # static rows are the token-embedding table's: "hug" is the same vector in both prompts, whatever its context
    torch.testing.assert_close(feats.static[0, 1], feats.static[1, 2])
    assert not torch.allclose(feats.words[0, 1], feats.words[1, 2])
    # The sentence vector is the EOT row (before any projection).
    for i, eot in enumerate([2, 3, 1]):
        torch.testing.assert_close(feats.sentence[i], feats.words[i, eot])
    assert not torch.allclose(feats.sentence[0], feats.sentence[1])


def test_clip_missing_directory_says_where_and_how(tmp_path):
    missing = tmp_path / "no-clip-here"
    with pytest.raises(InterMaskError, match="no-clip-here") as err:
        load_text_encoder(TextConfig(encoder="clip", clip_path=str(missing)))
    assert "save_pretrained" in str(err.value)


def test_clip_hub_id_offline_fails_with_a_message(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InterMaskError, match="checkpoints/clip"):
        load_text_encoder(TextConfig(encoder="clip", clip_path="", clip_hub_id="nobody/no-such-clip-model"))


# ---------------------------------------------------------------------------------------------------- cache
class CountingToy(ToyTextEncoder):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.seen: list[str] = []

    def _encode(self, texts):
        self.seen.extend(texts)
        return super()._encode(texts)


def test_cache_encodes_each_unique_text_once_and_keeps_order():
    enc = CountingToy(dim=8, max_words=6)
    cache = TextFeatureCache(enc)
    texts = ["a hug", "a push", "a hug", "a wave"]
    got = cache.get(texts)
    assert sorted(enc.seen) == ["a hug", "a push", "a wave"]
    cache.get(["a push", "a hug"])
    assert len(enc.seen) == 3  # nothing re-encoded
    direct = ToyTextEncoder(dim=8, max_words=6).encode(texts)
    torch.testing.assert_close(got.sentence, direct.sentence)
    torch.testing.assert_close(got.words, direct.words)
    torch.testing.assert_close(got.static, direct.static)
    assert torch.equal(got.mask, direct.mask)


def test_cache_save_load_roundtrip_and_encoder_check(tmp_path):
    enc = ToyTextEncoder(dim=8, max_words=6)
    cache = TextFeatureCache(enc)
    cache.get(["a hug", "they wave at each other", ""])
    path = tmp_path / "text.safetensors"
    cache.save(path)
    fresh_enc = CountingToy(dim=8, max_words=6)
    fresh = TextFeatureCache(fresh_enc)
    assert fresh.load(path) == 3
    got = fresh.get(["they wave at each other", "a hug", ""])
    assert fresh_enc.seen == []  # all served from the file
    direct = enc.encode(["they wave at each other", "a hug", ""])
    torch.testing.assert_close(got.words, direct.words)
    torch.testing.assert_close(got.static, direct.static)
    with pytest.raises(InterMaskError, match="written by encoder"):
        TextFeatureCache(ToyTextEncoder(dim=8, max_words=7)).load(path)
    assert TextFeatureCache(enc).load(tmp_path / "absent.safetensors") == 0


def test_minilm_encodes_safely_from_several_threads(minilm):
    texts = [f"person {i} waves with the {'left' if i % 2 else 'right'} hand" for i in range(24)]
    expected = minilm.encode(texts).sentence
    results, errors = {}, []

    def work(k):
        try:
            results[k] = minilm.encode(texts[k::4]).sentence
        except Exception as exc:  # collected and asserted below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for k in range(4):
        torch.testing.assert_close(results[k], expected[k::4], atol=1e-5, rtol=1e-4)


def test_clip_loads_the_text_tower_of_a_full_clip_directory(tiny_clip_dir, tmp_path):
    """The hub's openai/clip-* directories hold a whole CLIPModel (vision tower too); only the text part is used."""
    import shutil

    from transformers import CLIPConfig, CLIPModel, CLIPTextConfig

    text_cfg = CLIPTextConfig.from_pretrained(tiny_clip_dir)
    vision = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=32,
                  patch_size=16)
    torch.manual_seed(1)
    full = CLIPModel(CLIPConfig(text_config=text_cfg.to_dict(), vision_config=vision, projection_dim=16))
    full.save_pretrained(tmp_path / "full")
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(tiny_clip_dir / name, tmp_path / "full" / name)
    enc = load_text_encoder(TextConfig(encoder="clip", clip_path=str(tmp_path / "full"), max_words=8))
    ids = enc._tokenizer(["wave hug"], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        expected = full.text_model(input_ids=ids).pooler_output
    torch.testing.assert_close(enc.encode(["wave hug"]).sentence, expected)
    # Config and tokenizer but no weights: a message naming the directory, not a transformers traceback.
    (tmp_path / "noweights").mkdir()
    for name in ("config.json", "vocab.json", "merges.txt"):
        shutil.copy(tmp_path / "full" / name, tmp_path / "noweights" / name)
    with pytest.raises(InterMaskError, match="noweights"):
        load_text_encoder(TextConfig(encoder="clip", clip_path=str(tmp_path / "noweights")))


def test_cache_of_the_previous_format_is_rebuilt_not_trusted(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "old.safetensors"  # the layout before static word vectors: no "static" tensor
    save_file({"sentence": torch.zeros(1, 8), "words": torch.zeros(2, 8), "lengths": torch.tensor([2])}, str(path),
              metadata={"format": "intermask-text-cache-1", "encoder": "toy:d8:w6", "texts": json.dumps(["a hug"])})
    enc = CountingToy(dim=8, max_words=6)
    cache = TextFeatureCache(enc)
    assert cache.load(path) == 0
    assert cache.get(["a hug"]).static.abs().sum() > 0 and enc.seen == ["a hug"]
    cache.save(path)
    assert TextFeatureCache(enc).load(path) == 1
