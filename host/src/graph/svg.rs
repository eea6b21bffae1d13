//! The graph as SVG. `layout-rs` places each block's nodes and routes its
//! edges (layered, top to bottom); a Parallel or Map node is sized to hold
//! its blocks, laid out first, which are then drawn inside it, so nesting
//! needs no clusters from the layout crate.
//!
//! Colours are presentation attributes, not a `<style>` element, so the
//! same SVG works alone and inside the console under its
//! Content-Security-Policy; each state is a `<g class="state"
//! data-state="NAME" data-status="...">` the console recolours live.

use std::fmt::Write as _;

use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::format::{ClipHandle, RenderBackend};
use layout::core::geometry::Point;
use layout::core::style::StyleAttr;
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;

use super::{Block, EdgeKind, Graph, LABEL_CHARS, Overlay, StateStatus, shorten};

const CHAR_W: f64 = 7.4;
const NODE_H: f64 = 46.0;
const HEADER_H: f64 = 46.0;
const PAD: f64 = 16.0;
const GAP: f64 = 24.0;
/// The font size layout-rs sizes an edge label with: it counts a whole
/// font size per character, so a smaller one matches our 11px text.
const LABEL_LAYOUT_FONT: usize = 7;

/// The SVG of `graph`, coloured by `overlay` when given.
pub fn render(graph: &Graph, overlay: Option<&Overlay>) -> String {
    let laid = lay_out(&graph.root, overlay, true);
    let (w, h) = (laid.w + 2.0 * PAD, laid.h + 2.0 * PAD);
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"sandstep-graph\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" font-family=\"Helvetica, Arial, sans-serif\">"
    );
    out.push_str(
        "<defs><marker id=\"sandstep-arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"context-stroke\"/></marker></defs>",
    );
    let _ = write!(
        out,
        "<rect width=\"{w:.0}\" height=\"{h:.0}\" fill=\"#ffffff\"/>"
    );
    draw(&mut out, &laid.items, PAD, PAD);
    out.push_str("</svg>");
    out
}

/// Escapes text for XML content and attribute values.
pub fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // XML 1.0 allows no other control characters.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

enum Item {
    Node {
        name: String,
        kind: &'static str,
        detail: Option<String>,
        status: StateStatus,
        summary: Option<String>,
        x: f64,
        y: f64,
        w: f64,
        h: f64,
        children: Vec<(f64, f64, String, Laid)>,
    },
    Terminal {
        start: bool,
        x: f64,
        y: f64,
        w: f64,
        h: f64,
    },
    Edge {
        kind: EdgeKind,
        path: Vec<(Point, Point)>,
    },
    Label {
        kind: EdgeKind,
        full: String,
        text: String,
        x: f64,
        y: f64,
    },
}

struct Laid {
    w: f64,
    h: f64,
    items: Vec<Item>,
}

fn edge_colour(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Next | EdgeKind::Choice => "#414d5c",
        EdgeKind::Default => "#5f6b7a",
        EdgeKind::Catch => "#d91515",
        EdgeKind::Retry => "#c56b00",
    }
}

fn kind_of(colour: &Color) -> EdgeKind {
    let web = colour.to_web_color();
    [EdgeKind::Catch, EdgeKind::Retry, EdgeKind::Default]
        .into_iter()
        .find(|k| web.starts_with(edge_colour(*k)))
        .unwrap_or(EdgeKind::Next)
}

fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * CHAR_W
}

/// A node's size and its children laid out, before placement.
struct Sized {
    w: f64,
    h: f64,
    children: Vec<(f64, f64, String, Laid)>,
}

fn size_node(node: &super::Node, overlay: Option<&Overlay>) -> Sized {
    let detail = node.detail.as_deref().map(|d| shorten(d, 40));
    let label_w = text_width(&shorten(&node.name, 40))
        .max(detail.as_deref().map_or(0.0, text_width) * 0.9)
        .max(text_width(node.kind))
        + 2.0 * PAD;
    if node.children.is_empty() {
        return Sized {
            w: label_w.max(110.0),
            h: NODE_H,
            children: Vec::new(),
        };
    }
    let mut children = Vec::new();
    let mut x = PAD;
    let mut inner_h: f64 = 0.0;
    for block in &node.children {
        let laid = lay_out(block, overlay, false);
        let title_w = text_width(&block.title);
        let w = laid.w.max(title_w) + 2.0 * PAD;
        let h = laid.h + 2.0 * PAD + 18.0;
        inner_h = inner_h.max(h);
        children.push((x, HEADER_H, block.title.clone(), laid));
        x += w + GAP;
    }
    let inner_w = x - GAP + PAD;
    Sized {
        w: inner_w.max(label_w),
        h: HEADER_H + inner_h + PAD,
        children,
    }
}

