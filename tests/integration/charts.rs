//! Specification of the chart layer: every kind renders a valid PNG and SVG,
//! bad or degenerate data never panics, colours follow the palette, files are
//! written atomically.

use sessim::report::charts::{
    BarGroups, Bars, Chart, ChartError, ChartSize, EventBand, LineChart, Marker, Palette, Percentiles, Scale, Series,
    StackedBars, Threshold, TimeSeries, XySeries, render_png, render_svg, write_chart,
};

fn s(v: &str) -> String {
    v.to_string()
}

fn series(name: &str, values: &[f64], ci: Option<&[f64]>) -> Series {
    Series {
        name: s(name),
        values: values.to_vec(),
        ci: ci.map(<[f64]>::to_vec),
    }
}

fn xy(name: &str, x: &[f64], y: &[f64], ci: Option<&[f64]>) -> XySeries {
    XySeries {
        name: s(name),
        x: x.to_vec(),
        y: y.to_vec(),
        ci: ci.map(<[f64]>::to_vec),
    }
}

fn strategies() -> Vec<String> {
    vec![s("ip_hash+local"), s("cookie+redis"), s("tomcat-delta")]
}

/// One realistic chart of each kind.
fn every_kind() -> Vec<Chart> {
    vec![
        StackedBars {
            title: s("Lost sessions by strategy and cause"),
            x_label: s("strategy"),
            y_label: s("lost sessions [%]"),
            categories: strategies(),
            layers: vec![
                series("crash", &[4.1, 0.0, 0.3], None),
                series("eviction", &[0.0, 0.6, 0.0], None),
            ],
            total_ci: Some(vec![0.5, 0.1, 0.1]),
        }
        .into(),
        BarGroups {
            title: s("Requests per backend by strategy"),
            x_label: s("backend"),
            y_label: s("requests [thousands]"),
            categories: vec![s("web1"), s("web2"), s("web3")],
            series: vec![
                series("ip_hash+local", &[410.0, 190.0, 400.0], Some(&[10.0, 8.0, 9.0])),
                series("cookie+redis", &[333.0, 333.0, 334.0], None),
            ],
            ..Default::default()
        }
        .into(),
        Bars {
            title: s("Coefficient of variation of load by strategy"),
            x_label: s("strategy"),
            y_label: s("CV [–]"),
            categories: strategies(),
            values: vec![0.42, 0.004, 0.002],
            ci: Some(vec![0.05, 0.001, 0.001]),
        }
        .into(),
        LineChart {
            title: s("Store p99 latency against load"),
            x_label: s("offered load [requests/s]"),
            y_label: s("p99 latency [ms]"),
            series: vec![xy(
                "cookie+redis",
                &[1e3, 1e4, 2e4, 3e4],
                &[0.9, 1.2, 2.5, 9.0],
                Some(&[0.1, 0.1, 0.3, 1.0]),
            )],
            x_scale: Scale::Log,
            y_scale: Scale::Linear,
            markers: vec![Marker {
                x: 2e4,
                y: Some(2.5),
                label: s("saturation knee"),
            }],
            targets: vec![Threshold {
                y: 5.0,
                label: s("target: p99 < 5 ms"),
            }],
        }
        .into(),
        TimeSeries {
            title: s("Requests per backend over time"),
            x_label: s("simulated time [s]"),
            y_label: s("requests [per 10 s]"),
            series: vec![
                xy("web1", &[0.0, 10.0, 20.0, 30.0], &[250.0, 330.0, 335.0, 250.0], None),
                xy("web2", &[0.0, 10.0, 20.0, 30.0], &[250.0, 0.0, 0.0, 250.0], None),
            ],
            bands: vec![
                EventBand {
                    label: s("web2 down, undetected"),
                    start: 8.0,
                    end: 12.0,
                },
                EventBand {
                    label: s("web2 out of rotation"),
                    start: 12.0,
                    end: 25.0,
                },
            ],
        }
        .into(),
        Percentiles {
            title: s("Response time percentiles by strategy"),
            x_label: s("strategy"),
            y_label: s("response time [ms]"),
            categories: strategies(),
            percentiles: vec![
                series("p50", &[12.0, 13.0, 14.0], None),
                series("p95", &[48.0, 39.0, 61.0], Some(&[3.0, 2.0, 5.0])),
                series("p99", &[130.0, 81.0, 160.0], Some(&[11.0, 7.0, 15.0])),
            ],
        }
        .into(),
    ]
}

