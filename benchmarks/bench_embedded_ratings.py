"""Reading every photo's embedded rating vs. merely listing the folder.

Makes a folder of ``--count`` photos (copies of real test photos: JPEG, PNG, TIFF, WebP
and HEIC, each with a rating embedded in its own XMP, by exiftool when it is installed,
else by hand for the JPEG and PNG alone), then times, in this same run:

(a) listing the folder: ``os.scandir`` and a ``stat`` of each entry (the baseline);
(b) reading each photo's embedded XMP (``read_embedded_xmp``: container bytes only);
(c) reading each photo's whole rating as the app does (``read_ratings``: its sidecars'
    names from the folder listing, any sidecar, and the embedded packet).

Prints each time and its ratio to (a). The files were just written, so the page cache is
warm; on a cold spinning disk both (a) and (b) pay a seek per file. Pixels are never
decoded: a pixel load fails the run.

    python benchmarks/bench_embedded_ratings.py [--count 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import struct
import subprocess
import tempfile
import time
import zlib
from pathlib import Path

from PIL import Image, ImageFile

from critique_app.core.library.finding import find_photos
from critique_app.core.library.ratings import read_ratings
from critique_app.core.library.xmp import read_embedded_xmp

SKIMAGE = Path(__import__("skimage").__file__).parent / "data"
PACKET = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
          b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
          b'rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="4"/>'
          b"</rdf:RDF></x:xmpmeta>")


def make_sources(folder: Path) -> list[Path]:
    """One real photo per container, each with an embedded rating of 4."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    with Image.open(SKIMAGE / "chelsea.png") as image:
        rgb = image.convert("RGB")
    sources = [Path(shutil.copy(SKIMAGE / "rocket.jpg", folder / "rocket.jpg")),
               Path(shutil.copy(SKIMAGE / "coffee.png", folder / "coffee.png"))]
    exiftool = shutil.which("exiftool")
    if exiftool:
        for kind in ("tif", "webp", "heic"):
            rgb.save(folder / f"chelsea.{kind}")
            sources.append(folder / f"chelsea.{kind}")
        subprocess.run([exiftool, "-q", "-overwrite_original", "-XMP-xmp:Rating=4",
                        *map(str, sources)], check=True)
    else:  # by hand: an APP1 segment and an iTXt chunk
        jpeg = sources[0].read_bytes()
        payload = b"http://ns.adobe.com/xap/1.0/\0" + PACKET
        sources[0].write_bytes(jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2)
                               + payload + jpeg[2:])
        png = sources[1].read_bytes()
        data = b"XML:com.adobe.xmp\0\0\0\0\0" + PACKET
        chunk = struct.pack(">I", len(data)) + b"iTXt" + data + struct.pack(
            ">I", zlib.crc32(b"iTXt" + data))
        sources[1].write_bytes(png[:33] + chunk + png[33:])
    return sources


def make_folder(folder: Path, count: int, sources: list[Path]) -> None:
    folder.mkdir()
    for number in range(count):
        source = sources[number % len(sources)]
        shutil.copyfile(source, folder / f"IMG_{number:05d}{source.suffix}")


def time_it(work, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def listing(folder: Path) -> int:
    with os.scandir(folder) as entries:
        return sum(1 for entry in entries if entry.stat().st_size >= 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    def refuse(self, *a, **k):
        raise AssertionError("pixels decoded while reading ratings")

    with tempfile.TemporaryDirectory() as tmp:
        sources = make_sources(Path(tmp))
        folder = Path(tmp) / "shoot"
        make_folder(folder, args.count, sources)
        Image.Image.load = ImageFile.ImageFile.load = refuse  # from here on, no pixels
        photos = find_photos(folder)
        found = sum(read_embedded_xmp(p).root is not None for p in photos)
        rated = sum(getattr(r, "stars", 0) == 4 for _, r in read_ratings(photos))
        assert found == rated == len(photos), (found, rated, len(photos))

        base = time_it(lambda: listing(folder), args.repeat)
        embedded = time_it(lambda: [read_embedded_xmp(p) for p in photos], args.repeat)
        whole = time_it(lambda: list(read_ratings(photos)), args.repeat)

    kinds = ", ".join(sorted({p.suffix for p in sources}))
    print(f"{len(photos)} photos ({kinds}), median of {args.repeat}, warm page cache")
    print(f"{'what':<44}{'seconds':>9}{'per photo':>12}{'× listing':>11}")
    for what, seconds in (("listing the folder (scandir + stat)", base),
                          ("embedded XMP of every photo", embedded),
                          ("whole rating (sidecars + embedded)", whole)):
        print(f"{what:<44}{seconds:>9.3f}{seconds / len(photos) * 1e6:>10.0f}µs"
              f"{seconds / base:>10.1f}×")


if __name__ == "__main__":
    main()
