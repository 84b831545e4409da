"""Product media through ``productSet``'s ``files`` (``FileSetInput``) and the variants' ``file``.

``files`` is a list field: the product's media become exactly the files given, in order; media left out are
removed from the product (and from the shop when no other product shows them). An entry names an existing
file by ``id`` or a new one by ``originalSource`` (Shopify fetches the URL; the emulator does not, its media
are READY at once). A variant's ``file`` must also be among the product's ``files`` ("Any file specified here
must also be specified in the files input for the product"), matched by ``id`` or ``originalSource``; a
variant given no ``file`` keeps its media while the product still shows it. Only images are modelled.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from urllib.parse import urlsplit

from connector_pipelines.sandbox.shopify_gql import Json
from connector_pipelines.sandbox.shopify_store import MediaImage, Product, ShopState, Variant, gid, next_id

UserError = dict[str, Json]
IMAGE_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".heic": "image/heic",
    ".avif": "image/avif",
}
CODE = "INVALID_INPUT"  # UNVERIFIED: ProductSetUserErrorCode has no media-specific code


def _error(path: list[str], message: str, code: str = CODE) -> UserError:
    return {"field": path, "message": message, "code": code}


@dataclass
class FileSpec:
    """One checked ``FileSetInput``; ``obj`` is its media once applied."""

    existing: MediaImage | None
    source: str | None
    alt: str | None
    filename: str | None
    obj: MediaImage | None = None

    def matches(self, item: dict[str, Json]) -> bool:
        if item.get("id") is not None:
            return self.existing is not None and gid("MediaImage", self.existing.id) == item["id"]
        source = item.get("originalSource")
        return source is not None and source == (self.source or (self.existing and self.existing.source))


def _is_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def mime_type(filename: str) -> str | None:
    return IMAGE_TYPES.get(posixpath.splitext(filename.lower())[1])


def check_files(
    shop: ShopState, inputs: list[dict[str, Json]] | None, path: list[str], errors: list[UserError]
) -> list[FileSpec] | None:
    """The product's files as given (None: ``files`` left out, media unchanged)."""
    if inputs is None:
        return None
    limit = shop.settings.max_media_per_product
    if len(inputs) > limit:
        errors.append(_error(path, f"A product can have at most {limit} media."))
        return None
    specs: list[FileSpec] = []
    for i, item in enumerate(inputs):
        here = [*path, str(i)]
        existing: MediaImage | None = None
        if item.get("id") is not None:
            existing = shop.media_file(item["id"])
            if existing is None:
                errors.append(_error([*here, "id"], "File does not exist.", "NOT_FOUND"))
                continue
        source = item.get("originalSource")
        if existing is None and not source:
            errors.append(_error(here, "Either id or originalSource must be given."))
            continue
        if source is not None and not _is_url(source):
            errors.append(_error([*here, "originalSource"], f"Invalid URL: {source!r}."))
            continue
        content_type = item.get("contentType")
        if content_type not in (None, "IMAGE"):
            # Videos and 3D models need staged uploads and processing the emulator does not model; a generic
            # FILE cannot be product media at all.
            errors.append(
                _error(
                    [*here, "contentType"], f"Content type {content_type} is not supported for product media."
                )
            )
            continue
        specs.append(FileSpec(existing, source, item.get("alt"), item.get("filename")))
    return specs


def check_variant_file(
    item: dict[str, Json] | None, files: list[FileSpec] | None, path: list[str], errors: list[UserError]
) -> FileSpec | None:
    """The product file a variant's ``file`` names (None when it names none)."""
    if item is None:
        return None
    found = next((spec for spec in files or () if spec.matches(item)), None)
    if found is None:
        errors.append(
            _error(path, "The variant's file must also be specified in the files input for the product.")
        )
    return found


def apply_files(shop: ShopState, product: Product, specs: list[FileSpec], now: str) -> None:
    dropped = list(product.media)
    media: list[MediaImage] = []
    for spec in specs:
        image = spec.existing
        if image is None:
            assert spec.source is not None  # checked
            filename = spec.filename or posixpath.basename(urlsplit(spec.source).path) or "image"
            image = MediaImage(next_id(), spec.source, spec.alt or "", filename, now, now)
            shop.files[image.id] = image
        else:
            changed = False
            if spec.source is not None and spec.source != image.source:
                image.source, changed = spec.source, True
            if spec.alt is not None and spec.alt != image.alt:
                image.alt, changed = spec.alt, True
            if spec.filename and spec.filename != image.filename:
                image.filename, changed = spec.filename, True
            if changed:
                image.updated_at = now
        spec.obj = image
        media.append(image)
    product.media = media
    shown = {id(m) for m in media}
    for variant in product.variants:
        variant.media = [m for m in variant.media if id(m) in shown]
    shop.forget_unused_files([m for m in dropped if id(m) not in shown])


def apply_variant_file(variant: Variant, spec: FileSpec) -> None:
    assert spec.obj is not None, "files are applied before variants"
    variant.media = [spec.obj]


def cdn_url(shop: ShopState, image: MediaImage) -> str:
    """Where Shopify's CDN would serve the image (not served by the emulator)."""
    return f"https://cdn.shopify.com/s/files/1/{shop.number}/files/{image.filename}?v={image.id}"


def image_view(shop: ShopState, image: MediaImage) -> dict[str, Json]:
    """``Image`` of a media image (``MediaImage.image``, the deprecated ``featuredImage`` / ``image``)."""
    url = cdn_url(shop, image)
    return {
        "__typename": "Image",
        "id": gid("ImageSource", image.id),
        "altText": image.alt or None,
        "url": url,
        "src": url,
        "originalSrc": url,
        "transformedSrc": url,
        "width": None,  # not fetched, so not known
        "height": None,
        "thumbhash": None,
    }
