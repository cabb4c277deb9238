"""Ground Truth's limits (spec §1), defined once. Data over them is refused by GT, so tuilabel
reports it (check), refuses to decode it (preview, sources) or sets the line aside (manifest)."""

MAX_IMAGE_BYTES = 40 * 1024 * 1024  # 40 MB per image
MAX_IMAGE_PIXELS = 100_000_000  # 100 megapixels
MAX_LINE_CHARS = 100_000  # one manifest line
MAX_ATTRIBUTE_CHARS = 20_000  # one attribute value of a manifest line
IMAGE_FORMATS = ("JPEG", "PNG")  # what GT's image tasks take
MAX_LABEL_CHARS = 256  # one label name
