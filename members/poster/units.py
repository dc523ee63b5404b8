"""The poster's units and colours: it is laid out in pixels at 300 dpi."""

DPI = 300
MM = DPI / 25.4  # pixels per millimetre
PT = DPI / 72  # pixels per typographic point

INK = (17, 17, 17)
GREY = (68, 68, 68)
LIGHT_GREY = (136, 136, 136)
WHITE = (255, 255, 255)
