"""What shows between parted lips where the source has no mouth of its own to show.

Drawn back to front, in the gap's own coordinates (`u` across the mouth, -1..1 corner to
corner; `depth` down the gap, 0 at the upper lip, 1 at the lower lip):
- a cavity, a deep, greyed shade of the lips' own colour, darkest under the upper jaw and at the
  back, never flat black;
- a tongue, low in the mouth, its tip from small openings on, growing as the mouth opens;
- lower teeth at the bottom of the gap at wider openings, in the shadow of the upper jaw;
- upper teeth as a row of single teeth: soft dark gaps between them, rounded biting edges,
  narrower and darker toward the corners, shadowed under the upper lip;
- the moist inner rim of both lips; the lower one also over the lower lip's own edge just below
  the gap (`LOWER_RIM_OVER_LIP`).
Every colour comes from this face: the cavity, tongue and rims from its lips (so their contrast
is relative to the lips and the light on them, never an absolute dark), the teeth from its own
teeth or the whites of its eyes (`mouth_palette`). The drawing is then softened and given
grain like the surrounding picture, so it does not stand out crisper or cleaner than the video.
Where the source's lips are already apart (a smile's teeth, an open mouth), no lip rims are
drawn and drawn upper teeth only continue the source's own to a whole crown: its own lips and
teeth stay above the parting, and drawn ones would double them.
"""

import torch
import torch.nn.functional as F

from app.pipeline.render.mouth_fields import UPPER_LIP_RISE

# The cavity's shade of the lips' colour (red light survives deepest in the mouth).
_CAVITY_SHADE = torch.tensor([0.72, 0.46, 0.44])
# The tongue's colour relative to the lips' (a little lighter and pinker), with this share of the
# skin's colour turned pink in it.
_TONGUE_OF_LIPS = torch.tensor([1.1, 0.85, 0.85])
_TONGUE_SKIN = 0.35
_SKIN_TO_PINK = torch.tensor([1.0, 0.72, 0.72])
# Visible upper teeth from the midline to a corner (incisors, lateral incisor, canine, premolar).
_TEETH_PER_SIDE = 3.6
# Height of the upper teeth's visible crowns, as a share of the mouth width, and at most of the gap.
_UPPER_TEETH_OF_WIDTH = 0.23
_UPPER_TEETH_OF_GAP = 0.55
# Where the source's lips are apart, its own teeth are continued to the first share of the mouth
# width at least; the upper lip, rising as the mouth opens, uncovers more of them, up to the
# second (short of a whole crown: the face mesh then reads a smile's wide openings as less open).
_SMILE_TEETH_OF_WIDTH = 0.14
_UNCOVERED_TEETH_OF_WIDTH = 0.18
# Of a drawn gap, this share is the upper lip's rise (the rest is the jaw's drop).
_RISE_OF_GAP = UPPER_LIP_RISE / (1 + UPPER_LIP_RISE)
# Per upper tooth from the midline (central incisor, lateral incisor, canine, premolar): its
# visible length and its shade (teeth further back sit deeper in the shadow and look yellower).
_CROWN_BY_TOOTH = torch.tensor([1.0, 0.86, 0.96, 0.8])
_SHADE_BY_TOOTH = torch.tensor([1.0, 0.95, 0.9, 0.84])
# Lower teeth appear as the gap passes this share of the mouth width.
_LOWER_TEETH_FROM = 0.22
# Height of the lower teeth's visible edge at full opening, as a share of the mouth width.
_LOWER_TEETH_OF_WIDTH = 0.1
# The shadowed lower teeth's colour, a shade of the lips'.
_LOWER_TEETH_SHADOW = 0.45
# The upper jaw's shadow darkens the cavity by this share at its top, fading over this share of
# the gap's height; the cavity's shade loses up to this share of its saturation.
_JAW_SHADOW = 0.5
_JAW_SHADOW_DEPTH = 0.3
_SHADOW_GREYING = 0.6
# A gap this wide (share of the mouth width) lets the most light into the cavity.
_LIT_OPENNESS = 0.4
# The lower lip's rim is drawn this many rim heights further down, over the lip's own edge below
# the gap: the lower lip carries down what lay just under the parting in the source (the blurred
# bottom edge of a smile's upper teeth, its own lower teeth), which under the drawn lower teeth
# read as a second, ragged row of teeth.
LOWER_RIM_OVER_LIP = 2.0
# The tongue shows from this opening on (a smile's narrow gap between the teeth included) and
# reaches its full height over the next _TONGUE_GROWTH.
_TONGUE_FROM = 0.04
_TONGUE_GROWTH = 0.12


