"""The look every gxm figure shares: wiki content width, resolution, font size, colours."""

WIDTH_IN = 8.8  # 880 px at DPI: the content width of a GitHub wiki page
DPI = 100
FONT_SIZE = 10
BASELINE_COLOUR = "#9e9e9e"
NO_DATA_COLOUR = "#eeeeee"