/// Degenerate inputs that must draw (a "No data" placeholder at worst), never panic.
fn edge_cases() -> Vec<Chart> {
    let long = "x".repeat(300);
    let nan = f64::NAN;
    let inf = f64::INFINITY;
    vec![
        // Empty everything.
        StackedBars::default().into(),
        BarGroups::default().into(),
        Bars::default().into(),
        LineChart::default().into(),
        TimeSeries::default().into(),
        Percentiles::default().into(),
        // Categories but no series.
        BarGroups {
            categories: strategies(),
            ..Default::default()
        }
        .into(),
        Percentiles {
            categories: strategies(),
            ..Default::default()
        }
        .into(),
        // NaN and infinities everywhere.
        StackedBars {
            categories: vec![s("a"), s("b")],
            layers: vec![series("c", &[nan, inf], None)],
            total_ci: Some(vec![nan, nan]),
            ..Default::default()
        }
        .into(),
        Bars {
            categories: vec![s("a"), s("b")],
            values: vec![nan, -inf],
            ci: Some(vec![inf, nan]),
            ..Default::default()
        }
        .into(),
        LineChart {
            series: vec![xy("a", &[nan, 1.0, inf], &[1.0, nan, 2.0], Some(&[nan, nan, nan]))],
            ..Default::default()
        }
        .into(),
        TimeSeries {
            series: vec![xy("a", &[0.0, 1.0], &[nan, nan], None)],
            bands: vec![EventBand {
                label: s("crash"),
                start: nan,
                end: 3.0,
            }],
            ..Default::default()
        }
        .into(),
        // A single point, on log axes too, with a band and a marker far away.
        LineChart {
            series: vec![xy("a", &[100.0], &[5.0], Some(&[1.0]))],
            x_scale: Scale::Log,
            y_scale: Scale::Log,
            markers: vec![Marker {
                x: 1e6,
                y: Some(0.0),
                label: s("far"),
            }],
            ..Default::default()
        }
        .into(),
        // Log axes with only non-positive values.
        LineChart {
            series: vec![xy("a", &[0.0, -1.0], &[1.0, 2.0], None)],
            x_scale: Scale::Log,
            ..Default::default()
        }
        .into(),
        // All zero.
        StackedBars {
            categories: vec![s("a")],
            layers: vec![series("c", &[0.0], None)],
            total_ci: Some(vec![0.0]),
            ..Default::default()
        }
        .into(),
        Percentiles {
            categories: vec![s("a")],
            percentiles: vec![series("p50", &[0.0], None)],
            ..Default::default()
        }
        .into(),
        LineChart {
            series: vec![xy("a", &[0.0, 0.0], &[0.0, 0.0], None)],
            ..Default::default()
        }
        .into(),
        TimeSeries {
            series: vec![xy("a", &[5.0, 5.0], &[0.0, 0.0], None)],
            bands: vec![EventBand {
                label: s("instant"),
                start: 5.0,
                end: 5.0,
            }],
            ..Default::default()
        }
        .into(),
        // Negative values and a band ending before it starts.
        BarGroups {
            categories: vec![s("a"), s("b")],
            series: vec![series("delta", &[-3.0, 2.0], Some(&[1.0, -1.0]))],
            ..Default::default()
        }
        .into(),
        TimeSeries {
            series: vec![xy("a", &[0.0, 1.0, 2.0], &[-1.0, 1.0, -2.0], None)],
            bands: vec![EventBand {
                label: s("backwards"),
                start: 1.5,
                end: 0.5,
            }],
            ..Default::default()
        }
        .into(),
        // Very long labels everywhere, and many categories and series.
        Percentiles {
            title: long.clone(),
            x_label: long.clone(),
            y_label: long.clone(),
            categories: (0..40).map(|i| format!("{long}{i}")).collect(),
            percentiles: vec![series(&long, &[1.0; 40], None)],
        }
        .into(),
        BarGroups {
            title: long.clone(),
            categories: vec![long.clone()],
            series: (0..60)
                .map(|i| series(&format!("{long}{i}"), &[i as f64], None))
                .collect(),
            ..Default::default()
        }
        .into(),
        LineChart {
            title: long.clone(),
            series: vec![xy(&long, &[1.0, 2.0], &[1.0, 2.0], None)],
            markers: vec![
                Marker {
                    x: 1.5,
                    y: None,
                    label: long.clone()
                };
                7
            ],
            ..Default::default()
        }
        .into(),
        // Huge magnitudes.
        Bars {
            categories: vec![s("a"), s("b")],
            values: vec![1e300, -1e300],
            ci: None,
            ..Default::default()
        }
        .into(),
        LineChart {
            series: vec![xy("a", &[1e-300, 1e300], &[1e-300, 1e300], None)],
            x_scale: Scale::Log,
            y_scale: Scale::Log,
            ..Default::default()
        }
        .into(),
    ]
}