fn lay_out(block: &Block, overlay: Option<&Overlay>, root: bool) -> Laid {
    let sized: Vec<Sized> = block.nodes.iter().map(|n| size_node(n, overlay)).collect();
    let placed =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| place(block, &sized, root)));
    let mut placement = placed.unwrap_or_else(|_| column(&sized, root));
    let mut items = Vec::new();
    for ((i, node), sized) in block.nodes.iter().enumerate().zip(sized) {
        let Some((x, y)) = placement.nodes.get(i).copied() else {
            continue;
        };
        let summary = overlay
            .and_then(|o| o.states.get(&node.name))
            .and_then(|s| {
                let it = &s.iterations;
                if !it.is_empty() {
                    let get = |k: &str| it.get(k).copied().unwrap_or(0);
                    Some(format!(
                        "{} items: {} ok, {} failed",
                        get("started"),
                        get("succeeded"),
                        get("failed") + get("aborted")
                    ))
                } else if s.visits_total > 1 {
                    Some(format!("×{}", s.visits_total))
                } else {
                    None
                }
            });
        items.push(Item::Node {
            name: node.name.clone(),
            kind: node.kind,
            detail: node.detail.clone(),
            status: overlay.map_or(StateStatus::NotReached, |o| o.status(&node.name)),
            summary,
            x,
            y,
            w: sized.w,
            h: sized.h,
            children: sized.children,
        });
    }
    for (start, (x, y)) in placement.terminals.drain(..) {
        items.push(Item::Terminal {
            start,
            x,
            y,
            w: 64.0,
            h: 26.0,
        });
    }
    items.append(&mut placement.rest);
    // Normalize to the origin.
    let (mut min_x, mut min_y, mut max_x, mut max_y) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    let mut grow = |x: f64, y: f64| {
        min_x = min_x.min(x);
        min_y = min_y.min(y);
        max_x = max_x.max(x);
        max_y = max_y.max(y);
    };
    for item in &items {
        match item {
            Item::Node { x, y, w, h, .. } | Item::Terminal { x, y, w, h, .. } => {
                grow(*x, *y);
                grow(x + w, y + h);
            }
            Item::Edge { path, .. } => {
                for (a, b) in path {
                    grow(a.x, a.y);
                    grow(b.x, b.y);
                }
            }
            Item::Label { x, y, text, .. } => {
                let half = text_width(text) * 0.8 / 2.0;
                grow(x - half, y - 8.0);
                grow(x + half, y + 8.0);
            }
        }
    }
    if items.is_empty() {
        return Laid {
            w: 0.0,
            h: 0.0,
            items,
        };
    }
    for item in &mut items {
        match item {
            Item::Node { x, y, .. } | Item::Terminal { x, y, .. } | Item::Label { x, y, .. } => {
                *x -= min_x;
                *y -= min_y;
            }
            Item::Edge { path, .. } => {
                for (a, b) in path {
                    *a = Point::new(a.x - min_x, a.y - min_y);
                    *b = Point::new(b.x - min_x, b.y - min_y);
                }
            }
        }
    }
    Laid {
        w: max_x - min_x,
        h: max_y - min_y,
        items,
    }
}

#[derive(Default)]
struct Placement {
    /// Top-left corner of each node, by index.
    nodes: Vec<(f64, f64)>,
    terminals: Vec<(bool, (f64, f64))>,
    rest: Vec<Item>,
}

