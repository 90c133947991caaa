"""Platform facts that the grouping strategies branch on."""

from __future__ import annotations

NATIVE_PLATFORMS = frozenset({"objc", "cocoa", "swift", "native", "c"})
JAVASCRIPT_PLATFORMS = frozenset({"javascript", "node"})

# Context lines are hashed only where source is reliably available and of
# good quality. For JavaScript this assumes source maps.
CONTEXT_LINE_PLATFORMS = frozenset({"javascript", "node", "python", "php", "ruby"})


_FAMILIES = {
    **{platform: "native" for platform in NATIVE_PLATFORMS},
    **{platform: "javascript" for platform in JAVASCRIPT_PLATFORMS},
}


def behavior_family(platform: str | None) -> str:
    """Return ``native``, ``javascript`` or ``other``, as enhancement rules see it."""
    return _FAMILIES.get(platform, "other")  # type: ignore[arg-type]


def has_url_origin(path: str | None, *, files_count_as_urls: bool) -> bool:
    """Return whether ``path`` is a URL (http, https, blob, applewebdata).

    ``file:`` paths count as URLs only when ``files_count_as_urls`` is set.
    """
    if not path:
        return False
    if path.startswith(("http:", "https:", "applewebdata:", "blob:")):
        return True
    if path.startswith("file:"):
        return files_count_as_urls
    return False