/// Checks the PNG signature and IHDR, decodes the image, and returns its pixels.
fn assert_valid_png(bytes: &[u8], size: ChartSize) -> Vec<u8> {
    assert!(bytes.len() > 1000, "PNG of {} bytes is suspiciously small", bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    assert_eq!(u32::from_be_bytes(bytes[16..20].try_into().unwrap()), size.width);
    assert_eq!(u32::from_be_bytes(bytes[20..24].try_into().unwrap()), size.height);
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (size.width, size.height));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf
}

/// Parses the SVG as XML and returns its `<text>` contents.
fn assert_valid_svg(svg: &str, size: ChartSize) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("SVG is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("width"), Some(size.width.to_string().as_str()));
    assert_eq!(root.attribute("height"), Some(size.height.to_string().as_str()));
    let shapes = root
        .descendants()
        .filter(|n| {
            matches!(
                n.tag_name().name(),
                "rect" | "polyline" | "polygon" | "path" | "circle" | "line"
            )
        })
        .count();
    assert!(shapes > 0, "the SVG has shapes");
    root.descendants()
        .filter(|n| n.tag_name().name() == "text")
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect()
}

/// Dark pixels (text, axes, whiskers) in the band of rows `rows`.
fn dark_pixels(rgb: &[u8], width: u32, rows: std::ops::Range<u32>) -> usize {
    rows.flat_map(|y| (0..width).map(move |x| ((y * width + x) * 3) as usize))
        .filter(|&i| rgb[i] < 100 && rgb[i + 1] < 100 && rgb[i + 2] < 100)
        .count()
}

#[test]
fn every_kind_renders_a_valid_png_and_svg_with_its_title() {
    let size = ChartSize::default();
    let mut palette = Palette::from_names(strategies());
    for chart in every_kind() {
        let png = render_png(&chart, &mut palette, size).unwrap();
        let rgb = assert_valid_png(&png, size);
        // The title is rasterised with the embedded font: dark pixels in the top band.
        assert!(
            dark_pixels(&rgb, size.width, 0..50) > 200,
            "{}: no title pixels",
            chart.title()
        );
        let svg = render_svg(&chart, &mut palette, size).unwrap();
        let texts = assert_valid_svg(&svg, size);
        assert!(
            texts.iter().any(|t| t == chart.title()),
            "{}: title missing from {texts:?}",
            chart.title()
        );
        assert!(
            texts.len() > 5,
            "{}: axis labels, ticks and legend are text",
            chart.title()
        );
    }
}

#[test]
fn charts_have_axis_labels_and_a_legend() {
    let mut palette = Palette::new();
    let chart = &every_kind()[1];
    let texts = assert_valid_svg(
        &render_svg(chart, &mut palette, ChartSize::default()).unwrap(),
        ChartSize::default(),
    );
    for expected in [
        "backend",
        "requests [thousands]",
        "web1",
        "ip_hash+local",
        "cookie+redis",
        "confidence interval",
    ] {
        assert!(
            texts.iter().any(|t| t == expected),
            "{expected:?} missing from {texts:?}"
        );
    }
}

