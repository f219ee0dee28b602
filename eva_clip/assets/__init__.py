"""Text lists shipped with EVA-CLIP (see README.md in this folder for sources and licences)."""
