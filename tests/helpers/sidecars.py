"""XMP sidecars as other photo tools write them, byte for byte, for the sidecar tests."""

# Lightroom Classic: everything as attributes on one rdf:Description, one per line.
LIGHTROOM = """\
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0-c000 1.000000, 0000/00/00-00:00:00">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:tiff="http://ns.adobe.com/tiff/1.0/"
    xmlns:exif="http://ns.adobe.com/exif/1.0/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:aux="http://ns.adobe.com/exif/1.0/aux/"
    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
    xmlns:stEvt="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"
   tiff:Make="Canon"
   tiff:Model="Canon EOS 5D Mark IV"
   tiff:Orientation="1"
   exif:ExposureTime="1/250"
   exif:FNumber="8/1"
   xmp:ModifyDate="2023-06-14T18:22:41.37"
   xmp:CreatorTool="Canon EOS 5D Mark IV"
   xmp:Rating="3"
   xmp:MetadataDate="2023-08-02T21:04:11+02:00"
   aux:LensInfo="24/1 105/1 0/0 0/0"
   photoshop:DateCreated="2023-06-14T18:22:41.37"
   xmpMM:DocumentID="xmp.did:8b1c5d0a-3c2e-4f0a-9d7e-2b6a1f0e9c11"
   xmpMM:InstanceID="xmp.iid:8b1c5d0a-3c2e-4f0a-9d7e-2b6a1f0e9c11"
   crs:Version="15.4"
   crs:ProcessVersion="11.0"
   crs:WhiteBalance="As Shot"
   crs:Exposure2012="+0.35"
   crs:Highlights2012="-48"
   crs:Shadows2012="+31"
   crs:HasSettings="True"
   crs:AlreadyApplied="False">
   <xmpMM:History>
    <rdf:Seq>
     <rdf:li
      stEvt:action="saved"
      stEvt:instanceID="xmp.iid:8b1c5d0a-3c2e-4f0a-9d7e-2b6a1f0e9c11"
      stEvt:when="2023-08-02T21:04:11+02:00"
      stEvt:softwareAgent="Adobe Photoshop Lightroom Classic 12.4 (Macintosh)"
      stEvt:changed="/metadata"/>
    </rdf:Seq>
   </xmpMM:History>
   <dc:subject>
    <rdf:Bag>
     <rdf:li>coast</rdf:li>
     <rdf:li>sunset</rdf:li>
    </rdf:Bag>
   </dc:subject>
   <crs:ToneCurvePV2012>
    <rdf:Seq>
     <rdf:li>0, 0</rdf:li>
     <rdf:li>255, 255</rdf:li>
    </rdf:Seq>
   </crs:ToneCurvePV2012>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""

# darktable 4.x (written through Exiv2): rating attribute plus the edit history.
DARKTABLE = """\
<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:exif="http://ns.adobe.com/exif/1.0/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
    xmlns:darktable="http://darktable.sf.net/"
   exif:DateTimeOriginal="2023:06:14 18:22:41"
   xmp:Rating="1"
   xmpMM:DerivedFrom="IMG_0042.CR2"
   darktable:import_timestamp="63826785761000000"
   darktable:change_timestamp="63826786012000000"
   darktable:export_timestamp="-1"
   darktable:print_timestamp="-1"
   darktable:xmp_version="5"
   darktable:raw_params="0"
   darktable:auto_presets_applied="1"
   darktable:history_end="2"
   darktable:iop_order_version="4"
   darktable:history_basic_hash="6b4a0c1e2bd4a4b2c2ab9b1d0f2fc4a7"
   darktable:history_current_hash="2f3d1a0e9c8b7a6f5e4d3c2b1a0f9e8d">
   <darktable:masks_history>
    <rdf:Seq/>
   </darktable:masks_history>
   <darktable:history>
    <rdf:Seq>
     <rdf:li
      darktable:num="0"
      darktable:operation="rawprepare"
      darktable:enabled="1"
      darktable:modversion="2"
      darktable:params="0000000000000000000000000000000000000000ff3f0000"
      darktable:multi_name=""
      darktable:multi_name_hand_edited="0"
      darktable:multi_priority="0"
      darktable:blendop_version="14"
      darktable:blendop_params="gz08eJxjYIAAGQYYMHFghAGMhgLBAgTiA0gEKMc7qGGfYAgNoQ=="/>
     <rdf:li
      darktable:num="1"
      darktable:operation="exposure"
      darktable:enabled="1"
      darktable:modversion="6"
      darktable:params="00000000000080b90000003f00004842000080c0"
      darktable:multi_name=""
      darktable:multi_name_hand_edited="0"
      darktable:multi_priority="0"
      darktable:blendop_version="14"
      darktable:blendop_params="gz08eJxjYIAAGQYYMHFghAGMhgLBAgTiA0gEKMc7qGGfYAgNoQ=="/>
    </rdf:Seq>
   </darktable:history>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


def written_by_critique(stars: int, source: str) -> bytes:
    """A new sidecar exactly as Critique writes one: ``stars`` with our marker, nothing else."""
    return f"""\
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:critique="https://github.com/critique-photo/critique/ns/1.0/"
   xmp:Rating="{stars}"
   critique:RatingSource="{source}"
   critique:WrittenRating="{stars}"/>
 </rdf:RDF>
</x:xmpmeta>
""".encode()


# --- exiftool: the independent writer and reader of XMP, for the interop tests -----------

EXIFTOOL_MISSING = ("exiftool is not installed (Debian/Ubuntu: apt-get install "
                    "libimage-exiftool-perl); the interop tests need it as the independent "
                    "writer and reader")


def exiftool_or_skip() -> str:
    """The exiftool command; skips the test when it is missing, and fails it in CI
    (``CI=true``: .ci/run installs it, so a missing one is a broken CI, not a skip)."""
    import os
    import shutil

    import pytest

    found = shutil.which("exiftool")
    if found is None:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(EXIFTOOL_MISSING + " (CI=true: not skipped)")
        pytest.skip(EXIFTOOL_MISSING)
    return found


def exiftool(*args: str) -> str:
    """Run exiftool (quiet, editing files in place) and return what it printed."""
    import subprocess

    done = subprocess.run([exiftool_or_skip(), "-q", "-q", "-overwrite_original", *map(str, args)],
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, f"exiftool {' '.join(map(str, args))}: {done.stderr}"
    return done.stdout


def exiftool_tag(path, tag: str) -> str:
    """One tag's value as exiftool reads it (``-s3``: the value alone), "" if absent."""
    return exiftool("-s3", f"-{tag}", path).strip()