#[test]
fn degenerate_data_draws_without_panicking() {
    let size = ChartSize::default();
    for (i, chart) in edge_cases().iter().enumerate() {
        let mut palette = Palette::new();
        let png = render_png(chart, &mut palette, size).unwrap_or_else(|e| panic!("edge case {i}: {e}"));
        assert_valid_png(&png, size);
        let svg = render_svg(chart, &mut palette, size).unwrap_or_else(|e| panic!("edge case {i}: {e}"));
        assert_valid_svg(&svg, size);
    }
}

#[test]
fn empty_charts_say_there_is_no_data() {
    let mut palette = Palette::new();
    let chart: Chart = Bars {
        title: s("Imbalance"),
        ..Default::default()
    }
    .into();
    let texts = assert_valid_svg(
        &render_svg(&chart, &mut palette, ChartSize::default()).unwrap(),
        ChartSize::default(),
    );
    assert_eq!(texts, ["Imbalance", "No data to show"]);
}

#[test]
fn long_titles_are_shortened_with_an_ellipsis() {
    let mut palette = Palette::new();
    let chart: Chart = Bars {
        title: "t".repeat(500),
        ..Default::default()
    }
    .into();
    let texts = assert_valid_svg(
        &render_svg(&chart, &mut palette, ChartSize::default()).unwrap(),
        ChartSize::default(),
    );
    assert!(
        texts[0].ends_with('…') && texts[0].chars().count() < 200,
        "{}",
        texts[0]
    );
}

#[test]
fn mismatched_lengths_are_clear_errors() {
    let mut palette = Palette::new();
    let cases: Vec<(Chart, &str)> = vec![
        (
            Bars {
                title: s("CV"),
                categories: strategies(),
                values: vec![1.0],
                ..Default::default()
            }
            .into(),
            "chart \"CV\": values has 1 value but there are 3 categories; give one value per category",
        ),
        (
            StackedBars {
                title: s("Lost"),
                categories: strategies(),
                layers: vec![series("crash", &[1.0, 2.0, 3.0], None)],
                total_ci: Some(vec![1.0]),
                ..Default::default()
            }
            .into(),
            "chart \"Lost\": total_ci has 1 value but there are 3 categories; give one value per category",
        ),
        (
            BarGroups {
                title: s("Per backend"),
                categories: vec![s("web1")],
                series: vec![series("ip_hash", &[1.0], Some(&[]))],
                ..Default::default()
            }
            .into(),
            "chart \"Per backend\": ci of series \"ip_hash\" has 0 values but there is 1 category; give one value per category",
        ),
        (
            Percentiles {
                title: s("Latency"),
                categories: strategies(),
                percentiles: vec![series("p99", &[1.0, 2.0], None)],
                ..Default::default()
            }
            .into(),
            "chart \"Latency\": percentile \"p99\" has 2 values but there are 3 categories; give one value per category",
        ),
        (
            TimeSeries {
                title: s("Over time"),
                series: vec![xy("web1", &[1.0], &[], None)],
                ..Default::default()
            }
            .into(),
            "chart \"Over time\": y of series \"web1\" has 0 values but there is 1 x value; give one value per x value",
        ),
    ];
    for (chart, message) in cases {
        for result in [
            render_png(&chart, &mut palette, ChartSize::default()).map(|_| ()),
            render_svg(&chart, &mut palette, ChartSize::default()).map(|_| ()),
        ] {
            let err = result.unwrap_err();
            assert!(matches!(err, ChartError::InvalidData { .. }));
            assert_eq!(err.to_string(), message);
        }
    }
}

#[test]
fn sizes_out_of_range_are_rejected() {
    let mut palette = Palette::new();
    let chart = &every_kind()[0];
    for size in [
        ChartSize { width: 0, height: 0 },
        ChartSize {
            width: 100,
            height: 600,
        },
        ChartSize {
            width: 100_000,
            height: 600,
        },
    ] {
        let err = render_png(chart, &mut palette, size).unwrap_err();
        assert!(matches!(err, ChartError::BadSize { .. }), "{err}");
    }
    assert_eq!(
        render_svg(
            chart,
            &mut palette,
            ChartSize {
                width: 300,
                height: 200
            }
        )
        .unwrap_err()
        .to_string(),
        "chart \"Lost sessions by strategy and cause\": size 300x200 px is out of range: the width must be 400 to 8000 px and the height 250 to 4000 px"
    );
    // The smallest accepted size still draws everything.
    let small = ChartSize {
        width: 400,
        height: 250,
    };
    for chart in every_kind().iter().chain(&edge_cases()) {
        assert_valid_png(&render_png(chart, &mut palette, small).unwrap(), small);
    }
}

