"""The preview gallery: every email the templates make, for marketers to look at before a deploy.

A local tool (``make preview``, ``make preview-check``), not part of the Lambda layer: it renders with
the layer's own pipeline functions from the repository's sample data, with no AWS at all, and checks
the result in a real browser (``preview.browser``).
"""

from preview.emails import Combination, PreviewEmail
from preview.gallery import GalleryError, build, render_gallery

__all__ = ["Combination", "GalleryError", "PreviewEmail", "build", "render_gallery"]
