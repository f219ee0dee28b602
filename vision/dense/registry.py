"""Adding Shijie classes to OpenMMLab registries (mmdet, mmseg) idempotently."""

from __future__ import annotations

from typing import Any

__all__ = ["register_once"]


def register_once(registry: Any, name: str, module: type) -> None:
    """Register ``module`` as ``name``; a second call is a no-op, a different class under that name raises."""
    if registry.get(name) is None:
        registry.register_module(name=name, module=module)
    elif registry.get(name) is not module:
        raise RuntimeError(f"{registry.name} registry already has a different {name!r}: {registry.get(name)}")
