"""What kind of photo this is and the light it was taken in, with the evidence: ImageNet labels, measurements and EXIF."""
