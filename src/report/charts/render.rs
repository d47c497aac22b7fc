//! Turning a [`Chart`] into bytes: a PNG (drawn into an RGB buffer with the
//! embedded font and encoded with the `png` crate) and an SVG string (text left as
//! `<text>` elements for the browser to set), and writing both files atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::report::charts::error::DrawResultExt;
use crate::report::charts::glyphs::GlyphBackend;
use crate::report::charts::kinds::DrawChart;
use crate::report::charts::{Chart, ChartError, Palette, font};

/// Canvas size \[px\].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChartSize {
    /// Width \[px\].
    pub width: u32,
    /// Height \[px\].
    pub height: u32,
}

impl Default for ChartSize {
    /// 1000x600 px: the size the text sizes are chosen for.
    fn default() -> Self {
        Self {
            width: 1000,
            height: 600,
        }
    }
}

/// The smallest canvas that still fits a title, axes and a legend.
pub const MIN_SIZE: ChartSize = ChartSize {
    width: 400,
    height: 250,
};
/// The largest canvas accepted (bounds the RGB buffer at about 100 MB).
pub const MAX_SIZE: ChartSize = ChartSize {
    width: 8000,
    height: 4000,
};

fn check_size(chart: &Chart, size: ChartSize) -> Result<(), ChartError> {
    let ok = (MIN_SIZE.width..=MAX_SIZE.width).contains(&size.width)
        && (MIN_SIZE.height..=MAX_SIZE.height).contains(&size.height);
    if ok {
        Ok(())
    } else {
        Err(ChartError::BadSize {
            chart: chart.title().to_string(),
            width: size.width,
            height: size.height,
            min_width: MIN_SIZE.width,
            min_height: MIN_SIZE.height,
            max_width: MAX_SIZE.width,
            max_height: MAX_SIZE.height,
        })
    }
}

fn draw_any<DB: DrawingBackend>(
    chart: &Chart,
    root: &DrawingArea<DB, Shift>,
    palette: &mut Palette,
) -> Result<(), ChartError> {
    match chart {
        Chart::Stacked(c) => c.draw(root, palette),
        Chart::Grouped(c) => c.draw(root, palette),
        Chart::Bars(c) => c.draw(root, palette),
        Chart::Line(c) => c.draw(root, palette),
        Chart::TimeSeries(c) => c.draw(root, palette),
        Chart::Percentiles(c) => c.draw(root, palette),
    }
}

/// Draws `chart` as an SVG document. Text is kept as `<text>` elements in the
/// `sans-serif` family (laid out with the embedded font's metrics).
pub fn render_svg(chart: &Chart, palette: &mut Palette, size: ChartSize) -> Result<String, ChartError> {
    check_size(chart, size)?;
    font::ensure_registered()?;
    let title = chart.title();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (size.width, size.height)).into_drawing_area();
        draw_any(chart, &root, palette)?;
        root.present().drawing(title)?;
    }
    Ok(svg)
}

/// Draws `chart` as a PNG image (8-bit RGB) and returns the encoded file bytes.
pub fn render_png(chart: &Chart, palette: &mut Palette, size: ChartSize) -> Result<Vec<u8>, ChartError> {
    check_size(chart, size)?;
    font::ensure_registered()?;
    let title = chart.title();
    let mut rgb = vec![0u8; size.width as usize * size.height as usize * 3];
    {
        let bitmap = BitMapBackend::with_buffer(&mut rgb, (size.width, size.height));
        let root = GlyphBackend::new(bitmap).into_drawing_area();
        draw_any(chart, &root, palette)?;
        root.present().drawing(title)?;
    }
    let mut out = Vec::with_capacity(rgb.len() / 8);
    let png_err = |source| ChartError::Png {
        chart: title.to_string(),
        source,
    };
    let mut encoder = png::Encoder::new(&mut out, size.width, size.height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(png_err)?;
    writer.write_image_data(&rgb).map_err(png_err)?;
    writer.finish().map_err(png_err)?;
    Ok(out)
}

/// The two files of a chart, and the SVG text for inlining in the HTML report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenChart {
    /// `DIR/STEM.png`.
    pub png_path: PathBuf,
    /// `DIR/STEM.svg`.
    pub svg_path: PathBuf,
    /// The SVG document, as written to `svg_path`.
    pub svg: String,
}

/// Draws `chart` and writes `dir/stem.png` and `dir/stem.svg`. Both are rendered
/// in memory first, then each is written to a temporary file in `dir` and renamed
/// over its final name, so a reader never sees a partial file and a failed render
/// leaves no file at all. `dir` must exist.
pub fn write_chart(
    dir: &Path,
    stem: &str,
    chart: &Chart,
    palette: &mut Palette,
    size: ChartSize,
) -> Result<WrittenChart, ChartError> {
    if stem.is_empty() || stem.contains(['/', '\\']) || stem == "." || stem == ".." {
        return Err(ChartError::BadFileName { stem: stem.to_string() });
    }
    let png = render_png(chart, palette, size)?;
    let svg = render_svg(chart, palette, size)?;
    let png_path = dir.join(format!("{stem}.png"));
    let svg_path = dir.join(format!("{stem}.svg"));
    write_atomically(&png_path, &png)?;
    write_atomically(&svg_path, svg.as_bytes())?;
    Ok(WrittenChart {
        png_path,
        svg_path,
        svg,
    })
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, then renames it
/// over `path` (atomic on POSIX file systems: same directory, same device).
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ChartError> {
    let io_err = |source| ChartError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".chart-").suffix(".tmp");
    // tempfile creates 0600 files; a chart is an ordinary output file, readable as
    // the umask allows (0644 usually).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(io_err)?;
    tmp.write_all(bytes).map_err(io_err)?;
    tmp.as_file().sync_all().map_err(io_err)?;
    tmp.persist(path).map_err(|e| io_err(e.error))?;
    Ok(())
}