/// Places `block` with layout-rs.
fn place(block: &Block, sized: &[Sized], root: bool) -> Placement {
    let mut vg = VisualGraph::new(Orientation::TopToBottom);
    let look = StyleAttr::simple();
    let handles: Vec<_> = sized
        .iter()
        .enumerate()
        .map(|(i, s)| {
            vg.add_node(Element::create_with_properties(
                ShapeKind::Box(String::new()),
                look.clone(),
                Orientation::TopToBottom,
                Point::new(s.w, s.h),
                format!("n{i}"),
            ))
        })
        .collect();
    let arrow = |kind: EdgeKind, label: &str| {
        let mut look = StyleAttr::simple();
        look.line_color = Color::fast(edge_colour(kind));
        look.font_size = LABEL_LAYOUT_FONT;
        let mut arrow = Arrow::simple(&shorten(label, LABEL_CHARS));
        arrow.look = look;
        arrow.end = LineEndKind::Arrow;
        arrow
    };
    if root {
        let terminal = |key: &str| {
            Element::create_with_properties(
                ShapeKind::Box(String::new()),
                StyleAttr::simple(),
                Orientation::TopToBottom,
                Point::new(64.0, 26.0),
                key.to_owned(),
            )
        };
        let start = vg.add_node(terminal("start"));
        let end = vg.add_node(terminal("end"));
        if let Some(first) = handles.get(block.start) {
            vg.add_edge(arrow(EdgeKind::Next, ""), start, *first);
        }
        for (node, handle) in block.nodes.iter().zip(&handles) {
            if node.end {
                vg.add_edge(arrow(EdgeKind::Next, ""), *handle, end);
            }
        }
    }
    // One edge per pair of states and kind: labels of parallel rules join.
    let mut merged: Vec<(usize, usize, EdgeKind, Vec<String>)> = Vec::new();
    for edge in &block.edges {
        match merged
            .iter_mut()
            .find(|(f, t, k, _)| (*f, *t, *k) == (edge.from, edge.to, edge.kind))
        {
            Some((_, _, _, labels)) => labels.push(edge.label.clone()),
            None => merged.push((edge.from, edge.to, edge.kind, vec![edge.label.clone()])),
        }
    }
    for (from, to, kind, labels) in merged {
        if let (Some(a), Some(b)) = (handles.get(from), handles.get(to)) {
            vg.add_edge(arrow(kind, &labels.join(" | ")), *a, *b);
        }
    }
    let mut canvas = Canvas::default();
    vg.do_it(false, false, false, &mut canvas);
    let mut placement = Placement {
        nodes: vec![(0.0, 0.0); sized.len()],
        ..Placement::default()
    };
    for (key, (x, y)) in canvas.rects {
        match key.as_str() {
            "start" => placement.terminals.push((true, (x, y))),
            "end" => placement.terminals.push((false, (x, y))),
            k => {
                if let Some(i) = k.strip_prefix('n').and_then(|i| i.parse::<usize>().ok())
                    && let Some(slot) = placement.nodes.get_mut(i)
                {
                    *slot = (x, y);
                }
            }
        }
    }
    // Full labels for the tooltips, by their shortened text.
    let full = |text: &str| {
        block
            .edges
            .iter()
            .map(|e| e.label.clone())
            .find(|l| shorten(l, LABEL_CHARS) == text)
            .unwrap_or_else(|| text.to_owned())
    };
    placement.rest = canvas
        .items
        .into_iter()
        .map(|item| match item {
            Item::Label {
                kind, text, x, y, ..
            } => Item::Label {
                kind,
                full: full(&text),
                text,
                x,
                y,
            },
            other => other,
        })
        .collect();
    placement
}

/// A plain column: only if the layout crate panics on a graph.
fn column(sized: &[Sized], root: bool) -> Placement {
    let mut y = if root { 40.0 } else { 0.0 };
    let mut placement = Placement::default();
    if root {
        placement.terminals.push((true, (0.0, 0.0)));
    }
    for s in sized {
        placement.nodes.push((0.0, y));
        y += s.h + GAP;
    }
    if root {
        placement.terminals.push((false, (0.0, y)));
    }
    placement
}

/// Collects what layout-rs draws.
#[derive(Default)]
struct Canvas {
    rects: Vec<(String, (f64, f64))>,
    items: Vec<Item>,
}

impl RenderBackend for Canvas {
    fn draw_rect(
        &mut self,
        xy: Point,
        _size: Point,
        _look: &StyleAttr,
        properties: Option<String>,
        _clip: Option<ClipHandle>,
    ) {
        if let Some(key) = properties {
            self.rects.push((key, (xy.x, xy.y)));
        }
    }

    fn draw_line(&mut self, _: Point, _: Point, _: &StyleAttr, _: Option<String>) {}

    fn draw_circle(&mut self, _: Point, _: Point, _: &StyleAttr, _: Option<String>) {}

    fn draw_text(&mut self, xy: Point, text: &str, look: &StyleAttr) {
        if !text.is_empty() {
            self.items.push(Item::Label {
                kind: kind_of(&look.line_color),
                full: String::new(),
                text: text.to_owned(),
                x: xy.x,
                y: xy.y,
            });
        }
    }

    fn draw_arrow(
        &mut self,
        path: &[(Point, Point)],
        _dashed: bool,
        _head: (bool, bool),
        look: &StyleAttr,
        _properties: Option<String>,
        _text: &str,
    ) {
        if path.len() >= 2 {
            self.items.push(Item::Edge {
                kind: kind_of(&look.line_color),
                path: path.to_vec(),
            });
        }
    }

    fn create_clip(&mut self, _: Point, _: Point, _: usize) -> ClipHandle {
        0
    }
}

