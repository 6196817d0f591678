//! A report as a list of blocks, rendered twice: Markdown (`report.md`) and self-contained
//! HTML (`report.html`, images beside it in the same folder).

/// One piece of the report.
#[derive(Debug, Clone)]
pub enum Block {
    /// A heading of level 1..=3.
    Heading(usize, String),
    /// A paragraph of plain text (bold when the flag is set).
    Para(String, bool),
    /// A bulleted list.
    Bullets(Vec<String>),
    /// A table: header and rows of cells; a cell that is one Markdown link, `[text](href)`, is
    /// a link in both renderings.
    Table(Vec<String>, Vec<Vec<String>>),
    /// Images side by side: (relative path, caption).
    Images(Vec<(String, String)>),
}

/// Markdown text of `blocks`.
pub fn markdown(blocks: &[Block]) -> String {
    let mut s = String::new();
    for b in blocks {
        match b {
            Block::Heading(level, text) => {
                s += &format!("{} {text}\n\n", "#".repeat(*level));
            }
            Block::Para(text, bold) => match bold {
                true => s += &format!("**{text}**\n\n"),
                false => s += &format!("{text}\n\n"),
            },
            Block::Bullets(items) => {
                for i in items {
                    s += &format!("- {i}\n");
                }
                s += "\n";
            }
            Block::Table(header, rows) => {
                let cell = |c: &String| c.replace('|', "\\|");
                s += &format!(
                    "| {} |\n",
                    header.iter().map(cell).collect::<Vec<_>>().join(" | ")
                );
                s += &format!("|{}\n", "---|".repeat(header.len()));
                for r in rows {
                    s += &format!(
                        "| {} |\n",
                        r.iter().map(cell).collect::<Vec<_>>().join(" | ")
                    );
                }
                s += "\n";
            }
            Block::Images(images) => {
                for (src, caption) in images {
                    s += &format!("![{caption}]({src}) ");
                }
                s += "\n\n";
            }
        }
    }
    s
}

/// A table cell in HTML: a whole-cell Markdown link becomes an anchor, anything else text.
fn cell_html(c: &str) -> String {
    let link = c
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|inner| inner.rsplit_once("]("))
        .filter(|(text, href)| !text.contains(['[', ']']) && !href.contains(['(', ')']));
    match link {
        Some((text, href)) => format!("<a href=\"{}\">{}</a>", esc(href), esc(text)),
        None => esc(c),
    }
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}\
td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}\
.images{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;max-width:540px}figcaption{font-size:0.85em;color:#555;text-align:center}\
img{image-rendering:pixelated;max-width:100%}.conclusion{font-weight:bold;background:#f6f8ff;padding:8px;border-left:4px solid #36c}\
.broken{color:#b00;font-weight:bold}";

/// Marks images that fail to load (visibly, and in `data-broken` on the body for checkers).
const CHECK_IMAGES: &str = "window.addEventListener('load',function(){var imgs=Array.prototype.slice.call(document.images);\
var broken=imgs.filter(function(i){return !(i.complete&&i.naturalWidth>0);});\
broken.forEach(function(i){var s=document.createElement('span');s.className='broken';\
s.textContent='missing image: '+i.getAttribute('src');i.replaceWith(s);});\
document.body.setAttribute('data-images',imgs.length);document.body.setAttribute('data-broken',broken.length);});";

/// A standalone HTML page of `blocks`.
pub fn html(title: &str, blocks: &[Block]) -> String {
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>{STYLE}</style><script>{CHECK_IMAGES}</script></head>\n<body>\n",
        esc(title)
    );
    for b in blocks {
        match b {
            Block::Heading(level, text) => s += &format!("<h{level}>{}</h{level}>\n", esc(text)),
            Block::Para(text, bold) => match bold {
                true => s += &format!("<p class=\"conclusion\">{}</p>\n", esc(text)),
                false => s += &format!("<p>{}</p>\n", esc(text)),
            },
            Block::Bullets(items) => {
                s += "<ul>\n";
                for i in items {
                    s += &format!("<li>{}</li>\n", esc(i));
                }
                s += "</ul>\n";
            }
            Block::Table(header, rows) => {
                s += "<table><tr>";
                for h in header {
                    s += &format!("<th>{}</th>", esc(h));
                }
                s += "</tr>\n";
                for r in rows {
                    s += "<tr>";
                    for c in r {
                        s += &format!("<td>{}</td>", cell_html(c));
                    }
                    s += "</tr>\n";
                }
                s += "</table>\n";
            }
            Block::Images(images) => {
                s += "<div class=\"images\">\n";
                for (src, caption) in images {
                    s += &format!(
                        "<figure><img src=\"{}\" alt=\"{}\"><figcaption>{}</figcaption></figure>\n",
                        esc(src),
                        esc(caption),
                        esc(caption)
                    );
                }
                s += "</div>\n";
            }
        }
    }
    s + "</body></html>\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_renderings_carry_every_block_and_html_is_escaped() {
        let blocks = vec![
            Block::Heading(1, "R <1>".into()),
            Block::Para("a & b".into(), true),
            Block::Bullets(vec!["x".into()]),
            Block::Table(
                vec!["k".into(), "v|w".into()],
                vec![vec!["relu".into(), "0.5".into()]],
            ),
            Block::Images(vec![("media/a.png".into(), "cap".into())]),
        ];
        let md = markdown(&blocks);
        assert!(md.contains("# R <1>") && md.contains("**a & b**") && md.contains("- x"));
        assert!(md.contains("| k | v\\|w |") && md.contains("| relu | 0.5 |"));
        assert!(md.contains("![cap](media/a.png)"));
        let h = html("t", &blocks);
        assert!(h.contains("<h1>R &lt;1&gt;</h1>") && h.contains("a &amp; b"));
        assert!(h.contains("<td>relu</td><td>0.5</td>") && h.contains("src=\"media/a.png\""));
        assert_eq!(
            cell_html("[baseline](baseline/report.html)"),
            "<a href=\"baseline/report.html\">baseline</a>"
        );
        // Not a whole-cell link: text, escaped.
        assert_eq!(cell_html("Δ = 1 [95% CI 0, 2]"), "Δ = 1 [95% CI 0, 2]");
        assert_eq!(cell_html("[a](b) and <c>"), "[a](b) and &lt;c&gt;");
    }
}
