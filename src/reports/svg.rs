//! A small inline-SVG chart renderer for the HTML report: line charts with
//! optional filled areas, axes with computed "nice" ticks and labels, a
//! legend; each line carries its data (`data-label`, `data-points`).
//! Every coordinate is computed from the data; non-finite points
//! are dropped, degenerate ranges widened, so the output never holds NaN.

use std::fmt::Write as _;

use maud::{html, Markup};

/// Width of the drawing, in SVG units (it scales to the page).
const WIDTH: f64 = 760.0;
/// Height of the drawing.
const HEIGHT: f64 = 280.0;
/// Space for the y tick labels and axis title.
const LEFT: f64 = 64.0;
/// Space right of the plot.
const RIGHT: f64 = 32.0;
/// Space for the legend.
const TOP: f64 = 28.0;
/// Space for the x tick labels and axis title.
const BOTTOM: f64 = 48.0;
/// Room for one legend entry: six fit in a row.
const LEGEND_STEP: f64 = 110.0;

/// One line of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// Its name in the legend.
    pub label: String,
    /// Its colour (any CSS colour).
    pub colour: &'static str,
    /// Its points, `(x, y)`, in x order.
    pub points: Vec<(f64, f64)>,
    /// Whether the area under it is filled.
    pub area: bool,
}

/// A line chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// The x axis' title.
    pub x_label: String,
    /// The y axis' title.
    pub y_label: String,
    /// The lines.
    pub lines: Vec<Line>,
    /// Fixed x ticks `(value, label)`, or `None` for computed ones.
    pub x_ticks: Option<Vec<(f64, String)>>,
    /// What the chart says when it has no point.
    pub empty_text: String,
}

/// A "nice" tick step (1, 2 or 5 times a power of ten) for about `target`
/// ticks over `span`.
pub fn nice_step(span: f64, target: f64) -> f64 {
    if !(span.is_finite() && span > 0.0 && target >= 1.0) {
        return 1.0;
    }
    let raw = span / target;
    let power = 10f64.powf(raw.log10().floor());
    let fraction = raw / power;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// Ticks from `low` to `high` (both rounded out to the step): `(range, ticks)`.
fn ticks(low: f64, high: f64) -> ((f64, f64), Vec<f64>) {
    let step = nice_step(high - low, 5.0);
    let start = (low / step).floor() * step;
    let end = (high / step).ceil() * step;
    let count = ((end - start) / step).round() as usize;
    let ticks = (0..=count.min(50))
        .map(|i| start + step * i as f64)
        .collect();
    ((start, end), ticks)
}

/// A tick label: as few decimals as the step needs.
pub fn tick_label(value: f64, step: f64) -> String {
    let decimals = if step >= 1.0 || step <= 0.0 {
        0
    } else {
        (-step.log10().floor()).clamp(0.0, 6.0) as usize
    };
    let text = format!("{value:.decimals$}");
    // "-0" reads oddly.
    if text
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        "0".to_owned()
    } else {
        text
    }
}

/// A finite range over `values`, widened when empty or a single value.
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !(low.is_finite() && high.is_finite()) {
        (0.0, 1.0)
    } else if high - low <= f64::EPSILON * high.abs().max(1.0) {
        (low - 0.5, high + 0.5)
    } else {
        (low, high)
    }
}

/// Maps data to drawing coordinates.
struct Scale {
    x: (f64, f64),
    y: (f64, f64),
}

impl Scale {
    fn x(&self, v: f64) -> f64 {
        LEFT + (v - self.x.0) / (self.x.1 - self.x.0) * (WIDTH - LEFT - RIGHT)
    }

    fn y(&self, v: f64) -> f64 {
        HEIGHT - BOTTOM - (v - self.y.0) / (self.y.1 - self.y.0) * (HEIGHT - TOP - BOTTOM)
    }
}

fn finite_points(line: &Line) -> impl Iterator<Item = (f64, f64)> + '_ {
    line.points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
}

