"""Tiny random Stable Diffusion components and an offline CLIP tokenizer, for tests, benchmarks and smoke runs.

No weights are downloaded: the tokenizer vocabulary is rebuilt from the CLIP BPE file that open_clip ships inside its
package, and every network has random weights.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import torch

CLIP_CONTEXT = 77


def _byte_unicode_alphabet() -> list[str]:
    """The 256 printable stand-ins CLIP's byte-level BPE uses for raw bytes, in vocabulary order."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    others = [b for b in range(256) if b not in printable]
    # printable bytes stand for themselves; the rest map to 256, 257, ... in byte order
    return [chr(b) for b in printable] + [chr(256 + i) for i in range(len(others))]


def write_clip_tokenizer_files(out_dir: str | Path) -> Path:
    """Write ``vocab.json`` and ``merges.txt`` of the CLIP tokenizer (49408 tokens) into ``out_dir``.

    Why: transformers' ``CLIPTokenizer`` needs these two files and the hub is off-limits; open_clip's package holds
    the same BPE merges, from which the vocabulary follows (bytes, bytes + ``</w>``, merges, two special tokens).
    """
    import open_clip

    bpe_path = Path(open_clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz"
    lines = gzip.open(bpe_path, "rt", encoding="utf-8").read().split("\n")
    merges = lines[1 : 49152 - 256 - 2 + 1]
    alphabet = _byte_unicode_alphabet()
    tokens = alphabet + [a + "</w>" for a in alphabet] + ["".join(m.split()) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}, ensure_ascii=False))
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    return out


def build_clip_tokenizer(work_dir: str | Path):
    """An offline ``transformers.CLIPTokenizer`` with CLIP's real vocabulary and a 77-token context."""
    from transformers import CLIPTokenizer

    folder = write_clip_tokenizer_files(work_dir)
    return CLIPTokenizer(
        vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"), model_max_length=CLIP_CONTEXT
    )


def _random_sd_components(work_dir: str | Path, seed: int, unet: dict, vae: dict, text: dict) -> dict:
    """Random SD v1-layout ``unet``, ``vae`` and ``text_encoder`` of the given sizes, with CLIP's real tokenizer and
    SD's DDIM ``scheduler``."""
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**unet)
    with torch.no_grad():  # a small, smooth noise prediction, as a trained UNet's, keeps DDIM inversion well posed
        unet.conv_out.weight.mul_(0.1)
        unet.conv_out.bias.mul_(0.1)
    vae = AutoencoderKL(
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        **vae,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=49408,
            max_position_embeddings=CLIP_CONTEXT,
            bos_token_id=49406,
            eos_token_id=49407,
            pad_token_id=49407,
            **text,
        )
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    tokenizer = build_clip_tokenizer(Path(work_dir) / "tokenizer_src")
    for module in (unet, vae, text_encoder):
        module.eval().requires_grad_(False)
    return dict(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler)


def build_tiny_components(work_dir: str | Path, seed: int = 0, cross_attention_dim: int = 32) -> dict:
    """Random tiny ``unet``, ``vae``, ``text_encoder``, ``tokenizer`` and DDIM ``scheduler`` (SD v1 layout).

    The UNet keeps Stable Diffusion's structure that vid2vid-zero depends on: cross-attention down blocks, a
    cross-attention mid block, and ``up_blocks[1]`` with attention (the official dense layer): two down/up levels
    put the dense layer at ``up_blocks[1]``, the only attention up block, as in SD.
    """
    unet = dict(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=8,
        norm_num_groups=8,
    )
    vae = dict(
        in_channels=3,
        out_channels=3,
        block_out_channels=(8,) * 4,
        norm_num_groups=4,
        layers_per_block=1,
        sample_size=64,
    )
    text = dict(hidden_size=cross_attention_dim, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
    return _random_sd_components(work_dir, seed, unet, vae, text)


def build_sd15_components(work_dir: str | Path, seed: int = 0) -> dict:
    """Random components in Stable Diffusion v1.5's architecture (860M-parameter UNet, its VAE, CLIP ViT-L text
    encoder), for benchmarks whose cost profile must be the real model's: the tiny UNet's 2-wide attention heads make
    attention far costlier relative to its convolutions than in SD."""
    unet = dict(cross_attention_dim=768)  # diffusers' defaults are SD v1's UNet but for this
    vae = dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2, sample_size=512)
    text = dict(
        hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12, hidden_act="quick_gelu"
    )
    return _random_sd_components(work_dir, seed, unet, vae, text)


def save_tiny_model(out_dir: str | Path, seed: int = 0, architecture: str = "tiny") -> Path:
    """Save random components as a diffusers-format Stable Diffusion folder (one subfolder per component);
    ``architecture`` is ``tiny`` or ``sd15`` (:func:`build_sd15_components`)."""
    builders = {"tiny": build_tiny_components, "sd15": build_sd15_components}
    if architecture not in builders:
        raise ValueError(f"architecture must be one of {sorted(builders)}, got {architecture!r}")
    out = Path(out_dir)
    components = builders[architecture](out / ".build", seed=seed)
    for name, component in components.items():
        component.save_pretrained(out / name)
    libraries = {k: [type(v).__module__.split(".")[0], type(v).__name__] for k, v in components.items()}
    model_index = {"_class_name": "StableDiffusionPipeline", **libraries}
    (out / "model_index.json").write_text(json.dumps(model_index, indent=2))
    return out
