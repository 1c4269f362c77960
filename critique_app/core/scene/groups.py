"""ImageNet classes (the first name of each, as the Lite0 labels give them) that tell a kind.

Only classes that show the kind itself: a landscape's terrain, a building, clothes worn by
a sitter, an object on a table, a small creature or flower seen close, a street's
vehicles and shop fronts. ImageNet has no class for a night sky, stars or the Moon, and
'space shuttle', 'missile' and 'projectile' are what stands on a pad (lit at night or not),
so they tell no kind and are not listed.
"""

from __future__ import annotations

LANDSCAPE = frozenset({
    "alp", "volcano", "valley", "lakeside", "seashore", "cliff", "promontory", "sandbar",
    "geyser", "coral reef", "breakwater", "dam", "dock", "boathouse", "pier", "beacon",
    "suspension bridge", "steel arch bridge", "viaduct", "worm fence",
    "stone wall", "hay", "megalith", "cliff dwelling",
})
ARCHITECTURE = frozenset({
    "church", "palace", "monastery", "mosque", "stupa", "bell cote", "castle", "dome",
    "triumphal arch", "obelisk", "altar", "library", "cinema", "prison", "planetarium",
    "barn", "boathouse", "water tower", "tile roof", "thatch", "vault", "pedestal",
    "cliff dwelling", "mobile home", "greenhouse", "apiary", "fountain", "patio",
    "picket fence", "sliding door", "window shade", "home theater", "restaurant",
    "grocery store", "beacon", "steel arch bridge", "suspension bridge", "viaduct",
    "megalith", "yurt",
})
PORTRAIT = frozenset({
    "military uniform", "suit", "Windsor tie", "bow tie", "jersey", "sweatshirt",
    "cardigan", "academic gown", "groom", "wig", "lipstick", "sunglasses", "sunglass",
    "bonnet", "cowboy hat", "sombrero", "mortarboard", "pajama", "kimono", "abaya",
    "fur coat", "lab coat", "trench coat", "poncho", "stole", "feather boa", "hair spray",
    "face powder", "mask", "ski mask", "neck brace", "bulletproof vest", "bikini",
    "maillot", "brassiere", "miniskirt", "hoopskirt", "overskirt", "vestment", "cloak",
    "swimming trunks", "diaper", "bib", "crash helmet", "football helmet",
})
STILL_LIFE = frozenset({
    "espresso", "cup", "coffee mug", "consomme", "soup bowl", "plate", "teapot",
    "coffeepot", "wine bottle", "red wine", "beer glass", "goblet", "vase", "pitcher",
    "water jug", "mixing bowl", "measuring cup", "eggnog", "hot pot", "trifle",
    "ice cream", "chocolate sauce", "dough", "bagel", "pretzel", "French loaf",
    "cheeseburger", "hotdog", "pizza", "potpie", "burrito", "carbonara", "meat loaf",
    "guacamole", "Granny Smith", "strawberry", "orange", "lemon", "fig", "pineapple",
    "banana", "jackfruit", "custard apple", "pomegranate", "head cabbage", "broccoli",
    "cauliflower", "zucchini", "spaghetti squash", "acorn squash", "butternut squash",
    "cucumber", "artichoke", "bell pepper", "mushroom", "corn", "wooden spoon",
    "ladle", "spatula", "frying pan", "wok", "Dutch oven", "candle", "teddy", "pot",
    "perfume", "lotion", "saltshaker", "pill bottle", "beaker", "whiskey jug",
    "pop bottle", "water bottle", "menu", "plate rack", "tray", "chest", "hourglass",
    "analog clock", "wall clock", "bucket", "pencil box", "book jacket",
})
MACRO = frozenset({
    "daisy", "yellow lady's slipper", "bee", "ant", "ladybug", "fly", "dragonfly",
    "damselfly", "admiral", "ringlet", "monarch", "cabbage butterfly", "sulphur butterfly",
    "lycaenid", "grasshopper", "cricket", "walking stick", "cockroach", "mantis", "cicada",
    "leafhopper", "lacewing", "tiger beetle", "ground beetle", "long-horned beetle",
    "leaf beetle", "dung beetle", "rhinoceros beetle", "weevil", "garden spider",
    "barn spider", "black widow", "tarantula", "wolf spider", "black and gold garden spider",
    "tick", "centipede", "snail", "slug", "sea slug", "isopod", "earthstar", "hen-of-the-woods",
    "bolete", "agaric", "gyromitra", "stinkhorn", "coral fungus", "hip", "buckeye",
    "acorn", "rapeseed", "honeycomb",
})
STREET = frozenset({
    "streetcar", "trolleybus", "cab", "traffic light", "street sign", "parking meter",
    "police van", "minibus", "moving van", "tricycle", "bicycle-built-for-two", "moped",
    "motor scooter", "jinrikisha", "barbershop", "bakery", "toyshop", "shoe shop",
    "tobacco shop", "bookshop", "confectionery", "butcher shop", "mailbox", "pay-phone",
    "fire engine", "school bus", "passenger car", "limousine",
})

GROUPS = {
    "landscape": LANDSCAPE,
    "architecture": ARCHITECTURE,
    "portrait": PORTRAIT,
    "still-life": STILL_LIFE,
    "macro": MACRO,
    "street": STREET,
}


def matching(labels, group: frozenset[str]) -> list[tuple[str, float]]:
    """The labels (name, probability) that belong to a group, most probable first."""
    return [(name, p) for name, p in labels if name in group]