#[test]
fn a_strategy_keeps_its_colour_in_every_chart() {
    // ip_hash+local is the first strategy: Okabe-Ito blue, #0072B2, in the bar
    // chart (as a category) and the grouped bars (as a series), even when the
    // grouped chart lists it second.
    let mut palette = Palette::from_names(strategies());
    let blue = palette.get("ip_hash+local").unwrap().hex().to_uppercase();
    let bars = render_svg(&every_kind()[2], &mut palette, ChartSize::default()).unwrap();
    let grouped: Chart = BarGroups {
        categories: vec![s("web1")],
        series: vec![
            series("cookie+redis", &[1.0], None),
            series("ip_hash+local", &[2.0], None),
        ],
        ..Default::default()
    }
    .into();
    let grouped = render_svg(&grouped, &mut palette, ChartSize::default()).unwrap();
    assert!(bars.contains(&format!("fill=\"{blue}\"")));
    assert!(grouped.contains(&format!("fill=\"{blue}\"")));
    let cookie = palette.get("cookie+redis").unwrap().hex().to_uppercase();
    assert!(grouped.contains(&format!("fill=\"{cookie}\"")));
}

#[test]
fn rendering_is_deterministic() {
    for chart in every_kind() {
        let (mut a, mut b) = (Palette::new(), Palette::new());
        let size = ChartSize::default();
        assert_eq!(
            render_png(&chart, &mut a, size).unwrap(),
            render_png(&chart, &mut b, size).unwrap()
        );
        assert_eq!(
            render_svg(&chart, &mut a, size).unwrap(),
            render_svg(&chart, &mut b, size).unwrap()
        );
    }
}

#[test]
fn write_chart_writes_both_files_and_returns_the_svg() {
    let dir = tempfile::tempdir().unwrap();
    let mut palette = Palette::new();
    let chart = &every_kind()[4];
    let written = write_chart(
        dir.path(),
        "requests_over_time",
        chart,
        &mut palette,
        ChartSize::default(),
    )
    .unwrap();
    assert_eq!(written.png_path, dir.path().join("requests_over_time.png"));
    assert_eq!(written.svg_path, dir.path().join("requests_over_time.svg"));
    assert_valid_png(&std::fs::read(&written.png_path).unwrap(), ChartSize::default());
    assert_eq!(std::fs::read_to_string(&written.svg_path).unwrap(), written.svg);
    // Writing again replaces the files; no temporary file is left behind.
    write_chart(
        dir.path(),
        "requests_over_time",
        chart,
        &mut palette,
        ChartSize::default(),
    )
    .unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["requests_over_time.png", "requests_over_time.svg"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&written.png_path).unwrap().permissions().mode();
        assert_ne!(mode & 0o044, 0, "chart files are not private temp files: mode {mode:o}");
    }
}

#[test]
fn a_failed_render_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut palette = Palette::new();
    let bad: Chart = Bars {
        categories: strategies(),
        ..Default::default()
    }
    .into();
    assert!(write_chart(dir.path(), "cv", &bad, &mut palette, ChartSize::default()).is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn write_chart_reports_bad_names_and_missing_directories() {
    let dir = tempfile::tempdir().unwrap();
    let mut palette = Palette::new();
    let chart = &every_kind()[0];
    for stem in ["", "a/b", "..", "a\\b"] {
        let err = write_chart(dir.path(), stem, chart, &mut palette, ChartSize::default()).unwrap_err();
        assert!(matches!(err, ChartError::BadFileName { .. }), "{stem:?}: {err}");
    }
    let missing = dir.path().join("no/such/dir");
    let err = write_chart(&missing, "lost", chart, &mut palette, ChartSize::default()).unwrap_err();
    assert!(matches!(err, ChartError::Io { .. }));
    assert!(
        err.to_string().starts_with(&format!(
            "cannot write chart file {}",
            missing.join("lost.png").display()
        )),
        "{err}"
    );
}
