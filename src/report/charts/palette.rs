//! Series colours. Owns the rule "a name keeps its colour in every chart of a run":
//! colours are handed out by order of first appearance (pre-seed with
//! [`Palette::from_names`] in the order the run lists its strategies). Keep one
//! palette per kind of name: strategies ([`Palette::new`], Okabe-Ito), and
//! causes or backends ([`Palette::sequential`], viridis), so that a cause or a
//! backend never wears a strategy's colour. Knows nothing about what names mean.

/// An sRGB colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Colour {
    /// Red channel.
    pub(crate) r: u8,
    /// Green channel.
    pub(crate) g: u8,
    /// Blue channel.
    pub(crate) b: u8,
}

impl Colour {
    /// `#rrggbb`, for the HTML report's tables and legends.
    pub fn hex(&self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }

    /// Approximate relative luminance in `[0, 1]` (Rec. 709 weights on the
    /// gamma-encoded channels: enough to tell the light colours that need an
    /// outline on white).
    pub(crate) fn luminance(&self) -> f64 {
        (0.2126 * f64::from(self.r) + 0.7152 * f64::from(self.g) + 0.0722 * f64::from(self.b)) / 255.0
    }

    pub(crate) fn rgb(self) -> plotters::style::RGBColor {
        plotters::style::RGBColor(self.r, self.g, self.b)
    }
}

const fn c(r: u8, g: u8, b: u8) -> Colour {
    Colour { r, g, b }
}

/// Okabe & Ito (2008), "Color Universal Design", <https://jfly.uni-koeln.de/color/>:
/// distinguishable with every common colour-vision deficiency. Reordered so that the
/// first colours have the most contrast on white (yellow, the faintest, comes late);
/// black is last because whiskers and text are black.
pub const OKABE_ITO: [Colour; 8] = [
    c(0x00, 0x72, 0xB2), // blue
    c(0xE6, 0x9F, 0x00), // orange
    c(0x00, 0x9E, 0x73), // bluish green
    c(0xD5, 0x5E, 0x00), // vermillion
    c(0xCC, 0x79, 0xA7), // reddish purple
    c(0x56, 0xB4, 0xE9), // sky blue
    c(0xF0, 0xE4, 0x42), // yellow
    c(0x00, 0x00, 0x00), // black
];

/// Six steps of viridis (van der Walt & Smith, matplotlib 2.0), which stay apart
/// for every colour-vision deficiency and in grey print because they differ in
/// lightness. Handed out dark, light, mid, lightest, dark-mid, mid-light rather
/// than in ramp order, so that consecutive names (neighbouring stacked layers,
/// the first few backends) are never two near-identical dark steps.
/// For stacked-bar parts and per-backend lines.
pub const VIRIDIS: [Colour; 6] = [
    c(0x44, 0x01, 0x54), // 0.00 dark purple
    c(0x7A, 0xD1, 0x51), // 0.80 light green
    c(0x2A, 0x78, 0x8E), // 0.40 teal
    c(0xFD, 0xE7, 0x25), // 1.00 yellow
    c(0x41, 0x44, 0x87), // 0.20 indigo
    c(0x22, 0xA8, 0x84), // 0.60 green
];

/// Which colours a palette hands out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scheme {
    /// [`OKABE_ITO`]: unordered categories such as strategies.
    #[default]
    Categorical,
    /// [`VIRIDIS`]: parts of a whole (loss causes) or members of a set (backends).
    Sequential,
}

impl Scheme {
    fn colours(self) -> &'static [Colour] {
        match self {
            Scheme::Categorical => &OKABE_ITO,
            Scheme::Sequential => &VIRIDIS,
        }
    }
}

/// Assigns a stable colour to each name by order of first appearance. Past the
/// scheme's length (8 or 6) the colours repeat.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Palette {
    scheme: Scheme,
    // A Vec, not a HashMap: lookup must never depend on hashing, and a run
    // compares a handful of strategies.
    names: Vec<String>,
}

impl Palette {
    /// An empty categorical (Okabe-Ito) palette, for strategies.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty sequential (viridis) palette, for causes or backends.
    pub(crate) fn sequential() -> Self {
        Self {
            scheme: Scheme::Sequential,
            names: Vec::new(),
        }
    }

    /// A categorical palette pre-seeded with `names` in order (duplicates
    /// ignored), e.g. the strategies in the order the scenario lists them.
    pub fn from_names<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::new().with_names(names)
    }

    /// This palette with `names` assigned in order, e.g. every loss cause in a
    /// fixed order, so that a cause keeps its colour in a chart where earlier
    /// causes are absent.
    pub(crate) fn with_names<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for name in names {
            self.assign(name.as_ref());
        }
        self
    }

    /// The colour of `name`, giving it the next free colour if it is new.
    pub(crate) fn assign(&mut self, name: &str) -> Colour {
        let index = match self.names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.names.push(name.to_string());
                self.names.len() - 1
            }
        };
        let colours = self.scheme.colours();
        colours[index % colours.len()]
    }

    /// The colour of `name` if it already has one.
    pub fn get(&self, name: &str) -> Option<Colour> {
        let colours = self.scheme.colours();
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| colours[i % colours.len()])
    }

    /// The names known so far, in order of first appearance.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The colour scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_follow_first_appearance_and_stay_stable() {
        let mut p = Palette::from_names(["ip_hash", "cookie", "ip_hash", "redis"]);
        assert_eq!(p.names(), ["ip_hash", "cookie", "redis"]);
        assert_eq!(p.get("ip_hash"), Some(OKABE_ITO[0]));
        assert_eq!(p.get("redis"), Some(OKABE_ITO[2]));
        assert_eq!(p.get("memcached"), None);
        assert_eq!(p.assign("memcached"), OKABE_ITO[3]);
        // Asking again, in any order, never changes an assigned colour.
        assert_eq!(p.assign("cookie"), OKABE_ITO[1]);
        assert_eq!(p.assign("memcached"), OKABE_ITO[3]);
    }

    #[test]
    fn colours_cycle_past_the_scheme_length() {
        let mut p = Palette::new();
        let colours: Vec<Colour> = (0..10).map(|i| p.assign(&format!("s{i}"))).collect();
        assert_eq!(colours[8], colours[0]);
        assert_eq!(colours[9], colours[1]);
    }

    #[test]
    fn sequential_palettes_use_viridis() {
        let mut causes = Palette::sequential().with_names(["crash", "eviction"]);
        assert_eq!(causes.assign("eviction"), VIRIDIS[1]);
        assert_eq!(causes.assign("refused cookie"), VIRIDIS[2]);
        assert_eq!(causes.scheme(), Scheme::Sequential);
    }

    #[test]
    fn hex_and_luminance() {
        assert_eq!(OKABE_ITO[0].hex(), "#0072b2");
        assert!(OKABE_ITO[6].luminance() > 0.8, "yellow is light");
        assert!(OKABE_ITO[7].luminance() < 0.01, "black is dark");
    }
}
