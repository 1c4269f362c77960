"""The Cull page: groups of frames as stacks, the pick marked, flags on the thumbnails."""