impl Chart {
    /// The chart as an `<svg>` element.
    pub fn render(&self) -> Markup {
        let has_points = self.lines.iter().any(|l| finite_points(l).next().is_some());
        let view_box = format!("0 0 {WIDTH} {HEIGHT}");
        if !has_points {
            return html! {
                svg class="chart" viewBox=(view_box) role="img" aria-label=(self.empty_text) {
                    rect x="0.5" y="0.5" width=(WIDTH - 1.0) height=(HEIGHT - 1.0)
                        fill="none" stroke="#d0d7de" {}
                    text x=(WIDTH / 2.0) y=(HEIGHT / 2.0) text-anchor="middle" class="empty" {
                        (self.empty_text)
                    }
                }
            };
        }
        let all = || self.lines.iter().flat_map(finite_points);
        let (x_ticks, x_range) = match &self.x_ticks {
            Some(fixed) => {
                let fixed: Vec<(f64, String)> = fixed
                    .iter()
                    .filter(|(v, _)| v.is_finite())
                    .cloned()
                    .collect();
                let range = range(all().map(|(x, _)| x).chain(fixed.iter().map(|(v, _)| *v)));
                (fixed, range)
            }
            None => {
                let (low, high) = range(all().map(|(x, _)| x));
                let (range, values) = ticks(low, high);
                let step = nice_step(high - low, 5.0);
                let labelled = values.iter().map(|v| (*v, tick_label(*v, step))).collect();
                (labelled, range)
            }
        };
        // The y axis starts at 0: rates and latencies are never negative.
        let (_, y_high) = range(all().map(|(_, y)| y).chain(std::iter::once(0.0)));
        let y_step = nice_step(y_high, 5.0);
        let (y_range, y_ticks) = ticks(0.0, y_high);
        let scale = Scale {
            x: x_range,
            y: y_range,
        };
        let (left, right) = (LEFT, WIDTH - RIGHT);
        let (top, bottom) = (TOP, HEIGHT - BOTTOM);
        html! {
            svg class="chart" viewBox=(view_box) role="img" aria-label=(self.y_label) {
                g class="grid" {
                    @for y in &y_ticks {
                        @let py = coord(scale.y(*y));
                        line x1=(coord(left)) x2=(coord(right)) y1=(py) y2=(py) stroke="#eaeef2" {}
                        text x=(coord(left - 6.0)) y=(py) dy="0.32em" text-anchor="end" {
                            (tick_label(*y, y_step))
                        }
                    }
                    @for (x, label) in &x_ticks {
                        @let px = coord(scale.x(*x));
                        line x1=(px) x2=(px) y1=(coord(bottom)) y2=(coord(bottom + 5.0)) stroke="#57606a" {}
                        text x=(px) y=(coord(bottom + 18.0)) text-anchor="middle" { (label) }
                    }
                }
                line class="axis" x1=(coord(left)) x2=(coord(left)) y1=(coord(top)) y2=(coord(bottom)) stroke="#57606a" {}
                line class="axis" x1=(coord(left)) x2=(coord(right)) y1=(coord(bottom)) y2=(coord(bottom)) stroke="#57606a" {}
                text x=(coord((left + right) / 2.0)) y=(coord(HEIGHT - 8.0)) text-anchor="middle" class="axis-title" {
                    (self.x_label)
                }
                text transform=(format!("translate(14 {}) rotate(-90)", coord((top + bottom) / 2.0)))
                    text-anchor="middle" class="axis-title" { (self.y_label) }
                @for line in &self.lines {
                    @let points = polyline(&scale, line);
                    @if !points.is_empty() {
                        @if line.area {
                            polygon points=(area(&scale, line)) fill=(line.colour) fill-opacity="0.15" stroke="none" {}
                        }
                        polyline points=(points) fill="none" stroke=(line.colour) stroke-width="2"
                            stroke-linejoin="round" data-label=(line.label) data-points=(data(line)) {}
                    }
                }
                g class="legend" {
                    @for (i, line) in self.lines.iter().enumerate() {
                        @let x = left + 8.0 + LEGEND_STEP * i as f64;
                        rect x=(coord(x)) y="8" width="12" height="12" fill=(line.colour) {}
                        text x=(coord(x + 17.0)) y="18" { (line.label) }
                    }
                }
            }
        }
    }
}

/// A coordinate with one decimal.
fn coord(v: f64) -> String {
    format!("{v:.1}")
}

fn polyline(scale: &Scale, line: &Line) -> String {
    let mut out = String::new();
    for (x, y) in finite_points(line) {
        if !out.is_empty() {
            out.push(' ');
        }
        let _ = write!(out, "{:.1},{:.1}", scale.x(x), scale.y(y));
    }
    out
}

/// The line's data (not its drawing): `x,y x,y ...` as given, so the
/// figures behind a chart can be read from the page.
fn data(line: &Line) -> String {
    let mut out = String::new();
    for (x, y) in finite_points(line) {
        if !out.is_empty() {
            out.push(' ');
        }
        let _ = write!(out, "{x},{y}");
    }
    out
}

fn area(scale: &Scale, line: &Line) -> String {
    let points: Vec<(f64, f64)> = finite_points(line).collect();
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return String::new();
    };
    let base = scale.y(scale.y.0);
    let mut out = format!("{:.1},{:.1}", scale.x(first.0), base);
    for (x, y) in &points {
        let _ = write!(out, " {:.1},{:.1}", scale.x(*x), scale.y(*y));
    }
    let _ = write!(out, " {:.1},{:.1}", scale.x(last.0), base);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(points: Vec<(f64, f64)>) -> String {
        Chart {
            x_label: "s".into(),
            y_label: "req/s".into(),
            lines: vec![Line {
                label: "requests".into(),
                colour: "#0969da",
                points,
                area: true,
            }],
            x_ticks: None,
            empty_text: "no data".into(),
        }
        .render()
        .into_string()
    }

    #[test]
    fn steps_and_labels() {
        assert_eq!(nice_step(100.0, 5.0), 20.0);
        assert_eq!(nice_step(7.0, 5.0), 2.0);
        assert!((nice_step(0.3, 5.0) - 0.1).abs() < 1e-12);
        assert_eq!(nice_step(0.0, 5.0), 1.0);
        assert_eq!(tick_label(0.30000000000000004, 0.1), "0.3");
        assert_eq!(tick_label(40.0, 20.0), "40");
        assert_eq!(tick_label(-0.0, 1.0), "0");
    }

    #[test]
    fn drawn_from_the_data_without_nan() {
        let svg = chart(vec![(0.0, 10.0), (1.0, 30.0), (2.0, f64::NAN), (3.0, 20.0)]);
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("<polyline") && svg.contains("<polygon"));
        assert!(svg.contains(r#"data-points="0,10 1,30 3,20""#), "{svg}");
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        // Ticks 0..30 on y, 0..3 on x.
        assert!(
            svg.contains(">30</text>") && svg.contains(">3</text>"),
            "{svg}"
        );
        // One point and all-zero data still draw.
        for points in [vec![(5.0, 0.0)], vec![(0.0, 0.0), (1.0, 0.0)]] {
            let svg = chart(points);
            assert!(svg.contains("<polyline") && !svg.contains("NaN"), "{svg}");
        }
        let empty = chart(Vec::new());
        assert!(empty.contains("no data") && !empty.contains("<polyline"));
    }
}