def draw_interior(
    u: torch.Tensor,
    depth: torch.Tensor,
    gap: torch.Tensor,
    mouth_width: torch.Tensor,
    lip_colour: torch.Tensor,
    enamel: torch.Tensor,
    skin: torch.Tensor,
    rounding: torch.Tensor,
    lips_closed: torch.Tensor,
    own_teeth: torch.Tensor,
    light_slope: torch.Tensor,
) -> torch.Tensor:
    """(B, 3, H, W) interior colours in [0, 1].

    `u`, `depth` and `gap` (pixels) are (B, H, W); `mouth_width`, `rounding`, `lips_closed` (0..1:
    drawn lip rims show that much; an open source's own lips stay), `own_teeth` (pixels of the
    source's upper teeth already showing above the gap, which drawn teeth continue) and
    `light_slope` (how much brighter the face is toward u = 1 than in the middle, per unit of u)
    are (B,); `lip_colour`, `enamel` and `skin` are (B, 3).
    """
    width = mouth_width[:, None, None]
    px = depth * gap  # pixels below the upper lip's edge
    from_bottom = (1 - depth) * gap
    openness = gap / width
    colour = _cavity(u, depth, openness, lip_colour)
    colour = _over(colour, _tongue(u, from_bottom, gap, openness, lip_colour, skin))
    rounded = 1 - 0.3 * rounding[:, None, None]
    # Enamel takes a little of the skin's hue (light bounced off the face).
    enamel = torch.clamp(enamel * (0.85 + 0.15 * skin / skin.mean(dim=1, keepdim=True).clamp(min=0.05)), 0, 1)
    enamel = enamel[:, :, None, None]
    # Lower teeth are drawn whatever the opening's shape: a smile hides them behind the lower lip.
    colour = _over(colour, _lower_teeth(u, from_bottom, width, openness, rounded, enamel, lip_colour))
    closed = lips_closed[:, None, None]
    colour = _over(colour, _upper_teeth(u, px, gap, width, rounded, own_teeth[:, None, None], closed, enamel))
    colour = _over(colour, _lip_rims(px, from_bottom, width, lip_colour, closed))
    # Lit from one side as the face is: evenly lit teeth on a half-shaded face look pasted on.
    side_light = 1 + light_slope[:, None, None] * u.clamp(-1, 1)
    return torch.clamp(colour * side_light.unsqueeze(1), 0, 1)


def _cavity(u: torch.Tensor, depth: torch.Tensor, openness: torch.Tensor, lip_colour: torch.Tensor) -> torch.Tensor:
    # Lit from the front through the gap: darkest in the shadow of the upper jaw (just below the
    # upper lip or teeth) and at the back of the middle, darker toward the cheeks, lightest low
    # in front; a wide gap lets more light in, and casts deeper shadows. The deep shade loses the lips'
    # saturation, as a shadow does: a flat red would read as a painted patch.
    # A narrow gap is lit by light scattered in from the lips and teeth around it: seen from the
    # front it is a soft shade, not a black bar.
    wide = torch.clamp(openness / _LIT_OPENNESS, 0, 1)
    under_jaw = torch.exp(-depth.clamp(min=0) / _JAW_SHADOW_DEPTH) * (0.5 + 0.5 * wide)
    back = torch.exp(-((u / 0.55) ** 2)) * torch.sin(torch.pi * depth.clamp(0, 1))
    light_in = 0.8 + 0.2 * wide
    shade = (1 - _JAW_SHADOW * under_jaw) * (1 - 0.3 * back) * (1 - 0.3 * u**2) * light_in
    red = (lip_colour * _CAVITY_SHADE.to(u))[:, :, None, None]
    grey = red.mean(dim=1, keepdim=True)
    deep = (1 - shade).clamp(0, 1).unsqueeze(1)
    return (red + _SHADOW_GREYING * deep * (grey - red)) * shade.unsqueeze(1)