fn draw(out: &mut String, items: &[Item], dx: f64, dy: f64) {
    // Edges first, so nodes and labels sit on top of them.
    for item in items {
        if let Item::Edge { kind, path } = item {
            let p = |pt: &Point| format!("{:.1} {:.1}", pt.x + dx, pt.y + dy);
            let mut d = format!(
                "M {} C {}, {}, {}",
                p(&path[0].0),
                p(&path[0].1),
                p(&path[1].0),
                p(&path[1].1)
            );
            for (a, b) in &path[2..] {
                let _ = write!(d, " S {}, {}", p(a), p(b));
            }
            let dash = match kind {
                EdgeKind::Catch | EdgeKind::Retry => " stroke-dasharray=\"6,4\"",
                EdgeKind::Default => " stroke-dasharray=\"2,3\"",
                _ => "",
            };
            let _ = write!(
                out,
                "<path class=\"edge edge-{}\" d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"{dash} marker-end=\"url(#sandstep-arrow)\"/>",
                kind.as_str(),
                edge_colour(*kind)
            );
        }
    }
    for item in items {
        match item {
            Item::Edge { .. } => {}
            Item::Label {
                kind,
                full,
                text,
                x,
                y,
            } => {
                let (x, y) = (x + dx, y + dy);
                let w = text_width(text) * 0.8 + 8.0;
                let _ = write!(
                    out,
                    "<g class=\"edge-label edge-{}\"><title>{}</title><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"16\" rx=\"3\" fill=\"#ffffff\" fill-opacity=\"0.9\"/><text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"{}\">{}</text></g>",
                    kind.as_str(),
                    xml(full),
                    x - w / 2.0,
                    y - 9.0,
                    y + 3.0,
                    edge_colour(*kind),
                    xml(text)
                );
            }
            Item::Terminal { start, x, y, w, h } => {
                let (x, y) = (x + dx, y + dy);
                let word = if *start { "Start" } else { "End" };
                let _ = write!(
                    out,
                    "<g class=\"terminal\"><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"13\" fill=\"#414d5c\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#ffffff\">{word}</text></g>",
                    x + w / 2.0,
                    y + h / 2.0 + 4.0
                );
            }
            Item::Node {
                name,
                kind,
                detail,
                status,
                summary,
                x,
                y,
                w,
                h,
                children,
            } => {
                let (x, y) = (x + dx, y + dy);
                let (fill, stroke) = status.colours();
                let container = !children.is_empty();
                let _ = write!(
                    out,
                    "<g class=\"state\" data-state=\"{}\" data-type=\"{kind}\" data-status=\"{}\" tabindex=\"0\"><title>{} ({kind})</title><rect class=\"state-box\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"6\" fill=\"{}\" stroke=\"{stroke}\" stroke-width=\"2\"/>",
                    xml(name),
                    status.as_str(),
                    xml(name),
                    if container { "#fafafa" } else { fill },
                );
                let cx = x + w / 2.0;
                let title_y = if container { y + 18.0 } else { y + 19.0 };
                let _ = write!(
                    out,
                    "<text x=\"{cx:.1}\" y=\"{title_y:.1}\" font-size=\"13\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"#16191f\">{}</text>",
                    xml(&shorten(name, 40))
                );
                let second = match (detail, summary) {
                    (_, Some(summary)) => format!("{kind} · {summary}"),
                    (Some(detail), None) => shorten(detail, 40),
                    (None, None) => (*kind).to_owned(),
                };
                let _ = write!(
                    out,
                    "<text class=\"state-detail\" x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#5f6b7a\">{}</text>",
                    title_y + 16.0,
                    xml(&second)
                );
                if container {
                    // The status shows as a band under the title.
                    let _ = write!(
                        out,
                        "<rect class=\"state-band\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"4\" fill=\"{stroke}\"/>",
                        x + 1.0,
                        y + HEADER_H - 8.0,
                        w - 2.0
                    );
                }
                out.push_str("</g>");
                for (cx, cy, title, laid) in children {
                    let (bx, by) = (x + cx, y + cy);
                    let bw = laid.w.max(text_width(title)) + 2.0 * PAD;
                    let bh = laid.h + 2.0 * PAD + 18.0;
                    let _ = write!(
                        out,
                        "<g class=\"block\"><rect x=\"{bx:.1}\" y=\"{by:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\" rx=\"4\" fill=\"#ffffff\" stroke=\"#aab7b8\" stroke-dasharray=\"4,3\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#5f6b7a\">{}</text></g>",
                        bx + 8.0,
                        by + 14.0,
                        xml(title)
                    );
                    let inner_x = bx + (bw - laid.w) / 2.0;
                    draw(out, &laid.items, inner_x, by + 18.0 + PAD);
                }
            }
        }
    }
}
