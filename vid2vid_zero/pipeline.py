"""``Vid2VidZeroPipeline``: invert a clip once, then edit it towards target prompts with cross-frame attention.

Components come from a local Stable Diffusion folder in diffusers format (or one ``.safetensors`` file plus a local
config folder); the UNet is diffusers' own, its attention layers get :mod:`~vid2vid_zero.attention_processors`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from .attention_processors import VideoAttentionState, install_video_processors
from .inversion import DDIMSchedule, ddim_invert, ddim_move, null_text_optimise, uses_null_embedding
from .prompt_to_prompt import AttentionController

COMPONENTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
_CONFIG_FILES = {
    "unet": "config.json",
    "vae": "config.json",
    "text_encoder": "config.json",
    "scheduler": "scheduler_config.json",
    "tokenizer": "tokenizer_config.json",
}
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class Inversion:
    """What a second edit of the same clip reuses: ``latents`` z_0 ``(F, C, h, w)``, ``noise`` z_T and the optimised
    null embeddings ``(T, L, D)`` (``None`` without null-text inversion)."""

    latents: torch.Tensor
    noise: torch.Tensor
    null_embeddings: torch.Tensor | None


@dataclass
class SourcePass:
    """The source half of an edit, which no target prompt changes: ``latents[i]`` ``(F, C, h, w)`` enters step ``i``.

    An edit runs the source prompt beside the target only so the controller can copy its attention. Once these
    latents are known, later edits of the clip skip the source's unconditional branch. ``settings`` holds what the
    latents depend on beyond the inversion; reusing them under other settings raises.
    """

    settings: dict
    latents: list[torch.Tensor]


def _check_null_embeddings(null_embeddings: torch.Tensor | None, num_steps: int) -> None:
    if null_embeddings is not None and len(null_embeddings) != num_steps:
        raise ValueError(f"{len(null_embeddings)} null embeddings for {num_steps} steps; invert with num_steps")


def check_model_folder(path: str | Path) -> Path:
    """Raise a clear error when a diffusers-format folder lacks a component or its config."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"model folder not found: {path}")
    missing = [f"{c}/{_CONFIG_FILES[c]}" for c in COMPONENTS if not (path / c / _CONFIG_FILES[c]).is_file()]
    if missing:
        raise FileNotFoundError(f"model folder {path} is missing component files: {', '.join(missing)}")
    return path


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    return DTYPES[dtype]


