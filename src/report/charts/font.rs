//! The embedded font. Owns registering DejaVu Sans with plotters' `ab_glyph` text
//! engine under the family name `sans-serif`, once per process, so that text is
//! measured (SVG) and rasterised (PNG) without any system font or fontconfig.

use std::sync::OnceLock;

use plotters::style::FontStyle;

use crate::report::charts::ChartError;

/// DejaVu Sans 2.37 from Debian's fonts-dejavu-core; licence in
/// `assets/fonts/LICENSE-DejaVu.txt`.
static DEJAVU_SANS: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// The family every chart asks for. SVG output names it in `font-family`, so a
/// browser falls back to its own sans-serif font.
pub(crate) const FAMILY: &str = "sans-serif";

/// The embedded font parsed for our own PNG text rasteriser, or `None` if it
/// does not parse.
pub(crate) fn font_ref() -> Option<&'static ab_glyph::FontRef<'static>> {
    static FONT: OnceLock<Option<ab_glyph::FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| ab_glyph::FontRef::try_from_slice(DEJAVU_SANS).ok())
        .as_ref()
}

static REGISTERED: OnceLock<bool> = OnceLock::new();

/// Registers the embedded font with plotters; cheap after the first call.
pub(crate) fn ensure_registered() -> Result<(), ChartError> {
    let ok = *REGISTERED.get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok());
    if ok && font_ref().is_some() {
        Ok(())
    } else {
        Err(ChartError::Font)
    }
}
