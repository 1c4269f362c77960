"""Star ratings in XMP sidecars, for Lightroom Classic, darktable and digiKam.

Sidecars (policy, see :func:`sidecar_paths`):

* ``IMG_1.CR2.xmp`` (``<name>.<ext>.xmp``) is read by darktable and digiKam and is
  always written or updated.
* ``IMG_1.xmp`` (``<stem>.xmp``) is what Lightroom reads, and only for RAW files (for
  JPEG/TIFF/PNG it reads the metadata embedded in the photo, which we never touch). It
  is written for RAW photos, and updated for any photo where it already exists, unless
  another photo in the folder shares the stem (RAW+JPEG pairs): then it could belong to
  that file too, so it is left alone and the skip is reported.

Existing sidecars are edited as text, rating only: every other byte stays as it was,
because re-serialising (ElementTree) renames namespace prefixes and drops formatting
that darktable and Lightroom rely on. The edit is checked by parsing the result with
defusedxml; user files are never read with the plain XML parsers.

Ratings we write carry ``critique:RatingSource`` (and ``critique:WrittenRating``) on the
same ``rdf:Description``. A non-zero rating without that marker, one that no longer
equals what we wrote, or one marked ``critique:RatingSource="user"`` (set in the app by
the photographer, see :mod:`critique_app.core.library.ratings`) was set by the photographer and
is kept unless the caller asks to overwrite it; so is a digiKam pick or reject flag
(``digiKam:PickLabel`` 3 or 1), the photographer's judgement of the photo.

``critique cull --xmp`` marks each group's best as a pick (``PickLabel="3"``) and, when
asked, the others as rejected (``PickLabel="1"`` and ``xmp:Rating="-1"``) with
:func:`write_cull_flag`; those carry ``critique:FlagSource``/``critique:WrittenFlag``, so
a later cull replaces its own flags but never the photographer's stars, pick or reject.

:func:`update_sidecars` is the general edit underneath: any simple properties set or
removed, with the same byte-preserving, checked, atomic writes.

This module is the public face; each job lives in a private module:

* ``_properties``: the namespaces and properties read and written;
* ``_sidecar_files``: which sidecar files a photo has or gets;
* ``_reading``: parsing (defusedxml only) and reading property values;
* ``_embedded``: the XMP packet inside the photo itself (JPEG, TIFF/DNG, PNG, WebP,
  HEIF), found by reading the container, never the pixels; read only, never written;
* ``_manual_ratings``: the rule protecting the photographer's own ratings;
* ``_xml_tags`` and ``_text_editor``: the byte-preserving edit, and a new sidecar's text;
* ``_edit_check``: the check each edit passes before it is written;
* ``_writing``: one sidecar's atomic write (through :mod:`critique_app.core.util.files`);
* ``_updates``: read all of a photo's sidecars, edit and check all, then write each;
* ``_star_ratings``: stars from scores, and :func:`write_rating`;
* ``_cull_flags``: a cull's pick or reject, and :func:`write_cull_flag`.
"""

from __future__ import annotations

from critique_app.core.library.xmp._cull_flags import CullFlag, write_cull_flag
from critique_app.core.library.xmp._embedded import (
    MAX_PACKET_BYTES,
    EmbeddedXmp,
    read_embedded_xmp,
)
from critique_app.core.library.xmp._manual_ratings import holds_cull_flag, judged_by_photographer
from critique_app.core.library.xmp._properties import (
    CRITIQUE_NS,
    FLAG_SOURCE,
    LABEL,
    PICK_LABEL,
    RATING,
    RATING_BASIS,
    USER_BASIS,
    WRITTEN_FLAG,
    WRITTEN_RATING,
    XMP_NS,
    Changes,
    Property,
)
from critique_app.core.library.xmp._reading import (
    Sidecar,
    read_pick_label,
    read_rating,
    read_sidecar,
)
from critique_app.core.library.xmp._sidecar_files import (
    FolderListing,
    folder_listing,
    listing_once,
    sidecar_paths,
)
from critique_app.core.library.xmp._star_ratings import (
    stars_from_mean,
    stars_from_percentile,
    write_rating,
)
from critique_app.core.library.xmp._updates import SidecarResult, update_sidecars

__all__ = [
    "CRITIQUE_NS",
    "FLAG_SOURCE",
    "LABEL",
    "MAX_PACKET_BYTES",
    "PICK_LABEL",
    "RATING",
    "RATING_BASIS",
    "USER_BASIS",
    "WRITTEN_FLAG",
    "WRITTEN_RATING",
    "XMP_NS",
    "Changes",
    "CullFlag",
    "EmbeddedXmp",
    "FolderListing",
    "Property",
    "Sidecar",
    "SidecarResult",
    "folder_listing",
    "holds_cull_flag",
    "judged_by_photographer",
    "listing_once",
    "read_embedded_xmp",
    "read_pick_label",
    "read_rating",
    "read_sidecar",
    "sidecar_paths",
    "stars_from_mean",
    "stars_from_percentile",
    "update_sidecars",
    "write_cull_flag",
    "write_rating",
]