class Vid2VidZeroPipeline:
    """Zero-shot video editing: DDIM + null-text inversion, then prompt-to-prompt editing with cross-frame attention.

    ``dense_block_idx`` is the official ``st_attn_idx`` (``None`` disables dense layers); ``use_cross_frame=False``
    edits every frame independently; ``chunk_frames`` bounds the dense layers' memory.
    """

    def __init__(
        self,
        unet,
        vae,
        text_encoder,
        tokenizer,
        scheduler,
        device: str | torch.device = "cpu",
        dtype: str | torch.dtype = torch.float32,
        dense_block_idx: int | None = 0,
        use_cross_frame: bool = True,
        chunk_frames: int | None = 4,
    ):
        self.device, self.dtype = torch.device(device), resolve_dtype(dtype)
        self.unet, self.vae, self.text_encoder = (self._place(m) for m in (unet, vae, text_encoder))
        self.tokenizer, self.scheduler = tokenizer, scheduler
        self.state = VideoAttentionState()
        install_video_processors(self.unet, self.state, dense_block_idx, use_cross_frame, chunk_frames)
        self.scale_factor = 2 ** (len(vae.config.block_out_channels) - 1)
        self.latent_scale = float(getattr(vae.config, "scaling_factor", 0.18215))

    def _place(self, module):
        """Frozen, in eval mode, on the pipeline device and dtype (cast only when needed: diffusers warns on casts)."""
        if module.dtype != self.dtype:
            module = module.to(dtype=self.dtype)
        return module.to(self.device).eval().requires_grad_(False)

    @classmethod
    def from_pretrained(
        cls, path: str | Path, device: str | torch.device = "cpu", dtype: str | torch.dtype = "float32", **kwargs
    ) -> Vid2VidZeroPipeline:
        """Load from a diffusers-format folder, or a single ``.safetensors`` checkpoint (needs ``config=FOLDER`` of a
        matching diffusers model, since nothing is downloaded)."""
        from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
        from transformers import CLIPTextModel, CLIPTokenizer

        path = Path(path)
        torch_dtype = resolve_dtype(dtype)
        if path.suffix == ".safetensors":
            return cls._from_single_file(path, device, torch_dtype, **kwargs)
        check_model_folder(path)
        return cls(
            unet=UNet2DConditionModel.from_pretrained(path, subfolder="unet", torch_dtype=torch_dtype),
            vae=AutoencoderKL.from_pretrained(path, subfolder="vae", torch_dtype=torch_dtype),
            text_encoder=CLIPTextModel.from_pretrained(path, subfolder="text_encoder", torch_dtype=torch_dtype),
            tokenizer=CLIPTokenizer.from_pretrained(path, subfolder="tokenizer"),
            scheduler=DDIMScheduler.from_pretrained(path, subfolder="scheduler"),
            device=device,
            dtype=torch_dtype,
            **kwargs,
        )

    @classmethod
    def _from_single_file(cls, path: Path, device, dtype: torch.dtype, config: str | None = None, **kwargs):
        from diffusers import DDIMScheduler, StableDiffusionPipeline

        if not path.is_file():
            raise FileNotFoundError(f"checkpoint not found: {path}")
        if config is None:
            raise ValueError(
                "a single .safetensors file needs config=FOLDER: a local diffusers-format Stable Diffusion folder of "
                "the same architecture (its configs are read; nothing is downloaded)"
            )
        sd = StableDiffusionPipeline.from_single_file(
            str(path), config=str(config), local_files_only=True, torch_dtype=dtype, safety_checker=None
        )
        return cls(
            unet=sd.unet,
            vae=sd.vae,
            text_encoder=sd.text_encoder,
            tokenizer=sd.tokenizer,
            scheduler=DDIMScheduler.from_config(sd.scheduler.config),
            device=device,
            dtype=dtype,
            **kwargs,
        )

    # ----- inputs -----
    @property
    def context_length(self) -> int:
        return int(self.tokenizer.model_max_length)

    def check_prompts(self, prompts: list[str]) -> None:
        """Raise when a prompt tokenises longer than the text encoder's context (the official code truncates)."""
        for prompt in prompts:
            if not isinstance(prompt, str):
                raise TypeError(f"prompts must be strings, got {type(prompt).__name__}")
            n = len(self.tokenizer(prompt).input_ids)
            if n > self.context_length:
                raise ValueError(
                    f"prompt tokenises to {n} tokens, longer than the {self.context_length}-token context: {prompt!r}"
                )

    def check_size(self, height: int, width: int) -> None:
        if height % 8 or width % 8 or height % self.scale_factor or width % self.scale_factor:
            raise ValueError(
                f"height and width must be divisible by 8 and by the VAE factor {self.scale_factor}, "
                f"got {height}x{width}"
            )

    @torch.no_grad()
    def encode_prompts(self, prompts: list[str]) -> torch.Tensor:
        """(P, L, D) text embeddings, padded to the context length."""
        self.check_prompts(prompts)
        ids = self.tokenizer(
            prompts, padding="max_length", max_length=self.context_length, truncation=True, return_tensors="pt"
        ).input_ids
        return self.text_encoder(ids.to(self.device))[0]

    @torch.no_grad()
    def encode_video(self, frames: torch.Tensor) -> torch.Tensor:
        """(F, 3, H, W) in [0, 1] -> latents (F, C, H/8, W/8), frame by frame (posterior mean, so deterministic)."""
        self.check_size(*frames.shape[-2:])
        latents = []
        for frame in frames:
            pixels = (frame[None] * 2 - 1).to(self.device, self.dtype)
            latents.append(self.vae.encode(pixels).latent_dist.mean * self.latent_scale)
        return torch.cat(latents)

    @torch.no_grad()
    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """latents (F, C, h, w) -> frames (F, 3, H, W) in [0, 1], frame by frame."""
        frames = [self.vae.decode(z[None] / self.latent_scale).sample for z in latents.to(self.dtype)]
        return (torch.cat(frames).float() / 2 + 0.5).clamp(0, 1).cpu()

    # ----- UNet calls -----
    def _unet(self, latents: torch.Tensor, t, embeddings: torch.Tensor, groups: int) -> torch.Tensor:
        """latents (G*F, C, h, w), embeddings (G, L, D) -> model output (G*F, C, h, w); frames share their group's."""
        frames = latents.shape[0] // groups
        self.state.num_frames = frames
        context = embeddings.repeat_interleave(frames, dim=0)
        return self.unet(latents, t, encoder_hidden_states=context).sample

    def _per_frame_fn(self):
        """unet_fn for inversion: one clip, ordinary per-frame attention (the official ``normal_infer``)."""

        def fn(latents, t, embedding):
            self.state.cross_frame, self.state.controller = False, None
            return self._unet(latents, t, embedding, groups=1)

        return fn

    # ----- inversion and editing -----
    def invert(
        self,
        latents: torch.Tensor,
        source_prompt: str,
        num_steps: int = 50,
        guidance_scale: float = 7.5,
        use_null_inv: bool = True,
        null_inner_steps: int = 1,
        null_base_lr: float = 1e-2,
        null_early_stop_eps: float = 1e-5,
        progress: Progress | None = None,
    ) -> Inversion:
        """DDIM inversion with the empty prompt, then (optionally) null-text optimisation against the source prompt."""
        schedule = DDIMSchedule.from_scheduler(self.scheduler, num_steps)
        empty, cond = self.encode_prompts(["", source_prompt]).split(1)
        fn = self._per_frame_fn()
        trajectory = ddim_invert(
            fn,
            latents.to(self.device, self.dtype),
            empty,
            schedule,
            progress=None if progress is None else (lambda i: progress("ddim inversion", i + 1, num_steps)),
        )
        null = None
        if use_null_inv:
            null = null_text_optimise(
                fn,
                trajectory,
                empty,
                cond,
                schedule,
                guidance_scale=guidance_scale,
                inner_steps=null_inner_steps,
                base_lr=null_base_lr,
                early_stop_eps=null_early_stop_eps,
                progress=None if progress is None else (lambda i: progress("null-text optimisation", i + 1, num_steps)),
            )
        return Inversion(latents=trajectory[0], noise=trajectory[-1], null_embeddings=null)

    @torch.no_grad()
    def denoise(
        self,
        noise: torch.Tensor,
        prompts: list[str],
        null_embeddings: torch.Tensor | None = None,
        num_steps: int = 50,
        guidance_scale: float = 7.5,
        null_uncond_ratio: float = -0.5,
        controller: AttentionController | None = None,
        cross_frame: bool = True,
        progress: Progress | None = None,
    ) -> torch.Tensor:
        """Guided DDIM from ``noise`` (F, C, h, w) for each prompt; returns latents (P, F, C, h, w).

        The unconditional branch uses ``null_embeddings[i]`` on the steps ``null_uncond_ratio`` selects and the empty
        prompt elsewhere.
        """
        _check_null_embeddings(null_embeddings, num_steps)
        schedule = DDIMSchedule.from_scheduler(self.scheduler, num_steps)
        embeddings = self.encode_prompts(["", *prompts])
        empty, cond = embeddings[:1], embeddings[1:]
        num_prompts = len(prompts)
        latents = noise.to(self.device, self.dtype).repeat(num_prompts, 1, 1, 1)  # (P*F, C, h, w)
        self.state.cross_frame, self.state.controller = cross_frame, controller
        try:
            for i, t in enumerate(schedule.timesteps):
                use_null = null_embeddings is not None and uses_null_embedding(i, num_steps, null_uncond_ratio)
                uncond = null_embeddings[i : i + 1].to(self.device, self.dtype) if use_null else empty
                context = torch.cat([uncond.expand(num_prompts, -1, -1), cond])  # (2P, L, D)
                self.state.step = i
                out = self._unet(torch.cat([latents, latents]), t, context, groups=2 * num_prompts)
                out_uncond, out_cond = out.chunk(2)
                output = out_uncond + guidance_scale * (out_cond - out_uncond)
                latents = ddim_move(
                    latents,
                    output,
                    schedule.alpha(int(t)),
                    schedule.alpha(schedule.previous(i)),
                    schedule.prediction_type,
                )
                if progress is not None:
                    progress("editing", i + 1, num_steps)
        finally:
            self.state.controller = None
        return latents.unflatten(0, (num_prompts, -1))

    def edit(
        self,
        inversion: Inversion,
        source_prompt: str,
        target_prompt: str,
        num_steps: int = 50,
        guidance_scale: float = 7.5,
        null_uncond_ratio: float = -0.5,
        cross_replace_steps: float = 0.8,
        self_replace_steps: float = 0.4,
        reweight: dict[str, float] | None = None,
        official_quirks: bool = False,
        source_pass: SourcePass | None = None,
        progress: Progress | None = None,
    ) -> torch.Tensor:
        """Edit the inverted clip towards ``target_prompt``; returns edited frames (F, 3, H, W) in [0, 1].

        Pass the same ``source_pass`` (start with :meth:`new_source_pass`) to every edit of one inversion: each edit
        reads the source latents it needs from it and adds the ones it computes.
        """
        controller = AttentionController(
            self.tokenizer,
            source_prompt,
            target_prompt,
            num_steps,
            cross_replace_steps=cross_replace_steps,
            self_replace_steps=self_replace_steps,
            reweight=reweight,
            official_quirks=official_quirks,
            context=self.context_length,
        )
        settings = self._source_settings(source_prompt, num_steps, guidance_scale, null_uncond_ratio)
        if source_pass is None:
            source_pass = self.new_source_pass(inversion, source_prompt, num_steps, guidance_scale, null_uncond_ratio)
        elif source_pass.settings != settings:
            raise ValueError(f"source pass made with {source_pass.settings}, but this edit uses {settings}")
        elif not torch.equal(source_pass.latents[0], inversion.noise.to(self.device, self.dtype)):
            raise ValueError("source pass starts from another inversion's noise; make one per inversion")
        return self.decode_latents(self._edit_latents(inversion, target_prompt, controller, source_pass, progress))

    def _source_settings(
        self, source_prompt: str, num_steps: int, guidance_scale: float, null_uncond_ratio: float
    ) -> dict:
        return {
            "source_prompt": source_prompt,
            "num_steps": num_steps,
            "guidance_scale": float(guidance_scale),
            "null_uncond_ratio": float(null_uncond_ratio),
        }

    def new_source_pass(
        self,
        inversion: Inversion,
        source_prompt: str,
        num_steps: int = 50,
        guidance_scale: float = 7.5,
        null_uncond_ratio: float = -0.5,
    ) -> SourcePass:
        """An empty :class:`SourcePass` for edits of ``inversion`` with these settings (it starts at z_T)."""
        settings = self._source_settings(source_prompt, num_steps, guidance_scale, null_uncond_ratio)
        return SourcePass(settings, [inversion.noise.to(self.device, self.dtype)])

    @torch.no_grad()
    def _edit_latents(
        self,
        inversion: Inversion,
        target_prompt: str,
        controller: AttentionController,
        source_pass: SourcePass,
        progress: Progress | None,
    ) -> torch.Tensor:
        """Guided DDIM of the target with the source beside it while the controller copies the source's attention.

        Per step the UNet sees the groups ``[source uncond], target uncond, [source cond], target cond`` (conditional
        source second to last, as the controller expects): the source's conditional branch only while the controller
        acts, its unconditional branch only when the next source latent is not yet in ``source_pass``. The target
        follows exactly the trajectory of the full four-branch edit.
        """
        null, settings = inversion.null_embeddings, source_pass.settings
        num_steps, guidance_scale = settings["num_steps"], settings["guidance_scale"]
        _check_null_embeddings(null, num_steps)
        schedule = DDIMSchedule.from_scheduler(self.scheduler, num_steps)
        empty, source, target_cond = self.encode_prompts(["", settings["source_prompt"], target_prompt]).split(1)
        known = source_pass.latents
        target = known[0]
        window = controller.active_steps
        self.state.cross_frame, self.state.controller = True, controller
        try:
            for i, t in enumerate(schedule.timesteps):
                use_null = null is not None and uses_null_embedding(i, num_steps, settings["null_uncond_ratio"])
                uncond = null[i : i + 1].to(self.device, self.dtype) if use_null else empty
                with_source = i < window
                source_uncond = with_source and i + 1 < window and len(known) <= i + 1
                groups = [(known[i], uncond)] if source_uncond else []
                groups.append((target, uncond))
                groups += [(known[i], source)] if with_source else []
                groups.append((target, target_cond))
                self.state.step = i
                latents, context = (torch.cat(x) for x in zip(*groups))
                out = self._unet(latents, t, context, groups=len(groups)).chunk(len(groups))
                alphas = schedule.alpha(int(t)), schedule.alpha(schedule.previous(i))
                guided = out[int(source_uncond)] + guidance_scale * (out[-1] - out[int(source_uncond)])
                target = ddim_move(target, guided, *alphas, schedule.prediction_type)
                if source_uncond:
                    guided = out[0] + guidance_scale * (out[-2] - out[0])
                    known.append(ddim_move(known[i], guided, *alphas, schedule.prediction_type))
                if progress is not None:
                    progress("editing", i + 1, num_steps)
        finally:
            self.state.controller = None
        return target