def _tongue(
    u: torch.Tensor,
    from_bottom: torch.Tensor,
    gap: torch.Tensor,
    openness: torch.Tensor,
    lip_colour: torch.Tensor,
    skin: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A rounded hump at the bottom of the gap, behind the lower teeth, taller as the mouth opens.
    Its pink is the lips' with some of the skin's light in it, so it stands out of the cavity
    even where the lips are dark."""
    grown = torch.clamp((openness - _TONGUE_FROM) / _TONGUE_GROWTH, 0, 1)
    height = 0.5 * gap * grown * torch.clamp(1 - (u / 0.7) ** 2, 0, 1) ** 0.5
    coverage = torch.clamp(height - from_bottom, 0, 1)
    base = _TONGUE_OF_LIPS.to(u) * ((1 - _TONGUE_SKIN) * lip_colour + _TONGUE_SKIN * skin * _SKIN_TO_PINK.to(u))
    base = base[:, :, None, None]
    # Lit on its top, falling into shadow toward the throat and the cheeks.
    shade = 0.6 + 0.3 * torch.clamp(from_bottom / height.clamp(min=1), 0, 1) - 0.25 * u.abs()
    return base * shade.unsqueeze(1), coverage


def _lower_teeth(
    u: torch.Tensor,
    from_bottom: torch.Tensor,
    width: torch.Tensor,
    openness: torch.Tensor,
    show: torch.Tensor,
    enamel: torch.Tensor,
    lip_colour: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    grown = torch.clamp((openness - _LOWER_TEETH_FROM) / 0.12, 0, 1) * show
    height = _LOWER_TEETH_OF_WIDTH * width * grown * torch.clamp(1 - (u / 0.55) ** 4, 0, 1)
    coverage = torch.clamp(height - from_bottom, 0, 1)
    _, _, separation = _tooth_phase(u, teeth_per_side=4.2)
    shade = ((0.78 - 0.3 * u.abs()) * (1 - 0.3 * separation)).unsqueeze(1)
    # In the upper jaw's shadow the teeth take the mouth's own reddish light, not grey: a grey
    # band reads blue beside warm lips.
    shadow = _LOWER_TEETH_SHADOW * lip_colour[:, :, None, None]
    return enamel * shade + shadow * (1 - shade), coverage


def _upper_teeth(
    u: torch.Tensor,
    px: torch.Tensor,
    gap: torch.Tensor,
    width: torch.Tensor,
    show: torch.Tensor,
    own_teeth: torch.Tensor,
    lips_closed: torch.Tensor,
    enamel: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The upper teeth hanging into the gap: whole crowns under closed lips, or what the source's
    own teeth (`own_teeth` pixels above the gap) lack of a whole crown."""
    tooth, within, separation = _tooth_phase(u, _TEETH_PER_SIDE)
    # Under a raised lip the crowns show whole. Between a smile's parted lips they show shorter,
    # until the upper lip, rising as the mouth opens wider, uncovers more of them: a smile opened
    # wide shows long teeth, not a strip over a dark hole.
    uncovered = torch.minimum(own_teeth + _RISE_OF_GAP * gap, _UNCOVERED_TEETH_OF_WIDTH * width)
    apart = torch.maximum(_SMILE_TEETH_OF_WIDTH * width, uncovered)
    longest = _UPPER_TEETH_OF_WIDTH * width * lips_closed + apart * (1 - lips_closed)
    whole = torch.minimum(longest, _UPPER_TEETH_OF_GAP * (gap + own_teeth))
    crown = (whole - own_teeth).clamp(min=0) * show
    # Shorter toward the corners (perspective and the arch), each tooth's biting edge rounded,
    # and each kind of tooth its own length (lateral incisors shorter than the central ones).
    kind = tooth.clamp(max=len(_CROWN_BY_TOOTH) - 1)
    crown = crown * (1 - 0.45 * u.abs() ** 2) * (1 - 0.2 * (2 * within - 1) ** 4) * _CROWN_BY_TOOTH.to(u)[kind]
    coverage = torch.clamp(crown - px, 0, 1) * (crown > 0.75)
    # In the shadow of a closed upper lip at the top; continuing the source's teeth, no lip above.
    under_lip = 1 - lips_closed * 0.28 * (1 - torch.clamp(px / (0.45 * crown).clamp(min=1), 0, 1))
    rounded = 1 - 0.12 * (2 * within - 1) ** 2
    # Neighbouring teeth touch near the gum: the dark between them is the notch at the biting
    # edges, and that edge is a little translucent. Each tooth a shade of its own (real teeth are
    # never one even colour; a row of equal blocks reads as a denture).
    down_crown = torch.clamp(px / crown.clamp(min=1), 0, 1)
    between = separation * (0.1 + 0.3 * down_crown**2)
    translucent = 1 - 0.1 * torch.clamp((down_crown - 0.8) / 0.2, 0, 1)
    own_shade = 1 + 0.04 * torch.cos(2.3 * tooth + 1.1 * torch.sign(u))
    shade = under_lip * rounded * (1 - 0.55 * u.abs() ** 3) * (1 - between) * translucent * own_shade
    return enamel * (shade * _SHADE_BY_TOOTH.to(u)[kind]).unsqueeze(1), coverage


def _tooth_phase(u: torch.Tensor, teeth_per_side: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Which tooth from the midline (0, 1, ...), the position within it (0..1), and closeness to
    a gap between teeth (1 on the gap).

    Teeth narrow toward the corners as the arch turns away; the midline falls between the two
    central incisors.
    """
    phase = teeth_per_side * u.abs() ** 0.8
    tooth = torch.floor(phase)
    within = phase - tooth
    edge = torch.minimum(within, 1 - within)
    return tooth.long(), within, torch.exp(-((edge / 0.06) ** 2))


def lip_rim_px(mouth_width: torch.Tensor) -> torch.Tensor:
    """How tall the lips' moist inner rims are drawn (pixels) on a mouth `mouth_width` wide."""
    return (0.025 * mouth_width).clamp(min=0.8)


def _lip_rims(
    px: torch.Tensor,
    from_bottom: torch.Tensor,
    width: torch.Tensor,
    lip_colour: torch.Tensor,
    upper_shown: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The wet inner edge of the lips: the lips' colour, a little darker, with a faint sheen. The
    lower lip always bounds the gap (and, where the interior is drawn below the gap, covers the
    lip's own edge: `from_bottom` < 0 there); the upper one only `upper_shown` (a smile parts
    under its teeth, not under its lip)."""
    rim = lip_rim_px(width)
    upper = torch.clamp(1 - px / rim, 0, 1) * upper_shown
    coverage = torch.maximum(upper, torch.clamp(1 - from_bottom / rim, 0, 1))
    sheen = 0.12 * torch.clamp(1 - (from_bottom / rim - 0.5).abs() * 2, 0, 1)
    colour = 0.8 * lip_colour[:, :, None, None] + sheen.unsqueeze(1)
    return colour, coverage * 0.85


def _over(base: torch.Tensor, layer: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    colour, coverage = layer
    coverage = coverage.unsqueeze(1)
    return base * (1 - coverage) + colour * coverage


def soften(interior: torch.Tensor, weight: torch.Tensor, blur_px: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Soften the drawn interior and its edge by `blur_px` (in the images' pixels), so that it is
    no crisper than the picture around it."""
    if blur_px > 0.3:
        interior, weight = _gaussian(interior, blur_px), _gaussian(weight, blur_px)
    return interior, weight


def add_grain(interior: torch.Tensor, grain: torch.Tensor, skin: torch.Tensor, seed: int) -> torch.Tensor:
    """Luma noise of `grain` (B,) standard deviation as measured on skin of mean colour `skin`
    (B, 3), so the drawing is no cleaner than the picture; darker parts get less, as a camera's
    noise grows with the light (shot noise, about with its square root)."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    noise = torch.randn(interior.shape[0], 1, *interior.shape[2:], generator=generator).to(interior)
    light = interior.mean(dim=1, keepdim=True) / skin.mean(dim=1)[:, None, None, None].clamp(min=0.05)
    return torch.clamp(interior + noise * grain[:, None, None, None] * light.clamp(0.1, 1).sqrt(), 0, 1)


def _gaussian(images: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, int(round(2.5 * sigma)))
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-((offsets / sigma) ** 2) / 2)
    kernel = kernel / kernel.sum()
    channels = images.shape[1]
    padded = F.pad(images, (radius, radius, radius, radius), mode="replicate")
    rows = F.conv2d(padded, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)
    return F.conv2d(rows, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
