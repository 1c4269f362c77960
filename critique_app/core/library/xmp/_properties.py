"""The XMP namespaces and simple properties that the sidecar code reads and writes."""

from __future__ import annotations

XMP_NS = "http://ns.adobe.com/xap/1.0/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
CRITIQUE_NS = "https://github.com/critique-photo/critique/ns/1.0/"
DIGIKAM_NS = "http://www.digikam.org/ns/1.0/"
XML_NS = "http://www.w3.org/XML/1998/namespace"

Property = tuple[str, str]  # (namespace, local name) of a simple XMP property
Changes = dict[Property, str | None]  # what to set; None removes the property

RATING: Property = (XMP_NS, "Rating")  # 1-5 stars, 0 unrated, -1 rejected
RATING_BASIS: Property = (CRITIQUE_NS, "RatingSource")  # what the stars were made from
WRITTEN_RATING: Property = (CRITIQUE_NS, "WrittenRating")
PICK_LABEL: Property = (DIGIKAM_NS, "PickLabel")  # 0 none, 1 rejected, 2 pending, 3 accepted
# A pick or reject that ``critique cull --xmp`` wrote: what wrote it (e.g. "cull") and the
# PickLabel it wrote, so a later cull may replace its own flag and never the photographer's.
FLAG_SOURCE: Property = (CRITIQUE_NS, "FlagSource")
WRITTEN_FLAG: Property = (CRITIQUE_NS, "WrittenFlag")
LABEL: Property = (XMP_NS, "Label")  # a colour label ("Red", ...): Lightroom, digiKam, Bridge
USER_BASIS = "user"  # RatingSource of a rating the photographer set in the app

# The prefix a namespace gets where a sidecar does not bind it yet; only these
# namespaces can be written.
PREFERRED_PREFIX = {XMP_NS: "xmp", CRITIQUE_NS: "critique", DIGIKAM_NS: "digiKam"}
