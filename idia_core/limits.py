"""Named limits on input, in one place, so every front end enforces and quotes the same numbers."""
from __future__ import annotations

MIN_PHOTOS = 3            # a majority needs several photos; the paper plots N >= 3 only
MAX_PHOTOS = 50           # per check
MAX_FILE_BYTES = 25 * 1024 * 1024     # one uploaded photo
MAX_PIXELS = 250_000_000  # width * height from the header: beyond any camera's single shot (a bomb)
BOMB_RATIO = 250          # above RATIO_CHECK_PIXELS, more than this many decoded bytes (3 a pixel) per
RATIO_CHECK_PIXELS = 40_000_000   # byte of file is a decompression bomb: no photo compresses so well
DECODE_MAX_BYTES = 256 * 2**20    # memory one photo may take while decoded (JPEGs: at reduced scale)
DECODE_SIDE = 512          # photos are decoded to about this shorter side (CLIP looks at 224-336 px)
DECODE_MAX_PIXELS = 1_500_000   # and at most this many pixels each (extreme aspect ratios)
MAX_ASPECT_RATIO = 40      # longer side / shorter side kept; beyond it the photo is cropped to its centre
MIN_SIDE = 16             # smaller images carry no face worth testing
MAX_NAME_LENGTH = 200     # characters, after normalisation
MAX_MESSAGE_CHARS = 100_000   # one chat message (a pasted list of 5000 names fits); longer: a clear reply
MAX_USER_NAMES = 5000     # names a user may add to the pool
MIN_POOL = 2              # the target and at least one competitor
MAX_POOL = 5000           # candidate names in one pool
MAX_TEMPLATES = 100
MAX_TEMPLATE_LENGTH = 300
TAU_MIN = 1               # tau is validated against the template count for its upper bound
DEFAULT_POOL = 1000
DEFAULT_TAU = 1
CONTROL_M_MAX = 1000     # reference people per validity control
# public deployments (SPACE_ID or IDIA_PUBLIC=1): what one visitor may ask of the shared server
PUBLIC_MAX_POOL = 2000          # candidate names in one pool
PUBLIC_MAX_USER_NAMES = 200     # names one session (or one check call) may add
